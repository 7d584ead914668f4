package credential

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"github.com/nonefinity/backend/services/credential/internal/keyring"
)

// Bounds of GenerateKey, in bytes.
const (
	GenerateKeyMin     = 16
	GenerateKeyMax     = 128
	GenerateKeyDefault = 32
)

// The canary is a known value stored encrypted next to the credentials. At
// startup it tells a wrong secret apart from a broken record, before any
// request fails on it.
const canaryPlaintext = "nonefinity credential canary v1"

var canaryBinding = keyring.Binding{CredentialID: "canary", OwnerID: "credential-service"}

const canaryAdvice = "CREDENTIAL_SECRET_KEY, CREDENTIAL_ENCRYPTION_SALT or CREDENTIAL_KDF_ITERATIONS differ from the ones the stored keys were encrypted with; " +
	"restore them, or while changing the secret list the old one in CREDENTIAL_PREVIOUS_SECRET_KEYS"

// CheckCanary proves at startup that the configured secrets decrypt what is
// stored. With no canary yet (a new database, or one the Python service
// filled) one stored record must decrypt before a canary is written.
func (s *Service) CheckCanary(ctx context.Context) error {
	stored, found, err := s.store.LoadCanary(ctx)
	if err != nil {
		return fmt.Errorf("load the encryption canary: %w", err)
	}
	if found {
		plain, err := s.cipher.Decrypt(stored, canaryBinding)
		if err != nil || plain != canaryPlaintext {
			return fmt.Errorf("%w: %s", ErrCanaryMismatch, canaryAdvice)
		}
		if s.cipher.IsCurrent(stored) {
			return nil
		}
		// Opened with a previous secret: what is written from now on is
		// under the current one, so that is the one to vouch for.
		return s.writeCanary(ctx)
	}
	rec, found, err := s.store.SampleKeyRecord(ctx)
	if err != nil {
		return fmt.Errorf("read a stored key to check the secret: %w", err)
	}
	if found {
		if _, err := s.cipher.Decrypt(rec.Ciphertext, keyring.Binding{CredentialID: rec.ID, OwnerID: rec.OwnerID}); err != nil {
			return fmt.Errorf("%w (no canary yet, and stored credential %s does not decrypt): %s", ErrCanaryMismatch, rec.ID, canaryAdvice)
		}
	}
	return s.writeCanary(ctx)
}

func (s *Service) writeCanary(ctx context.Context) error {
	sealed, err := s.cipher.Encrypt(canaryPlaintext, canaryBinding)
	if err != nil {
		return fmt.Errorf("encrypt the canary: %w", err)
	}
	if err := s.store.SaveCanary(ctx, sealed, s.clock()); err != nil {
		return fmt.Errorf("store the canary: %w", err)
	}
	return nil
}

// EncryptionHealth runs the round-trip self test and checks the canary.
// With instanceWide (an admin asks) it also reports how many records of all
// users are still on old keys and how rotation stands; others do not learn
// how many keys the instance holds.
func (s *Service) EncryptionHealth(ctx context.Context, instanceWide bool) (EncryptionHealth, error) {
	h := EncryptionHealth{
		Algorithm: s.cipher.Algorithm(), Iterations: s.cipher.Iterations(), KeyID: s.cipher.KeyID(),
		Timestamp: s.clock(),
	}
	if err := s.cipher.SelfTest(); err != nil {
		s.log.ErrorContext(ctx, "encryption self test failed", "error", err)
		h.Error = "round-trip test failed"
	} else {
		h.TestPassed = true
	}
	if instanceWide {
		n, err := s.store.CountNotOnKey(ctx, s.cipher.KeyID())
		if err != nil {
			return EncryptionHealth{}, err
		}
		h.RecordsOnOldKeys = &n
		p, found, err := s.store.LoadRotation(ctx)
		if err != nil {
			return EncryptionHealth{}, err
		}
		if found {
			h.Rotation = &p
		}
	}
	stored, found, err := s.store.LoadCanary(ctx)
	if err != nil {
		return EncryptionHealth{}, err
	}
	if found {
		if plain, err := s.cipher.Decrypt(stored, canaryBinding); err != nil || plain != canaryPlaintext {
			h.Error = "the stored canary does not decrypt with the configured secrets"
		}
	}
	h.Healthy = h.TestPassed && h.Error == ""
	return h, nil
}

// GenerateKey returns length random bytes (0 means the default),
// base64url encoded, for use as a new CREDENTIAL_SECRET_KEY.
func GenerateKey(length int) (string, int, error) {
	if length == 0 {
		length = GenerateKeyDefault
	}
	if length < GenerateKeyMin || length > GenerateKeyMax {
		return "", 0, invalid("length", "must be between %d and %d", GenerateKeyMin, GenerateKeyMax)
	}
	b := make([]byte, length)
	if _, err := rand.Read(b); err != nil {
		return "", 0, fmt.Errorf("read random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), length, nil
}
