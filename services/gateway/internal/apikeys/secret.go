package apikeys

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"math/big"
	"strings"
)

// A key is "nf_<env>_<secret>": secretBytes random bytes written in base62
// with a fixed width, so every key of an environment has the same length
// and a key can be told from a Clerk token (a JWT) by its prefix alone.
const (
	keyPrefix   = "nf_"
	secretBytes = 32
	// secretLen is the base62 width of secretBytes bytes: ceil(256 / log2 62).
	secretLen = 43
	// shownLen is how many characters of the secret key_prefix shows.
	shownLen = 8
	// MinPepperLen is the shortest pepper accepted, in bytes.
	MinPepperLen = 32
)

const base62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// LooksLikeKey reports whether token has the shape of a personal API key
// (and so is never a Clerk token, which is a JWT).
func LooksLikeKey(token string) bool { return strings.HasPrefix(token, keyPrefix) }

// newSecret returns a fresh key for env and its key_prefix.
func newSecret(env string) (plaintext, prefix string, err error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	// big.Int.Text uses 0-9a-zA-Z for base 62, the alphabet above.
	s := new(big.Int).SetBytes(b).Text(62)
	s = strings.Repeat("0", secretLen-len(s)) + s
	head := keyPrefix + env + "_"
	return head + s, head + s[:shownLen], nil
}

// errMalformed is a token that cannot be a key of ours.
var errMalformed = errors.New("malformed API key")

// checkShape refuses, without a lookup, a token that cannot be one of our
// keys: anything not nf_<env>_<43 base62 characters>.
func checkShape(token string) error {
	rest, ok := strings.CutPrefix(token, keyPrefix)
	if !ok {
		return errMalformed
	}
	env, secret, ok := strings.Cut(rest, "_")
	if !ok || env == "" || len(env) > 16 || len(secret) != secretLen {
		return errMalformed
	}
	for i := 0; i < len(secret); i++ {
		if strings.IndexByte(base62, secret[i]) < 0 {
			return errMalformed
		}
	}
	return nil
}

// Digest is the HMAC-SHA-256 of a key under the server's pepper: all that
// is stored of it. Without the pepper a stolen collection cannot be used
// to test guesses offline.
type Digest [sha256.Size]byte

// hasher computes digests under one pepper.
type hasher struct{ pepper []byte }

func (h hasher) digest(token string) Digest {
	m := hmac.New(sha256.New, h.pepper)
	m.Write([]byte(token))
	var d Digest
	m.Sum(d[:0])
	return d
}

// equal compares two digests in constant time.
func (d Digest) equal(o Digest) bool { return hmac.Equal(d[:], o[:]) }

// envLabel is the <env> of new keys: APP_ENV reduced to lower-case letters
// and digits ("dev", "prod"), "dev" when nothing is left.
func envLabel(env string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(env) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 || b.Len() > 16 {
		return "dev"
	}
	return b.String()
}
