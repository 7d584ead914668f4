package auth

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/nonefinity/backend/contracts"
)

func TestVerifyAcceptsGoodToken(t *testing.T) {
	key := newRSAKey(t, "kid-a")
	srv := newJWKSServer(t, key)
	v := newTestVerifier(t, startRemote(t, srv.jwksURL(), nil), func(c *VerifierConfig) {
		c.AuthorizedParties = []string{"http://localhost:5173"}
	})
	now := time.Now()

	claims, err := v.Verify(context.Background(), key.sign(t, goodClaims(now)))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if claims.Subject != "user_2abc" || claims.Issuer != testIssuer || claims.SessionID != "sess_123" ||
		claims.AuthorizedParty != "http://localhost:5173" {
		t.Errorf("claims = %+v", claims)
	}
	if claims.ExpiresAt.Unix() != now.Add(time.Minute).Unix() || claims.IssuedAt.Unix() != now.Unix() ||
		claims.NotBefore.Unix() != now.Add(-5*time.Second).Unix() {
		t.Errorf("times: iat %v nbf %v exp %v", claims.IssuedAt, claims.NotBefore, claims.ExpiresAt)
	}
	if claims.Role != contracts.RoleUser {
		t.Errorf("role = %q, want %q", claims.Role, contracts.RoleUser)
	}
	if claims.Raw["sid"] != "sess_123" {
		t.Errorf("raw claims = %v", claims.Raw)
	}
}

