// Package keyring encrypts and decrypts the stored provider API keys.
//
// Every key material is derived once, when the Keyring is built: PBKDF2-SHA256
// over CREDENTIAL_SECRET_KEY with CREDENTIAL_ENCRYPTION_SALT, then HKDF-SHA256
// separates the AES-256-GCM key and the fingerprint key, so no request pays
// for the slow KDF.
//
// Stored values are versioned:
//
//	v2:<key id>:<base64url(nonce ‖ AES-256-GCM ciphertext ‖ tag)>
//
// with a fresh 96-bit nonce per write and the credential id and owner id as
// additional data, so a ciphertext copied onto another record or another
// user does not decrypt. Values written by the Python service (base64url of a
// Fernet token whose key is the PBKDF2 output itself) are still read; the
// service re-encrypts them to v2 on the next write or rotation. Secrets that
// were current before (CREDENTIAL_PREVIOUS_SECRET_KEYS) are kept for
// decryption only.
package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Algorithm names the cipher of current writes, as encryption health reports it.
const Algorithm = "AES-256-GCM"

// LegacyKeyID is the key id reported for values in the Python service's
// Fernet format, which carry no key id of their own.
const LegacyKeyID = "legacy-fernet"

// MinProductionIterations is the PBKDF2 iteration count below which only a
// development environment may run.
const MinProductionIterations = 100000

const (
	v2Prefix = "v2:"
	// Labels keep the keys HKDF derives from one PBKDF2 output apart.
	labelAES         = "nonefinity/credential/aes-256-gcm/v2"
	labelFingerprint = "nonefinity/credential/key-fingerprint/v1"
	labelKeyID       = "nonefinity/credential/key-id/v1"
	aadPrefix        = "nonefinity/credential/v2"
	keyIDBytes       = 6 // 12 hex characters
)

// ErrUndecryptable is returned for a value that no known key decrypts, or
// that is not in a known format. It never says more: the value may be a
// secret.
var ErrUndecryptable = errors.New("stored key cannot be decrypted with the configured secrets")

// Options are the key material and KDF parameters.
type Options struct {
	// Secret is CREDENTIAL_SECRET_KEY: new values are encrypted under it.
	Secret string
	// PreviousSecrets (CREDENTIAL_PREVIOUS_SECRET_KEYS) still decrypt.
	PreviousSecrets []string
	// Salt is CREDENTIAL_ENCRYPTION_SALT, shared by every secret.
	Salt string
	// Iterations is CREDENTIAL_KDF_ITERATIONS.
	Iterations int
}

// Binding is what a ciphertext is bound to: the record and its owner.
type Binding struct {
	CredentialID string
	OwnerID      string
}

func (b Binding) aad() []byte {
	// NUL cannot occur in either id, so the encoding is unambiguous.
	return []byte(aadPrefix + "\x00" + b.CredentialID + "\x00" + b.OwnerID)
}

// key is everything derived from one secret.
type key struct {
	id          string
	gcm         cipher.AEAD
	fernetSign  []byte
	fernetCrypt cipher.Block
	fingerprint []byte
}

// Keyring holds the current key and the previous ones.
type Keyring struct {
	current    *key
	all        []*key // current first
	byID       map[string]*key
	iterations int
}

// New derives every key. It is slow on purpose (PBKDF2) and meant to run
// once at startup.
func New(opts Options) (*Keyring, error) {
	if opts.Secret == "" {
		return nil, errors.New("keyring: the secret key is empty")
	}
	if opts.Salt == "" {
		return nil, errors.New("keyring: the encryption salt is empty")
	}
	if opts.Iterations < 1 {
		return nil, errors.New("keyring: the KDF iteration count must be positive")
	}
	kr := &Keyring{byID: map[string]*key{}, iterations: opts.Iterations}
	secrets := append([]string{opts.Secret}, opts.PreviousSecrets...)
	for i, s := range secrets {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		k, err := deriveKey(s, opts.Salt, opts.Iterations)
		if err != nil {
			// The error names the position only, never the secret.
			return nil, fmt.Errorf("keyring: derive key %d: %w", i, err)
		}
		if _, dup := kr.byID[k.id]; dup {
			continue
		}
		kr.byID[k.id] = k
		kr.all = append(kr.all, k)
		if i == 0 {
			kr.current = k
		}
	}
	return kr, nil
}

