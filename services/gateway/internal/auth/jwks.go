package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
)

// The only algorithms a session token may use. Everything else (none, HS*,
// PS*, RS384…) is refused before any key is looked up.
const (
	AlgRS256 = "RS256"
	AlgES256 = "ES256"
)

// RSA moduli outside this range are not accepted from a JWKS: smaller ones are
// weak, larger ones only make verification slow.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

// VerificationKey is one public key from a JWKS, bound to the single
// algorithm it may verify (derived from its kty/crv and checked against its
// own "alg" member when that is present).
type VerificationKey struct {
	ID        string
	Algorithm string           // AlgRS256 or AlgES256
	Public    crypto.PublicKey // *rsa.PublicKey or *ecdsa.PublicKey
}

// KeySource finds the key a token names in its "kid" header.
//
// Key returns an error wrapping ErrKeysUnavailable when no key set could be
// obtained at all, and one wrapping ErrInvalidToken when a key set is known but
// has no key with that id.
type KeySource interface {
	Key(ctx context.Context, kid string) (VerificationKey, error)
}

// keySet maps kid to key. It is never modified once built, so it is shared
// between goroutines without locking.
type keySet map[string]VerificationKey

// jwk is the subset of RFC 7517/7518 members we read.
type jwk struct {
	Kty    string   `json:"kty"`
	Kid    string   `json:"kid"`
	Use    string   `json:"use,omitempty"`
	Alg    string   `json:"alg,omitempty"`
	KeyOps []string `json:"key_ops,omitempty"`
	N      string   `json:"n,omitempty"`
	E      string   `json:"e,omitempty"`
	Crv    string   `json:"crv,omitempty"`
	X      string   `json:"x,omitempty"`
	Y      string   `json:"y,omitempty"`
}

type jwksDocument struct {
	Keys []json.RawMessage `json:"keys"`
}

// parseJWKS reads a JWKS document and keeps the keys we can verify with.
// Keys we cannot use (encryption keys, other curves or algorithms, malformed
// or weak keys, a repeated kid) are skipped and counted rather than failing
// the whole set, so one odd key published next to good ones does not lock
// everyone out. A document without a single usable key is an error.
func parseJWKS(data []byte) (keys keySet, skipped int, err error) {
	var doc jwksDocument
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, 0, fmt.Errorf("decode jwks: %w", err)
	}
	keys = make(keySet, len(doc.Keys))
	for _, raw := range doc.Keys {
		var k jwk
		if err := json.Unmarshal(raw, &k); err != nil {
			skipped++
			continue
		}
		vk, err := k.verificationKey()
		if err != nil {
			skipped++
			continue
		}
		if _, dup := keys[vk.ID]; dup {
			skipped++
			continue
		}
		keys[vk.ID] = vk
	}
	if len(keys) == 0 {
		return nil, skipped, fmt.Errorf("jwks has no usable RS256 or ES256 signing key (%d skipped)", skipped)
	}
	return keys, skipped, nil
}

func (k jwk) verificationKey() (VerificationKey, error) {
	if k.Kid == "" {
		return VerificationKey{}, errors.New("jwk without kid")
	}
	if k.Use != "" && k.Use != "sig" {
		return VerificationKey{}, fmt.Errorf("jwk %q is not a signing key", k.Kid)
	}
	if len(k.KeyOps) > 0 && !slices.Contains(k.KeyOps, "verify") {
		return VerificationKey{}, fmt.Errorf("jwk %q does not allow verify", k.Kid)
	}
	switch k.Kty {
	case "RSA":
		if k.Alg != "" && k.Alg != AlgRS256 {
			return VerificationKey{}, fmt.Errorf("jwk %q: unsupported alg %q", k.Kid, k.Alg)
		}
		pub, err := k.rsaPublicKey()
		if err != nil {
			return VerificationKey{}, err
		}
		return VerificationKey{ID: k.Kid, Algorithm: AlgRS256, Public: pub}, nil
	case "EC":
		if k.Crv != "P-256" {
			return VerificationKey{}, fmt.Errorf("jwk %q: unsupported curve %q", k.Kid, k.Crv)
		}
		if k.Alg != "" && k.Alg != AlgES256 {
			return VerificationKey{}, fmt.Errorf("jwk %q: unsupported alg %q", k.Kid, k.Alg)
		}
		pub, err := k.p256PublicKey()
		if err != nil {
			return VerificationKey{}, err
		}
		return VerificationKey{ID: k.Kid, Algorithm: AlgES256, Public: pub}, nil
	}
	return VerificationKey{}, fmt.Errorf("jwk %q: unsupported kty %q", k.Kid, k.Kty)
}