func TestVerifyRejects(t *testing.T) {
	rsaKey := newRSAKey(t, "kid-rsa")
	ecKey := newECKey(t, "kid-ec")
	impostor := newRSAKey(t, "kid-rsa") // same kid, key not in the JWKS
	srv := newJWKSServer(t, rsaKey, ecKey)
	v := newTestVerifier(t, startRemote(t, srv.jwksURL(), nil), func(c *VerifierConfig) {
		c.AuthorizedParties = []string{"http://localhost:5173", "https://app.example.com"}
	})
	now := time.Now()
	with := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := goodClaims(now)
		edit(c)
		return c
	}
	good := rsaKey.sign(t, goodClaims(now))
	parts := strings.Split(good, ".")

	// The RSA public key as PEM: the classic "HS256 with the public key as
	// HMAC secret" confusion attack.
	pubDER, err := x509.MarshalPKIXPublicKey(rsaKey.private.Public())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	cases := []struct {
		name   string
		token  string
		reason string
	}{
		{"expired", rsaKey.sign(t, with(func(c jwt.MapClaims) {
			c["iat"] = now.Add(-10 * time.Minute).Unix()
			c["nbf"] = now.Add(-10 * time.Minute).Unix()
			c["exp"] = now.Add(-2 * time.Minute).Unix()
		})), "token expired"},
		{"not yet valid", rsaKey.sign(t, with(func(c jwt.MapClaims) { c["nbf"] = now.Add(2 * time.Minute).Unix() })), "not valid yet"},
		{"issued in the future", rsaKey.sign(t, with(func(c jwt.MapClaims) { c["iat"] = now.Add(2 * time.Minute).Unix() })), "issued in the future"},
		{"no exp", rsaKey.sign(t, with(func(c jwt.MapClaims) { delete(c, "exp") })), "no exp"},
		{"wrong issuer", rsaKey.sign(t, with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" })), "wrong issuer"},
		{"no issuer", rsaKey.sign(t, with(func(c jwt.MapClaims) { delete(c, "iss") })), "no issuer"},
		{"wrong azp", rsaKey.sign(t, with(func(c jwt.MapClaims) { c["azp"] = "https://evil.example" })), "azp"},
		{"missing sub", rsaKey.sign(t, with(func(c jwt.MapClaims) { delete(c, "sub") })), "no subject"},
		{"empty sub", rsaKey.sign(t, with(func(c jwt.MapClaims) { c["sub"] = "" })), "no subject"},
		{"tampered payload", parts[0] + "." + tamperPayload(t, parts[1]) + "." + parts[2], "signature does not verify"},
		{"tampered signature", parts[0] + "." + parts[1] + "." + flipFirstByte(t, parts[2]), "signature does not verify"},
		{"signed by another key with a known kid", impostor.sign(t, goodClaims(now)), "signature does not verify"},
		{"alg none", signWith(t, jwt.SigningMethodNone, "kid-rsa", jwt.UnsafeAllowNoneSignatureType, goodClaims(now)), "unsupported signing algorithm"},
		{"alg none, empty signature", noneToken(t, goodClaims(now)), "unsupported signing algorithm"},
		{"HS256 with the public key as secret", signWith(t, jwt.SigningMethodHS256, "kid-rsa", pubPEM, goodClaims(now)), "unsupported signing algorithm"},
		{"HS256 with the raw modulus as secret", signWith(t, jwt.SigningMethodHS256, "kid-rsa",
			rsaKey.private.Public().(*rsa.PublicKey).N.Bytes(), goodClaims(now)), "unsupported signing algorithm"},
		{"RS512 (not whitelisted)", signWith(t, jwt.SigningMethodRS512, "kid-rsa", rsaKey.private, goodClaims(now)), "unsupported signing algorithm"},
		{"PS256 (not whitelisted)", signWith(t, jwt.SigningMethodPS256, "kid-rsa", rsaKey.private, goodClaims(now)), "unsupported signing algorithm"},
		{"ES256 header on an RSA key", signWith(t, jwt.SigningMethodES256, "kid-rsa", ecKey.private, goodClaims(now)), "does not match the signing key"},
		{"RS256 header on an EC key", signWith(t, jwt.SigningMethodRS256, "kid-ec", rsaKey.private, goodClaims(now)), "does not match the signing key"},
		{"no kid", signWith(t, jwt.SigningMethodRS256, "", rsaKey.private, goodClaims(now)), "no kid"},
		{"two segments", parts[0] + "." + parts[1], "malformed"},
		{"garbage", "not-a-jwt", "malformed"},
		{"empty", "", "missing token"},
		{"huge", strings.Repeat("a", maxTokenBytes+1), "too large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tc.token)
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("err = %v, want ErrInvalidToken", err)
			}
			if errors.Is(err, ErrKeysUnavailable) {
				t.Fatalf("err = %v also claims the keys are unavailable", err)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("err = %q, want reason containing %q", err, tc.reason)
			}
			if tc.token != "" && len(tc.token) > 20 && strings.Contains(err.Error(), tc.token[len(tc.token)-20:]) {
				t.Errorf("error text contains the token: %q", err)
			}
		})
	}
	// None of the above should have needed more than the initial fetch plus
	// at most one forced refresh.
	if n := srv.requests.Load(); n > 2 {
		t.Errorf("jwks fetched %d times", n)
	}
}

func TestVerifyLeeway(t *testing.T) {
	key := newRSAKey(t, "kid-a")
	now := time.Now()
	keys, err := NewStaticKeys(jwksOf(key))
	if err != nil {
		t.Fatal(err)
	}
	claims := goodClaims(now)
	claims["exp"] = now.Add(-10 * time.Second).Unix() // expired, but within 30 s
	claims["nbf"] = now.Add(10 * time.Second).Unix()  // early, but within 30 s
	token := key.sign(t, claims)

	if _, err := newTestVerifier(t, keys, nil).Verify(context.Background(), token); err != nil {
		t.Errorf("default leeway: %v", err)
	}
	strict := newTestVerifier(t, keys, func(c *VerifierConfig) { c.Leeway = time.Second })
	if _, err := strict.Verify(context.Background(), token); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("1 s leeway: err = %v, want ErrInvalidToken", err)
	}
	// The clock is injectable: the same token is fine a minute earlier.
	past := newTestVerifier(t, keys, func(c *VerifierConfig) {
		c.Leeway = time.Second
		c.Now = func() time.Time { return now.Add(-time.Minute) }
	})
	claims["nbf"] = now.Add(-2 * time.Minute).Unix()
	claims["iat"] = now.Add(-2 * time.Minute).Unix()
	if _, err := past.Verify(context.Background(), key.sign(t, claims)); err != nil {
		t.Errorf("injected clock: %v", err)
	}
}

