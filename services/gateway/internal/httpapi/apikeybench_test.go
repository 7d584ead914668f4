package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/gateway/internal/access"
	"github.com/nonefinity/backend/services/gateway/internal/httpapi"
)

// BenchmarkAuthenticate measures the authentication middleware alone, side
// by side in one run: a Clerk session token (a real RS256 signature check,
// as in production) and a personal API key whose cache entry is warm (an
// HMAC-SHA-256 and a map lookup; no database). Both resolve the user
// through the same identity resolver. The difference is what a key adds.
func BenchmarkAuthenticate(b *testing.B) {
	h, token := benchGateway(b)
	var keys *keyInstance
	opts := h.opts
	withAPIKeys(b, testkit.Mongo(b), keyConfig{}, &keys)(&opts)
	api, err := httpapi.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	h.api, h.handler, h.opts = api, api.Router(), opts
	key := h.createKey(token, `{"name":"bench","scopes":["files:read"]}`)

	var seen access.Grant
	authn := api.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = access.From(r.Context())
		w.WriteHeader(http.StatusNoContent)
	}))
	run := func(b *testing.B, credential string, wantKey bool) {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/file/list", nil)
		req.Header.Set("Authorization", "Bearer "+credential)
		rec := httptest.NewRecorder()
		authn.ServeHTTP(rec, req) // warms the caches
		if rec.Code != http.StatusNoContent || seen.IsKey() != wantKey {
			b.Fatalf("status %d, key grant %v: %s", rec.Code, seen.IsKey(), rec.Body.String())
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			rec := httptest.NewRecorder()
			authn.ServeHTTP(rec, req)
			if rec.Code != http.StatusNoContent {
				b.Fatalf("status %d", rec.Code)
			}
		}
	}
	b.Run("clerk-token", func(b *testing.B) { run(b, token, false) })
	b.Run("api-key", func(b *testing.B) { run(b, key.Key, true) })
}
