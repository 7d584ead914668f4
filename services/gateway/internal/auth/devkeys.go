package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/nonefinity/backend/contracts"
)

// DevIssuer is the iss of tokens minted by the gateway itself in dev mode
// (APP_ENV=dev without CLERK_ISSUER). It is deliberately not a URL: nothing
// outside this gateway should trust these tokens.
const DevIssuer = "nonefinity-dev"

// DevKeyFile is where the dev signing key lives under DATA_DIR.
const DevKeyFile = "gateway/dev-jwt-key.pem"

const devKeyBits = 2048

// DevKeys is the gateway's own RS256 key for dev mode: generated once,
// persisted under DATA_DIR (so tokens survive restarts), published as a JWKS
// and used to mint tokens that the ordinary Verifier checks.
type DevKeys struct {
	private   *rsa.PrivateKey
	kid       string
	jwks      []byte
	roleClaim []string
	now       func() time.Time
}

// LoadDevKeys reads the key from dataDir/DevKeyFile, generating and storing it
// (mode 0600) on first use. roleClaim is the dotted path the admin role is
// written to (CLERK_ROLE_CLAIM; empty means DefaultRoleClaim), so the
// resolver finds it.
func LoadDevKeys(dataDir, roleClaim string) (*DevKeys, error) {
	path := filepath.Join(dataDir, filepath.FromSlash(DevKeyFile))
	key, err := readDevKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = createDevKey(path)
	}
	if err != nil {
		return nil, err
	}
	kid := rsaThumbprint(&key.PublicKey)
	jwks, err := json.Marshal(struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{rsaJWK(kid, &key.PublicKey)}})
	if err != nil {
		return nil, fmt.Errorf("encode dev jwks: %w", err)
	}
	return &DevKeys{
		private:   key,
		kid:       kid,
		jwks:      jwks,
		roleClaim: NewRoleResolver(roleClaim, nil).claimPath,
		now:       time.Now,
	}, nil
}

func readDevKey(path string) (*rsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err // fs.ErrNotExist is how the caller knows to create one
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("dev jwt key %s: not a PEM PRIVATE KEY (delete it to generate a new one)", path)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("dev jwt key %s: %w", path, err)
	}
	key, ok := parsed.(*rsa.PrivateKey)
	if !ok || key.N.BitLen() < minRSABits {
		return nil, fmt.Errorf("dev jwt key %s: not an RSA key of at least %d bits", path, minRSABits)
	}
	return key, nil
}

// createDevKey generates a key and publishes it with a hard link from a
// temporary file, so two gateways starting at once on one DATA_DIR end up
// with the same key instead of overwriting each other's.
func createDevKey(path string) (*rsa.PrivateKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, devKeyBits)
	if err != nil {
		return nil, fmt.Errorf("generate dev jwt key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode dev jwt key: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("dev jwt key dir: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".dev-jwt-key-*.pem")
	if err != nil {
		return nil, fmt.Errorf("dev jwt key: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	// CreateTemp already uses 0600; the chmod documents it and guards
	// against a future change of that default.
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return nil, fmt.Errorf("dev jwt key: %w", err)
	}
	if err := pem.Encode(tmp, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		_ = tmp.Close()
		return nil, fmt.Errorf("write dev jwt key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return nil, fmt.Errorf("write dev jwt key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("write dev jwt key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readDevKey(path) // another process won the race
		}
		return nil, fmt.Errorf("store dev jwt key: %w", err)
	}
	return key, nil
}

// KeyID is the kid of the dev key (its RFC 7638 thumbprint).
func (d *DevKeys) KeyID() string { return d.kid }

// JWKS is the public JWKS document for the dev key.
func (d *DevKeys) JWKS() []byte { return append([]byte(nil), d.jwks...) }

// JWKSHandler serves the JWKS document (the router mounts it at
// /.well-known/jwks.json).
func (d *DevKeys) JWKSHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		if r.Method == http.MethodGet {
			_, _ = w.Write(d.jwks)
		}
	})
}

// KeySource returns a key source holding only the dev key, built from the
// published JWKS document, for a Verifier with issuer DevIssuer.
func (d *DevKeys) KeySource() (*StaticKeys, error) { return NewStaticKeys(d.jwks) }

// Mint signs an RS256 session token for clerkID that lives for ttl. role is
// "", contracts.RoleUser or contracts.RoleAdmin; admin is written to the role
// claim path. There is no azp, like a token made through Clerk's Backend API.
func (d *DevKeys) Mint(clerkID, role string, ttl time.Duration) (token, sessionID string, err error) {
	clerkID = strings.TrimSpace(clerkID)
	if clerkID == "" {
		return "", "", badMint("clerk_id", "required")
	}
	if role != "" && role != contracts.RoleUser && role != contracts.RoleAdmin {
		return "", "", badMint("role", "must be user or admin")
	}
	if ttl <= 0 {
		return "", "", badMint("ttl", "must be positive")
	}
	sessionID, err = newDevSessionID()
	if err != nil {
		return "", "", err
	}
	now := d.now().Truncate(time.Second)
	claims := jwt.MapClaims{
		"iss": DevIssuer,
		"sub": clerkID,
		"sid": sessionID,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(ttl).Unix(),
	}
	if role == contracts.RoleAdmin {
		setPath(claims, d.roleClaim, contracts.RoleAdmin)
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = d.kid
	token, err = t.SignedString(d.private)
	if err != nil {
		return "", "", fmt.Errorf("sign dev token: %w", err)
	}
	return token, sessionID, nil
}

func newDevSessionID() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("dev session id: %w", err)
	}
	return "sess_dev_" + hex.EncodeToString(b[:]), nil
}
