package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/nonefinity/backend/pkg/testkit"
)

func TestKeyRotationIsPickedUpByOneForcedRefresh(t *testing.T) {
	oldKey := newRSAKey(t, "kid-old")
	newKey := newRSAKey(t, "kid-new")
	srv := newJWKSServer(t, oldKey)
	v := newTestVerifier(t, startRemote(t, srv.jwksURL(), nil), nil)
	ctx := context.Background()

	if _, err := v.Verify(ctx, oldKey.sign(t, goodClaims(time.Now()))); err != nil {
		t.Fatalf("old key before rotation: %v", err)
	}
	// Clerk rotates: the JWKS now publishes the new key next to the old one,
	// and the first token signed with it arrives.
	srv.serve(oldKey, newKey)
	if _, err := v.Verify(ctx, newKey.sign(t, goodClaims(time.Now()))); err != nil {
		t.Fatalf("new key after rotation: %v", err)
	}
	if n := srv.requests.Load(); n != 2 {
		t.Errorf("jwks fetched %d times, want 2 (start + one forced refresh)", n)
	}
	// Both keep working from the cache without further fetches.
	for _, k := range []testKey{oldKey, newKey} {
		if _, err := v.Verify(ctx, k.sign(t, goodClaims(time.Now()))); err != nil {
			t.Errorf("%s after rotation: %v", k.kid, err)
		}
	}
	if n := srv.requests.Load(); n != 2 {
		t.Errorf("jwks fetched %d times after cached verifications, want 2", n)
	}
}

func TestForcedRefreshIsRateLimited(t *testing.T) {
	oldKey := newRSAKey(t, "kid-old")
	newKey := newRSAKey(t, "kid-new")
	srv := newJWKSServer(t, oldKey)
	clock := testkit.NewClock(time.Now())
	v := newTestVerifier(t, startRemote(t, srv.jwksURL(), clock), nil)
	ctx := context.Background()

	// A token with a kid nobody publishes uses up the forced refresh…
	if _, err := v.Verify(ctx, newKey.sign(t, goodClaims(time.Now()))); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("unknown kid: err = %v, want ErrInvalidToken", err)
	}
	if n := srv.requests.Load(); n != 2 {
		t.Fatalf("jwks fetched %d times, want 2", n)
	}
	// …so right after the real rotation the new key is not seen yet…
	srv.serve(oldKey, newKey)
	clock.Advance(DefaultJWKSMinRefreshGap - time.Second)
	if _, err := v.Verify(ctx, newKey.sign(t, goodClaims(time.Now()))); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("within the gap: err = %v, want ErrInvalidToken", err)
	}
	if n := srv.requests.Load(); n != 2 {
		t.Fatalf("jwks fetched %d times within the gap, want 2", n)
	}
	// …until the gap has passed.
	clock.Advance(time.Second)
	if _, err := v.Verify(ctx, newKey.sign(t, goodClaims(time.Now()))); err != nil {
		t.Fatalf("after the gap: %v", err)
	}
	if n := srv.requests.Load(); n != 3 {
		t.Errorf("jwks fetched %d times, want 3", n)
	}
}

func TestBogusKidFloodDoesNotHammerJWKS(t *testing.T) {
	key := newRSAKey(t, "kid-real")
	srv := newJWKSServer(t, key)
	v := newTestVerifier(t, startRemote(t, srv.jwksURL(), nil), nil)
	ctx := context.Background()

	// Attackers can put any kid in a header; the signature is irrelevant
	// because the lookup happens first.
	const workers, perWorker = 50, 20
	tokens := make([]string, 0, workers*perWorker)
	for range workers * perWorker {
		var b [8]byte
		_, _ = rand.Read(b[:])
		tokens = append(tokens, signWith(t, jwt.SigningMethodRS256, "bogus-"+hex.EncodeToString(b[:]), key.private, goodClaims(time.Now())))
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(tokens))
	for w := range workers {
		wg.Go(func() {
			for _, tok := range tokens[w*perWorker : (w+1)*perWorker] {
				_, err := v.Verify(ctx, tok)
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), "unknown signing key") {
			t.Fatalf("bogus kid: err = %v, want unknown signing key", err)
		}
	}
	if n := srv.requests.Load(); n > 2 {
		t.Errorf("jwks fetched %d times for %d bogus kids, want at most 2", n, len(tokens))
	}
	// The real key is unaffected.
	if _, err := v.Verify(ctx, key.sign(t, goodClaims(time.Now()))); err != nil {
		t.Errorf("real key after the flood: %v", err)
	}
}

func TestCachedKeysSurviveJWKSOutage(t *testing.T) {
	key := newRSAKey(t, "kid-a")
	for name, breakIt := range map[string]func(*jwksServer){
		"503":                func(s *jwksServer) { s.failing.Store(true) },
		"connection refused": func(s *jwksServer) { s.Close() },
	} {
		t.Run(name, func(t *testing.T) {
			srv := newJWKSServer(t, key)
			clock := testkit.NewClock(time.Now())
			remote := startRemote(t, srv.jwksURL(), clock)
			v := newTestVerifier(t, remote, nil)
			ctx := context.Background()
			breakIt(srv)

			// A background refresh fails…
			if err := remote.refresh(ctx); err == nil {
				t.Fatal("refresh against a broken endpoint succeeded")
			}
			// …and a forced one (unknown kid) fails too…
			other := newRSAKey(t, "kid-unknown")
			if _, err := v.Verify(ctx, other.sign(t, goodClaims(time.Now()))); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("unknown kid during outage: err = %v, want ErrInvalidToken (we have keys, the kid is not among them)", err)
			}
			// …yet the cached key still verifies.
			if _, err := v.Verify(ctx, key.sign(t, goodClaims(time.Now()))); err != nil {
				t.Errorf("cached key during outage: %v", err)
			}
		})
	}
}

