package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrInvalidToken means the token is not acceptable (HTTP 401). Errors that
// wrap it carry a short reason that is safe to show the caller; they never
// contain the token.
var ErrInvalidToken = errors.New("invalid token")

// ErrKeysUnavailable means no signing keys could be obtained (the JWKS
// endpoint is unreachable and nothing is cached): the token may be fine, we
// cannot tell (HTTP 503, not 401).
var ErrKeysUnavailable = errors.New("token signing keys unavailable")

var (
	errUnknownKey   = invalid("unknown signing key")
	errNoKeyID      = invalid("token header has no kid")
	errAlgForKey    = invalid("algorithm does not match the signing key")
	errMissingSub   = invalid("token has no subject")
	errUnauthorized = invalid("token was issued for another party (azp)")
)

func invalid(reason string) error { return fmt.Errorf("%w: %s", ErrInvalidToken, reason) }

// DefaultLeeway absorbs clock skew between Clerk and us in exp, nbf and iat.
const DefaultLeeway = 30 * time.Second

// maxTokenBytes refuses absurd inputs before any decoding work; Clerk
// session tokens are well under 2 KiB.
const maxTokenBytes = 16 << 10

// Claims are the verified contents of a session token.
type Claims struct {
	Subject         string         `json:"sub"`
	Issuer          string         `json:"iss"`
	SessionID       string         `json:"sid,omitempty"`
	AuthorizedParty string         `json:"azp,omitempty"`
	IssuedAt        time.Time      `json:"iat,omitzero"`
	ExpiresAt       time.Time      `json:"exp"`
	NotBefore       time.Time      `json:"nbf,omitzero"`
	Role            string         `json:"role"` // contracts.RoleAdmin or contracts.RoleUser
	Raw             map[string]any `json:"raw"`  // every claim as decoded from the payload
}

// VerifierConfig configures a Verifier.
type VerifierConfig struct {
	// Issuer must equal the token's iss exactly (CLERK_ISSUER).
	Issuer string
	// AuthorizedParties, when non-empty, lists the accepted azp values
	// (CLERK_AUTHORIZED_PARTIES). As in Clerk's own SDKs, a token without azp
	// (one minted through the Backend API) is accepted; a token with an azp
	// outside the list is not.
	AuthorizedParties []string
	// Leeway for exp, nbf and iat; zero means DefaultLeeway.
	Leeway time.Duration
	Keys   KeySource
	Roles  RoleResolver
	// Now replaces time.Now in tests.
	Now func() time.Time
}

// Verifier checks session JWTs: RS256 or ES256 only, each key used only with
// its own algorithm, signature first, then iss, exp, nbf, iat, azp and sub.
// It is safe for concurrent use.
type Verifier struct {
	issuer  string
	parties []string
	keys    KeySource
	roles   RoleResolver
	parser  *jwt.Parser
	now     func() time.Time

	// verified keeps the claims of tokens that passed, by the token's
	// SHA-256, until verifiedFor passes or the token expires: the RSA
	// signature check was the largest single cost of an authenticated
	// request, paid again on every request with the same token.
	mu       sync.RWMutex
	verified map[[sha256.Size]byte]verifiedToken
}

// verifiedFor bounds how long a verified token is answered from memory, so
// a signing key withdrawn from the JWKS stops being honoured within it.
const verifiedFor = time.Minute

// verifiedMax bounds the tokens kept; past it all are dropped.
const verifiedMax = 10000

type verifiedToken struct {
	claims Claims
	until  time.Time
}

// NewVerifier builds a Verifier.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("verifier needs an issuer")
	}
	if cfg.Keys == nil {
		return nil, errors.New("verifier needs a key source")
	}
	if cfg.Leeway < 0 {
		return nil, errors.New("verifier leeway must not be negative")
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultLeeway
	}
	if cfg.Roles.claimPath == nil {
		cfg.Roles = NewRoleResolver("", nil)
	}
	opts := []jwt.ParserOption{
		// The whitelist: alg none, HS* (including the RSA public key abused
		// as an HMAC secret) and everything else fail here, before a key is
		// looked up.
		jwt.WithValidMethods([]string{AlgRS256, AlgES256}),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithStrictDecoding(),
	}
	if cfg.Now != nil {
		opts = append(opts, jwt.WithTimeFunc(cfg.Now))
	} else {
		cfg.Now = time.Now
	}
	return &Verifier{
		issuer:  cfg.Issuer,
		parties: slices.Clone(cfg.AuthorizedParties),
		keys:    cfg.Keys,
		roles:   cfg.Roles,
		parser:  jwt.NewParser(opts...),
		now:     cfg.Now,
	}, nil
}

