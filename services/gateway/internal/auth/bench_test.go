package auth

import (
	"context"
	"testing"
	"time"
)

// BenchmarkVerify is one RS256 session-token verification with the key
// already cached from a real JWKS endpoint: the per-request cost of auth.
func BenchmarkVerify(b *testing.B) {
	benchmarkVerify(b, newRSAKey(b, "kid-rsa"))
}

// BenchmarkVerifyES256 is the same with a P-256 key, for comparison.
func BenchmarkVerifyES256(b *testing.B) {
	benchmarkVerify(b, newECKey(b, "kid-ec"))
}

func benchmarkVerify(b *testing.B, key testKey) {
	srv := newJWKSServer(b, key)
	v := newTestVerifier(b, startRemote(b, srv.jwksURL(), nil), nil)
	claims := goodClaims(time.Now())
	claims["exp"] = time.Now().Add(time.Hour).Unix() // outlives the benchmark
	token := key.sign(b, claims)
	ctx := context.Background()
	if _, err := v.Verify(ctx, token); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := v.Verify(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if n := srv.requests.Load(); n != 1 {
		b.Errorf("jwks fetched %d times, want 1 (all verifications from the cache)", n)
	}
}
