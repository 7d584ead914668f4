// Package legacytest writes values in the Python service's format for tests:
// base64url of a Fernet token (https://github.com/fernet/spec) whose key is
// PBKDF2-SHA256(secret, salt, iterations, 32 bytes). The service itself only
// ever reads this format.
package legacytest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"testing"
	"time"
)

// FernetToken builds a token by the spec's "Generating" steps with a
// 32-byte key (signing key ‖ encryption key) and returns it base64url
// encoded, as the cryptography package does.
func FernetToken(t testing.TB, key32, msg []byte, now time.Time) string {
	t.Helper()
	if len(key32) != 32 {
		t.Fatalf("fernet key is %d bytes, want 32", len(key32))
	}
	iv := make([]byte, aes.BlockSize)
	if _, err := rand.Read(iv); err != nil {
		t.Fatal(err)
	}
	// PKCS #7: pad with n bytes of value n, 1 <= n <= 16.
	pad := aes.BlockSize - len(msg)%aes.BlockSize
	padded := append([]byte(nil), msg...)
	for range pad {
		padded = append(padded, byte(pad))
	}
	block, err := aes.NewCipher(key32[16:])
	if err != nil {
		t.Fatal(err)
	}
	ct := make([]byte, len(padded))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, padded)
	token := []byte{0x80}
	token = binary.BigEndian.AppendUint64(token, uint64(now.Unix()))
	token = append(token, iv...)
	token = append(token, ct...)
	mac := hmac.New(sha256.New, key32[:16])
	mac.Write(token)
	token = mac.Sum(token)
	return base64.URLEncoding.EncodeToString(token)
}

// PythonValue is what the Python service stored for plaintext.
func PythonValue(t testing.TB, secret, salt string, iterations int, plaintext string) string {
	t.Helper()
	key, err := pbkdf2.Key(sha256.New, secret, []byte(salt), iterations, 32)
	if err != nil {
		t.Fatal(err)
	}
	return base64.URLEncoding.EncodeToString([]byte(FernetToken(t, key, []byte(plaintext), time.Now())))
}
