package keyring

import (
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strings"
)

// Fernet (https://github.com/fernet/spec, version 0x80) is only read, never
// written: it is the format of values stored by the Python service.
//
//	token = 0x80 ‖ timestamp (8) ‖ IV (16) ‖ AES-128-CBC ciphertext ‖ HMAC-SHA256 (32)
//
// The HMAC, under the signing key, covers everything before it.

const (
	fernetVersion  = 0x80
	fernetHeader   = 1 + 8 + 16
	fernetMACSize  = sha256.Size
	fernetBlockLen = 16
)

var errFernet = errors.New("fernet: invalid token")

// legacyToken turns a stored legacy value into raw Fernet token bytes. The
// Python service stored base64url(token) where the token is itself base64url
// text; a bare token is accepted too.
func legacyToken(stored string) ([]byte, bool) {
	outer, ok := decodeBase64URL(strings.TrimSpace(stored))
	if !ok || len(outer) == 0 {
		return nil, false
	}
	if outer[0] == fernetVersion {
		return outer, true
	}
	inner, ok := decodeBase64URL(string(outer))
	if !ok || len(inner) == 0 || inner[0] != fernetVersion {
		return nil, false
	}
	return inner, true
}

// decodeBase64URL accepts base64url with or without padding.
func decodeBase64URL(s string) ([]byte, bool) {
	if b, err := base64.URLEncoding.DecodeString(s); err == nil {
		return b, true
	}
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return b, true
	}
	return nil, false
}

// fernetOpen verifies token's HMAC in constant time and only then decrypts
// it. The timestamp is not checked: the stored values never expired.
func fernetOpen(token, signKey []byte, block cipher.Block) ([]byte, error) {
	if len(token) < fernetHeader+fernetBlockLen+fernetMACSize || token[0] != fernetVersion {
		return nil, errFernet
	}
	body, mac := token[:len(token)-fernetMACSize], token[len(token)-fernetMACSize:]
	h := hmac.New(sha256.New, signKey)
	h.Write(body)
	if subtle.ConstantTimeCompare(h.Sum(nil), mac) != 1 {
		return nil, errFernet
	}
	iv, ciphertext := body[1+8:fernetHeader], body[fernetHeader:]
	if len(ciphertext)%fernetBlockLen != 0 {
		return nil, errFernet
	}
	plain := make([]byte, len(ciphertext))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, ciphertext)
	return unpadPKCS7(plain)
}

func unpadPKCS7(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, errFernet
	}
	n := int(b[len(b)-1])
	if n == 0 || n > fernetBlockLen || n > len(b) {
		return nil, errFernet
	}
	for _, c := range b[len(b)-n:] {
		if int(c) != n {
			return nil, errFernet
		}
	}
	return b[:len(b)-n], nil
}