// Issuer is the iss this verifier accepts.
func (v *Verifier) Issuer() string { return v.issuer }

// Verify checks a compact JWS session token and returns its claims. Errors
// wrap ErrInvalidToken or ErrKeysUnavailable. A token that passed is
// answered from memory until it expires, for at most verifiedFor.
func (v *Verifier) Verify(ctx context.Context, token string) (Claims, error) {
	sum := sha256.Sum256([]byte(token))
	now := v.now()
	v.mu.RLock()
	kept, ok := v.verified[sum]
	v.mu.RUnlock()
	if ok && now.Before(kept.until) {
		return kept.claims, nil
	}
	c, err := v.verify(ctx, token)
	if err != nil {
		return Claims{}, err
	}
	until := now.Add(verifiedFor)
	if c.ExpiresAt.Before(until) {
		until = c.ExpiresAt
	}
	if now.Before(until) {
		v.mu.Lock()
		if v.verified == nil || len(v.verified) >= verifiedMax {
			v.verified = map[[sha256.Size]byte]verifiedToken{}
		}
		v.verified[sum] = verifiedToken{claims: c, until: until}
		v.mu.Unlock()
	}
	return c, nil
}

// verify is Verify without the memory.
func (v *Verifier) verify(ctx context.Context, token string) (Claims, error) {
	if token == "" {
		return Claims{}, invalid("missing token")
	}
	if len(token) > maxTokenBytes {
		return Claims{}, invalid("token too large")
	}
	raw := jwt.MapClaims{}
	keyLookedUp := false
	_, err := v.parser.ParseWithClaims(token, raw, func(t *jwt.Token) (any, error) {
		keyLookedUp = true
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errNoKeyID
		}
		key, err := v.keys.Key(ctx, kid)
		if err != nil {
			return nil, err
		}
		if key.Algorithm != t.Method.Alg() {
			return nil, errAlgForKey
		}
		return key.Public, nil
	})
	if err != nil {
		return Claims{}, classify(err, keyLookedUp, raw)
	}

	c := Claims{Raw: raw}
	c.Subject, _ = raw["sub"].(string)
	if c.Subject == "" {
		return Claims{}, errMissingSub
	}
	c.Issuer, _ = raw["iss"].(string)
	c.SessionID, _ = raw["sid"].(string)
	azp, hasAZP := raw["azp"]
	if hasAZP {
		if c.AuthorizedParty, _ = azp.(string); c.AuthorizedParty == "" {
			return Claims{}, invalid("malformed azp claim")
		}
	}
	if len(v.parties) > 0 && hasAZP && !slices.Contains(v.parties, c.AuthorizedParty) {
		return Claims{}, errUnauthorized
	}
	c.IssuedAt = numericDate(raw.GetIssuedAt())
	c.ExpiresAt = numericDate(raw.GetExpirationTime())
	c.NotBefore = numericDate(raw.GetNotBefore())
	c.Role = v.roles.Role(c.Subject, raw)
	return c, nil
}

// classify turns the library's errors into ours: a stable, caller-safe reason
// under ErrInvalidToken, or ErrKeysUnavailable untouched.
func classify(err error, keyLookedUp bool, raw jwt.MapClaims) error {
	switch {
	case errors.Is(err, ErrKeysUnavailable):
		return err
	case errors.Is(err, errUnknownKey):
		return errUnknownKey
	case errors.Is(err, errNoKeyID):
		return errNoKeyID
	case errors.Is(err, errAlgForKey):
		return errAlgForKey
	case errors.Is(err, jwt.ErrTokenMalformed):
		return invalid("malformed token")
	case !keyLookedUp:
		// The parser refused the header's alg (not whitelisted, unknown or
		// absent) before asking for a key.
		return invalid("unsupported signing algorithm")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return invalid("signature does not verify")
	case errors.Is(err, jwt.ErrTokenExpired):
		return invalid("token expired")
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return invalid("token not valid yet")
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return invalid("token issued in the future")
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return invalid("wrong issuer")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		if _, ok := raw["exp"]; !ok {
			return invalid("token has no exp")
		}
		return invalid("token has no issuer")
	case errors.Is(err, jwt.ErrInvalidType):
		return invalid("malformed claim")
	case errors.Is(err, ErrInvalidToken):
		return err
	}
	return invalid("token rejected")
}

func numericDate(d *jwt.NumericDate, err error) time.Time {
	if err != nil || d == nil {
		return time.Time{}
	}
	return d.Time
}