func deriveKey(secret, salt string, iterations int) (*key, error) {
	master, err := pbkdf2.Key(sha256.New, secret, []byte(salt), iterations, 32)
	if err != nil {
		return nil, err
	}
	aesKey, err := hkdf.Key(sha256.New, master, nil, labelAES, 32)
	if err != nil {
		return nil, err
	}
	fp, err := hkdf.Key(sha256.New, master, nil, labelFingerprint, 32)
	if err != nil {
		return nil, err
	}
	idMac := hmac.New(sha256.New, aesKey)
	idMac.Write([]byte(labelKeyID))
	block, err := aes.NewCipher(aesKey)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	// The Python service used the PBKDF2 output directly as its Fernet key:
	// signing key first, encryption key second.
	fernetBlock, err := aes.NewCipher(master[16:])
	if err != nil {
		return nil, err
	}
	return &key{
		id:          hex.EncodeToString(idMac.Sum(nil)[:keyIDBytes]),
		gcm:         gcm,
		fernetSign:  master[:16],
		fernetCrypt: fernetBlock,
		fingerprint: fp,
	}, nil
}

// KeyID is the id of the current key, as written into new values.
func (kr *Keyring) KeyID() string { return kr.current.id }

// Iterations is the PBKDF2 iteration count the keys were derived with.
func (kr *Keyring) Iterations() int { return kr.iterations }

// Algorithm is the cipher of new values.
func (kr *Keyring) Algorithm() string { return Algorithm }

// Encrypt seals plaintext under the current key, bound to b.
func (kr *Keyring) Encrypt(plaintext string, b Binding) (string, error) {
	k := kr.current
	nonce := make([]byte, k.gcm.NonceSize(), k.gcm.NonceSize()+len(plaintext)+k.gcm.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("keyring: read nonce: %w", err)
	}
	sealed := k.gcm.Seal(nonce, nonce, []byte(plaintext), b.aad())
	return v2Prefix + k.id + ":" + base64.RawURLEncoding.EncodeToString(sealed), nil
}

// Decrypt opens a stored value bound to b, whichever known key and format
// it was written with.
func (kr *Keyring) Decrypt(stored string, b Binding) (string, error) {
	if rest, ok := strings.CutPrefix(stored, v2Prefix); ok {
		return kr.decryptV2(rest, b)
	}
	return kr.decryptLegacy(stored)
}

func (kr *Keyring) decryptV2(rest string, b Binding) (string, error) {
	id, payload, ok := strings.Cut(rest, ":")
	if !ok {
		return "", ErrUndecryptable
	}
	k, known := kr.byID[id]
	if !known {
		return "", ErrUndecryptable
	}
	sealed, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil || len(sealed) < k.gcm.NonceSize()+k.gcm.Overhead() {
		return "", ErrUndecryptable
	}
	n := k.gcm.NonceSize()
	plain, err := k.gcm.Open(nil, sealed[:n], sealed[n:], b.aad())
	if err != nil {
		return "", ErrUndecryptable
	}
	return string(plain), nil
}

func (kr *Keyring) decryptLegacy(stored string) (string, error) {
	token, ok := legacyToken(stored)
	if !ok {
		return "", ErrUndecryptable
	}
	for _, k := range kr.all {
		if plain, err := fernetOpen(token, k.fernetSign, k.fernetCrypt); err == nil {
			return string(plain), nil
		}
	}
	return "", ErrUndecryptable
}

// KeyIDOf names the key a stored value was written with: a v2 key id (known
// or not) or LegacyKeyID. It does not decrypt.
func KeyIDOf(stored string) string {
	if rest, ok := strings.CutPrefix(stored, v2Prefix); ok {
		id, _, _ := strings.Cut(rest, ":")
		return id
	}
	return LegacyKeyID
}

// IsCurrent reports whether a stored value is already under the current key
// in the current format.
func (kr *Keyring) IsCurrent(stored string) bool {
	return strings.HasPrefix(stored, v2Prefix+kr.current.id+":")
}

// Fingerprint is a keyed hash of a plaintext key: equal keys have equal
// fingerprints under the same secret, and nothing about the key can be
// learned from it without the secret.
func (kr *Keyring) Fingerprint(plaintext string) string {
	m := hmac.New(sha256.New, kr.current.fingerprint)
	m.Write([]byte(plaintext))
	return hex.EncodeToString(m.Sum(nil))
}

// SelfTest encrypts and decrypts a random value, as encryption health
// reports it.
func (kr *Keyring) SelfTest() error {
	var probe [24]byte
	if _, err := rand.Read(probe[:]); err != nil {
		return fmt.Errorf("keyring self test: %w", err)
	}
	plain := base64.RawURLEncoding.EncodeToString(probe[:])
	b := Binding{CredentialID: "self-test", OwnerID: "self-test"}
	sealed, err := kr.Encrypt(plain, b)
	if err != nil {
		return err
	}
	got, err := kr.Decrypt(sealed, b)
	if err != nil {
		return fmt.Errorf("keyring self test: %w", err)
	}
	if got != plain {
		return errors.New("keyring self test: round trip changed the value")
	}
	return nil
}