func (k jwk) rsaPublicKey() (*rsa.PublicKey, error) {
	n, err := base64.RawURLEncoding.DecodeString(k.N)
	if err != nil || len(n) == 0 || n[0] == 0 {
		return nil, fmt.Errorf("jwk %q: bad modulus", k.Kid)
	}
	e, err := base64.RawURLEncoding.DecodeString(k.E)
	if err != nil || len(e) == 0 || len(e) > 4 || e[0] == 0 {
		return nil, fmt.Errorf("jwk %q: bad exponent", k.Kid)
	}
	exp := 0
	for _, b := range e {
		exp = exp<<8 | int(b)
	}
	if exp < 3 || exp%2 == 0 {
		return nil, fmt.Errorf("jwk %q: bad exponent", k.Kid)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp}
	if bits := pub.N.BitLen(); bits < minRSABits || bits > maxRSABits {
		return nil, fmt.Errorf("jwk %q: %d-bit RSA key not accepted", k.Kid, bits)
	}
	return pub, nil
}

func (k jwk) p256PublicKey() (*ecdsa.PublicKey, error) {
	x, errX := base64.RawURLEncoding.DecodeString(k.X)
	y, errY := base64.RawURLEncoding.DecodeString(k.Y)
	if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
		return nil, fmt.Errorf("jwk %q: bad P-256 coordinates", k.Kid)
	}
	point := append(append([]byte{4}, x...), y...)
	// ParseUncompressedPublicKey rejects points that are not on the curve,
	// which guards against invalid-curve attacks.
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	if err != nil {
		return nil, fmt.Errorf("jwk %q: %w", k.Kid, err)
	}
	return pub, nil
}

// rsaJWK describes an RSA public key as a JWK for RS256 signatures.
func rsaJWK(kid string, pub *rsa.PublicKey) jwk {
	return jwk{
		Kty: "RSA",
		Kid: kid,
		Use: "sig",
		Alg: AlgRS256,
		N:   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		E:   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}
}

// rsaThumbprint is the RFC 7638 JWK thumbprint of an RSA public key: a kid
// that follows from the key itself, so it stays the same across restarts.
func rsaThumbprint(pub *rsa.PublicKey) string {
	k := rsaJWK("", pub)
	// RFC 7638: the required members in lexicographic order, no whitespace.
	canonical := `{"e":"` + k.E + `","kty":"RSA","n":"` + k.N + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// StaticKeys is a fixed key set, read once from a JWKS document. The dev
// verifier uses it for the gateway's own key, so dev tokens go through the
// same JWKS parsing and verification as Clerk's.
type StaticKeys struct {
	keys keySet
}

// NewStaticKeys parses a JWKS document.
func NewStaticKeys(jwksJSON []byte) (*StaticKeys, error) {
	keys, _, err := parseJWKS(jwksJSON)
	if err != nil {
		return nil, err
	}
	return &StaticKeys{keys: keys}, nil
}

// Key implements KeySource.
func (s *StaticKeys) Key(_ context.Context, kid string) (VerificationKey, error) {
	if k, ok := s.keys[kid]; ok {
		return k, nil
	}
	return VerificationKey{}, errUnknownKey
}
