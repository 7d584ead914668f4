package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/gateway/internal/httpapi"
)

// countingVerifier counts the tokens that reached verification: the work a
// flood of bogus tokens makes the gateway do.
type countingVerifier struct {
	calls atomic.Int32
}

func (v *countingVerifier) Verify(ctx context.Context, token string) (httpapi.Principal, error) {
	v.calls.Add(1)
	return tokenTable{}.Verify(ctx, token)
}

const (
	clientA = "203.0.113.5:40000"
	clientB = "203.0.113.6:40000"
)

// ipLimited is a harness whose per-address limit is limit per minute and
// whose per-user limit is roomy, with a counting verifier and a webhook.
func ipLimited(t *testing.T, limiter httpapi.RateLimiter, limit int, more ...option) (*harness, *countingVerifier) {
	t.Helper()
	v := &countingVerifier{}
	opts := append([]option{
		withWebhooks(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })),
		func(o *httpapi.Options) {
			o.Verifier = v
			o.IPRateLimiter, o.IPRateLimit = limiter, limit
			o.RateLimiter, o.RateLimit = httpapi.NewMemoryRateLimiter(100), 100
			o.Now = fixedClock()
		},
	}, more...)
	return newHarness(t, allServices, opts...), v
}

// expectLimited checks a refusal of the per-address limit: the 429
// envelope and the headers of the per-user limit's refusals.
func expectLimited(t *testing.T, rec *httptest.ResponseRecorder, limit string) {
	t.Helper()
	expectError(t, rec, http.StatusTooManyRequests, rpcerr.RateLimited, "")
	// A limit of n a minute admits one request every 60/n s: after a
	// burst at one instant the next is due that much later.
	n, _ := strconv.Atoi(limit)
	if got, want := rec.Header().Get("Retry-After"), strconv.Itoa(60/max(n, 1)); got != want {
		t.Errorf("Retry-After %q, want %s", got, want)
	}
	if got := rec.Header().Get("X-RateLimit-Limit"); got != limit {
		t.Errorf("X-RateLimit-Limit %q, want %s", got, limit)
	}
	if got := rec.Header().Get("X-RateLimit-Remaining"); got != "0" {
		t.Errorf("X-RateLimit-Remaining %q, want 0", got)
	}
}

// checkIPLimitBeforeAuth floods bogus tokens from one address: 401s up to
// the limit, then 429s that never reach the verifier, for valid tokens
// and anonymous routes too. Another address, the operations routes and
// the webhook are unaffected.
func checkIPLimitBeforeAuth(t *testing.T, h *harness, v *countingVerifier, limit int) {
	t.Helper()
	for i := range limit {
		rec := h.do(request{method: "GET", path: "/api/v1/file/list", token: "bogus", remoteAddr: clientA})
		expectError(t, rec, http.StatusUnauthorized, rpcerr.Unauthorized, "")
		if i == 0 && rec.Header().Get("X-RateLimit-Limit") != "3" {
			t.Errorf("first 401: X-RateLimit-Limit %q, want the address's 3", rec.Header().Get("X-RateLimit-Limit"))
		}
	}
	if n := v.calls.Load(); n != int32(limit) {
		t.Fatalf("%d tokens verified, want %d", n, limit)
	}
	expectLimited(t, h.do(request{method: "GET", path: "/api/v1/file/list", token: "bogus", remoteAddr: clientA}), "3")
	expectLimited(t, h.do(request{method: "GET", path: "/api/v1/file/list", token: userToken, remoteAddr: clientA}), "3")
	expectLimited(t, h.do(request{method: "GET", path: "/api/v1/providers", remoteAddr: clientA}), "3")
	if n := v.calls.Load(); n != int32(limit) {
		t.Errorf("refused requests reached the verifier: %d calls, want %d", n, limit)
	}

	expectError(t, h.do(request{method: "GET", path: "/api/v1/file/list", token: "bogus", remoteAddr: clientB}), http.StatusUnauthorized, rpcerr.Unauthorized, "")
	if rec := h.do(request{method: "GET", path: "/api/v1/file/list", token: userToken, remoteAddr: clientB}); rec.Code != http.StatusOK {
		t.Errorf("another address: %d %s", rec.Code, rec.Body.String())
	}
	for _, path := range []string{"/health", "/ready", "/metrics", "/openapi.json", "/docs", "/docs/swagger-ui.css"} {
		if rec := h.do(request{method: "GET", path: path, remoteAddr: clientA}); rec.Code != http.StatusOK {
			t.Errorf("%s limited: %d", path, rec.Code)
		}
	}
	if rec := h.do(request{method: "POST", path: "/api/v1/webhooks/clerk", body: `{}`, remoteAddr: clientA}); rec.Code != http.StatusNoContent {
		t.Errorf("webhook from a limited address: %d %s", rec.Code, rec.Body.String())
	}
}