func TestVerifyAuthorizedParties(t *testing.T) {
	key := newRSAKey(t, "kid-a")
	keys, err := NewStaticKeys(jwksOf(key))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	noAZP := goodClaims(now)
	delete(noAZP, "azp")
	otherAZP := goodClaims(now)
	otherAZP["azp"] = "https://other.example"

	open := newTestVerifier(t, keys, nil)
	listed := newTestVerifier(t, keys, func(c *VerifierConfig) { c.AuthorizedParties = []string{"https://other.example"} })

	if _, err := open.Verify(context.Background(), key.sign(t, otherAZP)); err != nil {
		t.Errorf("no list configured: any azp passes, got %v", err)
	}
	if _, err := listed.Verify(context.Background(), key.sign(t, otherAZP)); err != nil {
		t.Errorf("listed azp: %v", err)
	}
	// Like Clerk's SDKs: tokens minted through the Backend API carry no azp.
	c, err := listed.Verify(context.Background(), key.sign(t, noAZP))
	if err != nil || c.AuthorizedParty != "" {
		t.Errorf("token without azp: claims %+v, err %v", c, err)
	}
	badType := goodClaims(now)
	badType["azp"] = 42
	if _, err := listed.Verify(context.Background(), key.sign(t, badType)); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("numeric azp: err = %v, want ErrInvalidToken", err)
	}
}

func TestVerifyES256(t *testing.T) {
	ecKey := newECKey(t, "kid-ec")
	rsaKey := newRSAKey(t, "kid-rsa")
	srv := newJWKSServer(t, ecKey, rsaKey)
	v := newTestVerifier(t, startRemote(t, srv.jwksURL(), nil), nil)

	c, err := v.Verify(context.Background(), ecKey.sign(t, goodClaims(time.Now())))
	if err != nil {
		t.Fatalf("ES256: %v", err)
	}
	if c.Subject != "user_2abc" {
		t.Errorf("sub = %q", c.Subject)
	}
	if _, err := v.Verify(context.Background(), rsaKey.sign(t, goodClaims(time.Now()))); err != nil {
		t.Errorf("RS256 next to it: %v", err)
	}
}

func TestVerifyRole(t *testing.T) {
	key := newRSAKey(t, "kid-a")
	keys, err := NewStaticKeys(jwksOf(key))
	if err != nil {
		t.Fatal(err)
	}
	v := newTestVerifier(t, keys, func(c *VerifierConfig) {
		c.Roles = NewRoleResolver("", []string{"user_boss"})
	})
	now := time.Now()

	adminByClaim := goodClaims(now)
	adminByClaim["metadata"] = map[string]any{"role": "admin"}
	adminByID := goodClaims(now)
	adminByID["sub"] = "user_boss"

	for name, tc := range map[string]struct {
		claims jwt.MapClaims
		want   string
	}{
		"plain user":                {goodClaims(now), contracts.RoleUser},
		"metadata.role admin":       {adminByClaim, contracts.RoleAdmin},
		"listed in ADMIN_CLERK_IDS": {adminByID, contracts.RoleAdmin},
	} {
		c, err := v.Verify(context.Background(), key.sign(t, tc.claims))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if c.Role != tc.want {
			t.Errorf("%s: role = %q, want %q", name, c.Role, tc.want)
		}
	}
}