func TestNoKeysYieldsUnavailableNotInvalid(t *testing.T) {
	key := newRSAKey(t, "kid-a")
	srv := newJWKSServer(t, key)
	srv.failing.Store(true)
	clock := testkit.NewClock(time.Now())
	v := newTestVerifier(t, startRemote(t, srv.jwksURL(), clock), nil)
	ctx := context.Background()
	token := key.sign(t, goodClaims(time.Now()))

	for i := range 3 {
		_, err := v.Verify(ctx, token)
		if !errors.Is(err, ErrKeysUnavailable) {
			t.Fatalf("attempt %d: err = %v, want ErrKeysUnavailable", i, err)
		}
		if errors.Is(err, ErrInvalidToken) {
			t.Fatalf("attempt %d: err = %v must not say the token is invalid", i, err)
		}
	}
	// Start + one forced refresh; the other attempts were inside the gap.
	if n := srv.requests.Load(); n != 2 {
		t.Errorf("jwks fetched %d times, want 2", n)
	}
	// A malformed token is still a 401: no keys are needed to see that.
	if _, err := v.Verify(ctx, "garbage"); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("garbage while keys are down: err = %v, want ErrInvalidToken", err)
	}

	// Clerk comes back; after the gap the next request fetches and succeeds.
	srv.failing.Store(false)
	clock.Advance(DefaultJWKSMinRefreshGap)
	if _, err := v.Verify(ctx, token); err != nil {
		t.Errorf("after recovery: %v", err)
	}
}

func TestBackgroundRefreshReplacesKeys(t *testing.T) {
	oldKey := newRSAKey(t, "kid-old")
	newKey := newRSAKey(t, "kid-new")
	srv := newJWKSServer(t, oldKey)
	remote, err := NewRemoteJWKS(RemoteJWKSConfig{URL: srv.jwksURL(), RefreshInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	remote.Start(context.Background())
	defer remote.Close()
	<-srv.hits // the initial fetch

	// Clerk drops the old key; a scheduled refresh (not a token) must notice.
	srv.serve(newKey)
	deadline := time.After(10 * time.Second)
	for {
		select {
		case <-srv.hits:
		case <-deadline:
			t.Fatal("no background refresh within 10 s")
		}
		set := remote.keys.Load()
		if _, ok := (*set)["kid-new"]; ok {
			if _, stale := (*set)["kid-old"]; stale {
				t.Fatal("old key kept after a successful refresh")
			}
			break
		}
	}
	// Close waits for the loop to end; a second Close is harmless.
	remote.Close()
	remote.Close()
}

func TestJWKSFetchLimits(t *testing.T) {
	key := newRSAKey(t, "kid-a")
	good := string(jwksOf(key))
	cases := map[string]http.HandlerFunc{
		"too large": func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"keys":[` + strings.Repeat(" ", DefaultJWKSMaxBodyBytes) + `]}`))
		},
		"not json": func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("<html>")) },
		"404":      func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
		"no usable keys": func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"}]}`))
		},
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(h)
			defer srv.Close()
			remote, err := NewRemoteJWKS(RemoteJWKSConfig{URL: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.refresh(context.Background()); err == nil {
				t.Fatal("refresh succeeded")
			}
			if remote.keys.Load() != nil {
				t.Error("keys stored from a bad response")
			}
		})
	}
	t.Run("control", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(good)) }))
		defer srv.Close()
		remote, err := NewRemoteJWKS(RemoteJWKSConfig{URL: srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("slow endpoint times out", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer srv.Close()
		defer close(release)
		remote, err := NewRemoteJWKS(RemoteJWKSConfig{URL: srv.URL, FetchTimeout: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.refresh(context.Background()); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want a deadline error", err)
		}
	})
	for _, bad := range []string{"", "ftp://x/jwks", "/relative", "https://"} {
		if _, err := NewRemoteJWKS(RemoteJWKSConfig{URL: bad}); err == nil {
			t.Errorf("url %q accepted", bad)
		}
	}
}