func TestIPRateLimitBeforeAuthInMemory(t *testing.T) {
	h, v := ipLimited(t, httpapi.NewMemoryRateLimiter(3), 3)
	checkIPLimitBeforeAuth(t, h, v, 3)
}

// In Redis the per-address counters live under keys of their own: they
// neither feed nor drain the per-user limit's anonymous counters.
func TestIPRateLimitBeforeAuthInRedis(t *testing.T) {
	rk := testkit.Redis(t)
	h, v := ipLimited(t, httpapi.NewRedisRateLimiter(rk.Client, rk.Prefix, 3), 3, func(o *httpapi.Options) {
		o.RateLimiter = httpapi.NewRedisRateLimiter(rk.Client, rk.Prefix, 100)
	})
	checkIPLimitBeforeAuth(t, h, v, 3)

	ctx := context.Background()
	// Each key holds its schedule: the time (µs) by which the requests it
	// admitted are paid off. The address was admitted 3 requests of its
	// limit of 3 a minute (20 s each); its refusals cost nothing.
	now := fixedClock()().UnixMicro()
	perAddress := rk.Prefix + "ratelimit:preauth:203.0.113.5"
	if got, _ := rk.Client.Get(ctx, perAddress).Int64(); got != now+60_000_000 {
		t.Errorf("per-address schedule %d, want now + 60 s (%d)", got, now+60_000_000)
	}
	if ttl := rk.Client.TTL(ctx, perAddress).Val(); ttl <= 0 || ttl > 2*time.Minute {
		t.Errorf("schedule TTL %s", ttl)
	}
	// Of client A's requests only the webhook, which skips the per-address
	// limit, reached the per-user limit's anonymous schedule (100 a
	// minute: 600 ms a request).
	if got, _ := rk.Client.Get(ctx, rk.Prefix+"ratelimit:ip:203.0.113.5").Int64(); got != now+600_000 {
		t.Errorf("per-user anonymous schedule %d, want now + 600 ms (%d): only the webhook", got, now+600_000)
	}
}

// Redis down: the per-address limit lets requests through, like the
// per-user limit, and authentication still answers.
func TestIPRateLimitFailsOpenWithoutRedis(t *testing.T) {
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = dead.Close() })
	h, _ := ipLimited(t, httpapi.NewRedisRateLimiter(dead, "x:", 1), 1)
	for i := range 3 {
		expectError(t, h.do(request{method: "GET", path: "/api/v1/file/list", token: "bogus", remoteAddr: clientA}), http.StatusUnauthorized, rpcerr.Unauthorized, "")
		if rec := h.do(request{method: "GET", path: "/api/v1/file/list", token: userToken, remoteAddr: clientA}); rec.Code != http.StatusOK {
			t.Fatalf("request %d with Redis down: %d %s", i+1, rec.Code, rec.Body.String())
		}
	}
}

