// Package keyringbench lets the make bench harness (services/all/cmd/bench)
// time the credential service's decryption next to its floor, the
// AES-256-GCM open of a value of the same size alone; the keyring itself is
// internal to this module. No service imports it.
package keyringbench

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"

	"github.com/nonefinity/backend/services/credential/internal/keyring"
)

// apiKey is a provider key of a usual length.
const apiKey = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH"

// Decrypters returns one decryption of a stored credential value as the
// service does it (parse the versioned value, pick the key, bind to the
// record and owner, open) and the floor: the same cipher opening a sealed
// value of the same size with additional data of the same size.
func Decrypters() (service, floor func() error, err error) {
	kr, err := keyring.New(keyring.Options{Secret: "bench-secret", Salt: "bench-salt", Iterations: 1000})
	if err != nil {
		return nil, nil, err
	}
	bind := keyring.Binding{CredentialID: "65f2a1b3c4d5e6f708192a3c", OwnerID: "65f2a1b3c4d5e6f708190001"}
	stored, err := kr.Encrypt(apiKey, bind)
	if err != nil {
		return nil, nil, err
	}
	service = func() error {
		plain, err := kr.Decrypt(stored, bind)
		if err == nil && plain != apiKey {
			err = errors.New("keyringbench: decrypted a different key")
		}
		return err
	}

	key := make([]byte, 32)
	nonce := make([]byte, 12)
	if _, err := rand.Read(key); err != nil {
		return nil, nil, err
	}
	if _, err := rand.Read(nonce); err != nil {
		return nil, nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, nil, err
	}
	aad := []byte("nonefinity/credential/v2\x00" + bind.CredentialID + "\x00" + bind.OwnerID)
	sealed := gcm.Seal(nil, nonce, []byte(apiKey), aad)
	floor = func() error {
		_, err := gcm.Open(nil, nonce, sealed, aad)
		return err
	}
	return service, floor, nil
}