func TestNewVerifierNeedsIssuerAndKeys(t *testing.T) {
	keys, err := NewStaticKeys(jwksOf(newECKey(t, "k")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewVerifier(VerifierConfig{Keys: keys}); err == nil {
		t.Error("no issuer: want error")
	}
	if _, err := NewVerifier(VerifierConfig{Issuer: testIssuer}); err == nil {
		t.Error("no keys: want error")
	}
	if _, err := NewVerifier(VerifierConfig{Issuer: testIssuer, Keys: keys, Leeway: -time.Second}); err == nil {
		t.Error("negative leeway: want error")
	}
}

// tamperPayload changes the subject in the payload and re-encodes it.
func tamperPayload(t *testing.T, segment string) string {
	t.Helper()
	payload, err := base64.RawURLEncoding.DecodeString(segment)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(payload), `"user_2abc"`, `"user_admin"`, 1)
	if changed == string(payload) {
		t.Fatal("payload did not contain the subject")
	}
	return base64.RawURLEncoding.EncodeToString([]byte(changed))
}

func flipFirstByte(t *testing.T, segment string) string {
	t.Helper()
	sig, err := base64.RawURLEncoding.DecodeString(segment)
	if err != nil {
		t.Fatal(err)
	}
	sig[0] ^= 0x01
	return base64.RawURLEncoding.EncodeToString(sig)
}

// noneToken is built by hand: header {"alg":"none"}, no signature at all.
func noneToken(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodNone, claims)
	tok.Header["kid"] = "kid-rsa"
	s, err := tok.SigningString()
	if err != nil {
		t.Fatal(err)
	}
	return s + "."
}

// countingKeys counts the key look-ups, one per signature check.
type countingKeys struct {
	KeySource
	n int
}

func (k *countingKeys) Key(ctx context.Context, kid string) (VerificationKey, error) {
	k.n++
	return k.KeySource.Key(ctx, kid)
}

// A token that passed is answered from memory until it expires, for at most
// verifiedFor; one that failed is checked every time.
func TestVerifyKeepsVerifiedTokensUntilTheyExpire(t *testing.T) {
	key := newRSAKey(t, "kid-a")
	static, err := NewStaticKeys(jwksOf(key))
	if err != nil {
		t.Fatal(err)
	}
	keys := &countingKeys{KeySource: static}
	start := time.Now()
	clock := start
	v := newTestVerifier(t, keys, func(c *VerifierConfig) {
		c.Leeway = time.Second
		c.Now = func() time.Time { return clock }
	})
	ctx := context.Background()

	long := goodClaims(start)
	long["exp"] = start.Add(time.Hour).Unix()
	longToken := key.sign(t, long)
	for range 3 {
		if c, err := v.Verify(ctx, longToken); err != nil || c.Subject != "user_2abc" {
			t.Fatalf("Verify = %+v, %v", c, err)
		}
	}
	if keys.n != 1 {
		t.Fatalf("%d signature checks for one token verified three times, want 1", keys.n)
	}
	clock = start.Add(verifiedFor)
	if _, err := v.Verify(ctx, longToken); err != nil || keys.n != 2 {
		t.Fatalf("after verifiedFor: %v, %d checks, want it checked again", err, keys.n)
	}

	// Kept no longer than the token lives.
	clock = start
	short := goodClaims(start)
	short["exp"] = start.Add(10 * time.Second).Unix()
	shortToken := key.sign(t, short)
	if _, err := v.Verify(ctx, shortToken); err != nil {
		t.Fatal(err)
	}
	clock = start.Add(12 * time.Second)
	if _, err := v.Verify(ctx, shortToken); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("an expired token: err = %v, want ErrInvalidToken", err)
	}

	// A refused token is not kept.
	clock = start
	bad := longToken[:len(longToken)-4] + "AAAA"
	before := keys.n
	for range 2 {
		if _, err := v.Verify(ctx, bad); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("a forged signature: err = %v", err)
		}
	}
	if keys.n != before+2 {
		t.Fatalf("%d checks for a refused token asked twice, want 2", keys.n-before)
	}
}