// The limit headers of a request that passed both limits are those of the
// one closer to running out.
func TestRateLimitHeadersShowTheTighterLimit(t *testing.T) {
	h, _ := ipLimited(t, httpapi.NewMemoryRateLimiter(3), 3)
	rec := h.do(request{method: "GET", path: "/api/v1/file/list", token: userToken, remoteAddr: clientA})
	if rec.Code != http.StatusOK || rec.Header().Get("X-RateLimit-Limit") != "3" || rec.Header().Get("X-RateLimit-Remaining") != "2" {
		t.Errorf("address tighter: %d limit %q remaining %q", rec.Code, rec.Header().Get("X-RateLimit-Limit"), rec.Header().Get("X-RateLimit-Remaining"))
	}
	h, _ = ipLimited(t, httpapi.NewMemoryRateLimiter(100), 100, func(o *httpapi.Options) {
		o.RateLimiter, o.RateLimit = httpapi.NewMemoryRateLimiter(5), 5
	})
	rec = h.do(request{method: "GET", path: "/api/v1/file/list", token: userToken, remoteAddr: clientA})
	if rec.Code != http.StatusOK || rec.Header().Get("X-RateLimit-Limit") != "5" || rec.Header().Get("X-RateLimit-Remaining") != "4" {
		t.Errorf("user tighter: %d limit %q remaining %q", rec.Code, rec.Header().Get("X-RateLimit-Limit"), rec.Header().Get("X-RateLimit-Remaining"))
	}
}

// httptest's peer, standing in for the load balancer.
const balancer = "192.0.2.1:1234"

func xff(v string) map[string]string { return map[string]string{"X-Forwarded-For": v} }

// Behind a trusted balancer each forwarded client has its own count, and
// what a client prepends to the header does not change whose it is.
func TestIPRateLimitPerForwardedClient(t *testing.T) {
	h, _ := ipLimited(t, httpapi.NewMemoryRateLimiter(2), 2, func(o *httpapi.Options) {
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("192.0.2.1/32")}
	})
	for range 2 {
		expectError(t, h.do(request{method: "GET", path: "/api/v1/file/list", token: "bogus", remoteAddr: balancer, header: xff("198.51.100.1")}),
			http.StatusUnauthorized, rpcerr.Unauthorized, "")
	}
	expectLimited(t, h.do(request{method: "GET", path: "/api/v1/file/list", token: "bogus", remoteAddr: balancer, header: xff("198.51.100.1")}), "2")
	expectLimited(t, h.do(request{method: "GET", path: "/api/v1/file/list", token: "bogus", remoteAddr: balancer, header: xff("10.0.0.9, 198.51.100.1")}), "2")
	for range 2 {
		expectError(t, h.do(request{method: "GET", path: "/api/v1/file/list", token: "bogus", remoteAddr: balancer, header: xff("198.51.100.2")}),
			http.StatusUnauthorized, rpcerr.Unauthorized, "")
	}
	expectLimited(t, h.do(request{method: "GET", path: "/api/v1/file/list", token: "bogus", remoteAddr: balancer, header: xff("198.51.100.2")}), "2")
	// The balancer's own requests (no header) are a client of their own.
	expectError(t, h.do(request{method: "GET", path: "/api/v1/file/list", token: "bogus", remoteAddr: balancer}), http.StatusUnauthorized, rpcerr.Unauthorized, "")
}

// Without trusted proxies X-Forwarded-For is the client's word: a fresh
// value per request does not earn a fresh count.
func TestIPRateLimitIgnoresForwardedForByDefault(t *testing.T) {
	h, _ := ipLimited(t, httpapi.NewMemoryRateLimiter(2), 2)
	for _, spoof := range []string{"198.51.100.1", "198.51.100.2"} {
		expectError(t, h.do(request{method: "GET", path: "/api/v1/file/list", token: "bogus", remoteAddr: balancer, header: xff(spoof)}),
			http.StatusUnauthorized, rpcerr.Unauthorized, "")
	}
	for _, spoof := range []string{"198.51.100.3", "203.0.113.77", ""} {
		expectLimited(t, h.do(request{method: "GET", path: "/api/v1/file/list", token: "bogus", remoteAddr: balancer, header: xff(spoof)}), "2")
	}
}
