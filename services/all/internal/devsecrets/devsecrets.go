// Package devsecrets keeps the secrets a development run makes for itself
// (credential encryption key and salt, S3 keys) in one file under its data
// directory, so encrypted credentials and stored objects stay readable
// across restarts. make run and make run-split use it.
package devsecrets

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Secrets are generated on the first start and kept in File.
type Secrets struct {
	CredentialSecretKey string `json:"credential_secret_key"`
	CredentialSalt      string `json:"credential_encryption_salt"`
	S3AccessKey         string `json:"s3_access_key"`
	S3SecretKey         string `json:"s3_secret_key"`
}

// File is the secrets file's name under the data directory.
const File = "dev-secrets.json"

// LoadOrCreate reads dataDir/File, creating it (0600) with fresh random
// values when it does not exist. created reports the latter.
func LoadOrCreate(dataDir string) (s Secrets, created bool, err error) {
	path := filepath.Join(dataDir, File)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &s); err != nil {
			return s, false, fmt.Errorf("read %s: %w", path, err)
		}
		if s.CredentialSecretKey == "" || s.CredentialSalt == "" || s.S3AccessKey == "" || s.S3SecretKey == "" {
			return s, false, fmt.Errorf("read %s: incomplete; delete it only if no data depends on it", path)
		}
		return s, false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return s, false, fmt.Errorf("read %s: %w", path, err)
	}
	s = Secrets{
		CredentialSecretKey: Token(32),
		CredentialSalt:      Token(16),
		S3AccessKey:         "NF" + randomHexish(10),
		S3SecretKey:         Token(30),
	}
	b, err = json.MarshalIndent(s, "", "  ")
	if err != nil {
		return s, false, err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return s, false, fmt.Errorf("write %s: %w", path, err)
	}
	return s, true, nil
}

// Token is n random bytes, base64url without padding.
func Token(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// randomHexish is an access key id: S3 access keys are conventionally
// upper-case alphanumerics.
func randomHexish(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
