package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/nonefinity/backend/pkg/testkit"
)

const testIssuer = "https://clerk.example.test"

// testKey is a signing key with the kid it is published under.
type testKey struct {
	kid     string
	private crypto.Signer
}

func newRSAKey(t testing.TB, kid string) testKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{kid: kid, private: k}
}

func newECKey(t testing.TB, kid string) testKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{kid: kid, private: k}
}

// jwkJSON encodes the public half the way a JWKS endpoint publishes it. It is
// written independently of the package's own encoder on purpose.
func (k testKey) jwkJSON() map[string]any {
	b64 := base64.RawURLEncoding.EncodeToString
	switch pub := k.private.Public().(type) {
	case *rsa.PublicKey:
		return map[string]any{"kty": "RSA", "kid": k.kid, "use": "sig", "alg": "RS256",
			"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())}
	case *ecdsa.PublicKey:
		raw, err := pub.Bytes() // 0x04 || X || Y
		if err != nil {
			panic(err)
		}
		return map[string]any{"kty": "EC", "kid": k.kid, "use": "sig", "crv": "P-256",
			"x": b64(raw[1:33]), "y": b64(raw[33:])}
	}
	panic("unsupported key")
}

func jwksOf(keys ...testKey) []byte {
	doc := map[string]any{"keys": []any{}}
	list := make([]any, 0, len(keys))
	for _, k := range keys {
		list = append(list, k.jwkJSON())
	}
	doc["keys"] = list
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return b
}

// sign makes a token with the key's natural algorithm.
func (k testKey) sign(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	method := jwt.SigningMethod(jwt.SigningMethodRS256)
	if _, ok := k.private.(*ecdsa.PrivateKey); ok {
		method = jwt.SigningMethodES256
	}
	return signWith(t, method, k.kid, k.private, claims)
}

func signWith(t testing.TB, method jwt.SigningMethod, kid string, key any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// goodClaims are what a Clerk session token carries, valid now.
func goodClaims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": testIssuer,
		"sub": "user_2abc",
		"sid": "sess_123",
		"azp": "http://localhost:5173",
		"iat": now.Unix(),
		"nbf": now.Add(-5 * time.Second).Unix(),
		"exp": now.Add(time.Minute).Unix(),
	}
}

// jwksServer is a real HTTP JWKS endpoint whose document can change and which
// can fail, counting the requests it gets.
type jwksServer struct {
	*httptest.Server
	doc      atomic.Pointer[[]byte]
	failing  atomic.Bool
	requests atomic.Int64
	hits     chan struct{} // one value per request, never blocks the handler
}

func newJWKSServer(t testing.TB, keys ...testKey) *jwksServer {
	t.Helper()
	s := &jwksServer{hits: make(chan struct{}, 1024)}
	s.serve(keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/jwks.json" {
			http.NotFound(w, r)
			return
		}
		s.requests.Add(1)
		select {
		case s.hits <- struct{}{}:
		default:
		}
		if s.failing.Load() {
			http.Error(w, "upstream down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(*s.doc.Load())
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) serve(keys ...testKey) {
	doc := jwksOf(keys...)
	s.doc.Store(&doc)
}

func (s *jwksServer) jwksURL() string { return s.URL + "/.well-known/jwks.json" }

// startRemote starts a RemoteJWKS against srv and stops it at cleanup.
func startRemote(t testing.TB, url string, clock *testkit.Clock) *RemoteJWKS {
	t.Helper()
	cfg := RemoteJWKSConfig{URL: url, RefreshInterval: time.Hour}
	if clock != nil {
		cfg.Now = clock.Now
	}
	r, err := NewRemoteJWKS(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.Start(context.Background())
	t.Cleanup(r.Close)
	return r
}

func newTestVerifier(t testing.TB, keys KeySource, mutate func(*VerifierConfig)) *Verifier {
	t.Helper()
	cfg := VerifierConfig{Issuer: testIssuer, Keys: keys}
	if mutate != nil {
		mutate(&cfg)
	}
	v, err := NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
