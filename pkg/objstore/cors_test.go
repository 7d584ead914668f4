package objstore_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nonefinity/backend/pkg/testkit"
)

const webOrigin = "http://localhost:5173"

// A browser's preflight of the web client's presigned PUT (and of a
// presigned GET) is answered for the configured origin and refused for any
// other, by the embedded Versity gateway itself.
func TestSetBrowserCORSAnswersPreflights(t *testing.T) {
	s, _ := newStore(t)
	ctx := testCtx(t)
	put, err := s.PresignPut(ctx, "users/u1/raw/a.csv", 3, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	get, err := s.PresignGet(ctx, "users/u1/raw/a.csv", time.Minute, "a.csv")
	if err != nil {
		t.Fatal(err)
	}

	// Before: the bucket has no CORS rule, which is what the browser met.
	if p := testkit.SendPreflight(t, put.String(), webOrigin, http.MethodPut, "Content-Type"); p.AllowOrigin != "" || p.Status < 400 {
		t.Fatalf("preflight without a rule = %d %q, want a refusal", p.Status, p.AllowOrigin)
	}

	if err := s.SetBrowserCORS(ctx, []string{webOrigin, "https://app.example.com"}); err != nil {
		t.Fatalf("SetBrowserCORS: %v", err)
	}
	for _, c := range []struct {
		url, origin, method string
		headers             []string
	}{
		{put.String(), webOrigin, http.MethodPut, []string{"Content-Type"}},
		{put.String(), "https://app.example.com", http.MethodPut, []string{"Content-Type"}},
		{get.String(), webOrigin, http.MethodGet, nil},
	} {
		p := testkit.SendPreflight(t, c.url, c.origin, c.method, c.headers...)
		if p.Status != http.StatusOK || p.AllowOrigin != c.origin || !strings.Contains(p.AllowMethods, c.method) {
			t.Errorf("%s preflight from %s = %d origin %q methods %q, want 200 for that origin", c.method, c.origin, p.Status, p.AllowOrigin, p.AllowMethods)
		}
		if len(c.headers) > 0 && !strings.Contains(strings.ToLower(p.AllowHeaders), "content-type") {
			t.Errorf("%s preflight allows headers %q, want content-type", c.method, p.AllowHeaders)
		}
	}
	for _, c := range []struct{ origin, method string }{
		{"https://evil.example.com", http.MethodPut},
		{"http://localhost:5174", http.MethodPut},
		{webOrigin, http.MethodDelete},
	} {
		p := testkit.SendPreflight(t, put.String(), c.origin, c.method, "Content-Type")
		t.Logf("%s preflight from %s: %d", c.method, c.origin, p.Status)
		if p.AllowOrigin != "" || p.Status < 400 {
			t.Errorf("%s preflight from %s = %d origin %q, want a refusal", c.method, c.origin, p.Status, p.AllowOrigin)
		}
	}

	// No origins: the rule is removed again, and every origin is refused.
	if err := s.SetBrowserCORS(ctx, nil); err != nil {
		t.Fatalf("SetBrowserCORS(nil): %v", err)
	}
	if p := testkit.SendPreflight(t, put.String(), webOrigin, http.MethodPut, "Content-Type"); p.AllowOrigin != "" || p.Status < 400 {
		t.Fatalf("preflight after removal = %d %q, want a refusal", p.Status, p.AllowOrigin)
	}
	if err := s.SetBrowserCORS(ctx, nil); err != nil {
		t.Fatalf("removing an absent rule: %v", err)
	}
}
