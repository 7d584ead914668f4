package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/redis/go-redis/v9"

	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/gateway/internal/httpapi"
)

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

func TestCORS(t *testing.T) {
	h := newHarness(t, allServices)
	pre := h.do(request{method: "OPTIONS", path: "/api/v1/credentials", header: map[string]string{
		"Origin":                         "http://localhost:5173",
		"Access-Control-Request-Method":  "POST",
		"Access-Control-Request-Headers": "authorization, content-type",
	}})
	if pre.Code != http.StatusOK && pre.Code != http.StatusNoContent {
		t.Fatalf("preflight status %d: %s", pre.Code, pre.Body.String())
	}
	hd := pre.Header()
	if hd.Get("Access-Control-Allow-Origin") != "http://localhost:5173" || hd.Get("Access-Control-Allow-Credentials") != "true" ||
		!strings.Contains(hd.Get("Access-Control-Allow-Methods"), "POST") ||
		!strings.Contains(strings.ToLower(hd.Get("Access-Control-Allow-Headers")), "authorization") {
		t.Errorf("preflight headers %v", hd)
	}
	// A simple request from the allowed origin gets the headers too, and
	// the request id is readable by the page.
	rec := h.do(request{method: "GET", path: "/api/v1/providers", header: map[string]string{"Origin": "http://localhost:5173"}})
	if rec.Header().Get("Access-Control-Allow-Origin") != "http://localhost:5173" ||
		!strings.Contains(rec.Header().Get("Access-Control-Expose-Headers"), "X-Request-Id") {
		t.Errorf("simple request headers %v", rec.Header())
	}
	// Another origin gets nothing.
	evil := h.do(request{method: "OPTIONS", path: "/api/v1/credentials", header: map[string]string{
		"Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
	}})
	if evil.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("foreign origin allowed: %v", evil.Header())
	}
}

func TestSecurityHeaders(t *testing.T) {
	h := newHarness(t, nil, func(o *httpapi.Options) { o.HSTS = true })
	for _, path := range []string{"/api/v1/providers", "/health", "/docs", "/api/v1/nothing"} {
		rec := h.do(request{method: "GET", path: path, token: userToken})
		hd := rec.Header()
		if hd.Get("X-Content-Type-Options") != "nosniff" || hd.Get("X-Frame-Options") != "DENY" ||
			hd.Get("Referrer-Policy") != "no-referrer" || !strings.Contains(hd.Get("Strict-Transport-Security"), "max-age=") {
			t.Errorf("%s: headers %v", path, hd)
		}
		csp := hd.Get("Content-Security-Policy")
		if path == "/docs" {
			if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("/docs CSP %q", csp)
			}
		} else if !strings.HasPrefix(csp, "default-src 'none'") {
			t.Errorf("%s CSP %q", path, csp)
		}
	}
	noHSTS := newHarness(t, nil)
	if v := noHSTS.do(request{method: "GET", path: "/health"}).Header().Get("Strict-Transport-Security"); v != "" {
		t.Errorf("HSTS outside prod: %q", v)
	}
}

// fixedClock is a rate limiter clock in the middle of a minute, so a test
// never straddles a window boundary.
func fixedClock() func() time.Time {
	now := time.Date(2025, 3, 14, 9, 26, 30, 0, time.UTC)
	return func() time.Time { return now }
}

// checkRateLimit makes limit+1 requests as one user at one instant: the
// last is a 429 with Retry-After (until the next request is due, a
// minute/limit later); another user and an
// anonymous caller still get through.
func checkRateLimit(t *testing.T, h *harness, limit int) {
	t.Helper()
	for i := range limit {
		rec := h.do(request{method: "GET", path: "/api/v1/file/list", token: userToken})
		if rec.Code != http.StatusOK {
			t.Fatalf("request %d: %d %s", i+1, rec.Code, rec.Body.String())
		}
	}
	rec := h.do(request{method: "GET", path: "/api/v1/file/list", token: userToken})
	expectError(t, rec, http.StatusTooManyRequests, rpcerr.RateLimited, "")
	if got, want := rec.Header().Get("Retry-After"), strconv.Itoa(60/limit); got != want {
		t.Errorf("Retry-After %q, want %s", got, want)
	}
	if rec.Header().Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("X-RateLimit-Remaining %q", rec.Header().Get("X-RateLimit-Remaining"))
	}
	if rec := h.do(request{method: "GET", path: "/api/v1/file/list", token: userBToken}); rec.Code != http.StatusOK {
		t.Errorf("another user limited too: %d", rec.Code)
	}
	if rec := h.do(request{method: "GET", path: "/api/v1/providers"}); rec.Code != http.StatusOK {
		t.Errorf("anonymous caller limited by the user's count: %d", rec.Code)
	}
	// Operations routes are never limited.
	if rec := h.do(request{method: "GET", path: "/health"}); rec.Code != http.StatusOK {
		t.Errorf("/health limited: %d", rec.Code)
	}
}

func TestRateLimitInMemory(t *testing.T) {
	h := newHarness(t, allServices, func(o *httpapi.Options) {
		o.RateLimiter, o.RateLimit, o.Now = httpapi.NewMemoryRateLimiter(3), 3, fixedClock()
	})
	checkRateLimit(t, h, 3)
}

// With Redis, counters are shared: two gateway instances together allow
// the limit once.
func TestRateLimitInRedisIsShared(t *testing.T) {
	rk := testkit.Redis(t)
	limiter := func(o *httpapi.Options) {
		o.RateLimiter, o.RateLimit, o.Now = httpapi.NewRedisRateLimiter(rk.Client, rk.Prefix, 4), 4, fixedClock()
	}
	h := newHarness(t, allServices, limiter)
	other, err := httpapi.New(h.opts)
	if err != nil {
		t.Fatal(err)
	}
	otherRouter := other.Router()
	for range 2 {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/file/list", nil)
		req.Header.Set("Authorization", "Bearer "+userToken)
		rec := httptest.NewRecorder()
		otherRouter.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("second instance: %d", rec.Code)
		}
	}
	for range 2 {
		if rec := h.do(request{method: "GET", path: "/api/v1/file/list", token: userToken}); rec.Code != http.StatusOK {
			t.Fatalf("first instance: %d", rec.Code)
		}
	}
	expectError(t, h.do(request{method: "GET", path: "/api/v1/file/list", token: userToken}), http.StatusTooManyRequests, rpcerr.RateLimited, "")
	key := rk.Prefix + "ratelimit:user:" + userAID
	if ttl := rk.Client.TTL(context.Background(), key).Val(); ttl <= 0 || ttl > 2*time.Minute {
		t.Errorf("schedule TTL %s", ttl)
	}
}

// Redis down: requests go through (fail open) instead of failing.
func TestRateLimitFailsOpenWithoutRedis(t *testing.T) {
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = dead.Close() })
	h := newHarness(t, allServices, func(o *httpapi.Options) {
		o.RateLimiter, o.RateLimit, o.Now = httpapi.NewRedisRateLimiter(dead, "x:", 1), 1, fixedClock()
	})
	for i := range 3 {
		if rec := h.do(request{method: "GET", path: "/api/v1/file/list", token: userToken}); rec.Code != http.StatusOK {
			t.Fatalf("request %d with Redis down: %d %s", i+1, rec.Code, rec.Body.String())
		}
	}
}

// A panic becomes a 500 envelope with an error id; the server survives.
func TestPanicIs500WithErrorID(t *testing.T) {
	h := newHarness(t, allServices, withWebhooks(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("webhook handler bug")
	})))
	env := expectError(t, h.do(request{method: "POST", path: "/api/v1/webhooks/clerk", body: `{}`}), 500, rpcerr.Internal, "")
	if len(env.Errors[0].ErrorID) != 16 || strings.Contains(env.Message, "webhook handler bug") {
		t.Errorf("error %+v", env.Errors[0])
	}
	if rec := h.do(request{method: "GET", path: "/health"}); rec.Code != 200 {
		t.Errorf("after a panic /health = %d", rec.Code)
	}
}

func TestWebhookAndJWKSAreMounted(t *testing.T) {
	var hookCalls atomic.Int32
	h := newHarness(t, nil,
		withWebhooks(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hookCalls.Add(1)
			if r.Header.Get("Authorization") != "" {
				t.Error("webhook saw an Authorization header it did not send")
			}
			w.WriteHeader(http.StatusNoContent)
		})),
		func(o *httpapi.Options) {
			o.JWKS = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"keys":[]}`)
			})
		})
	// No bearer token needed for either.
	if rec := h.do(request{method: "POST", path: "/api/v1/webhooks/clerk", body: `{"type":"x"}`}); rec.Code != http.StatusNoContent || hookCalls.Load() != 1 {
		t.Errorf("webhook: %d, calls %d", rec.Code, hookCalls.Load())
	}
	if rec := h.do(request{method: "GET", path: "/.well-known/jwks.json"}); rec.Code != 200 || rec.Body.String() != `{"keys":[]}` {
		t.Errorf("jwks: %d %s", rec.Code, rec.Body.String())
	}
}

// Metrics count requests by route pattern (never the raw path) and time
// NATS requests by subject.
func TestMetrics(t *testing.T) {
	h := newHarness(t, allServices)
	h.do(request{method: "GET", path: "/api/v1/credentials/" + sampleID, token: userToken})
	h.do(request{method: "GET", path: "/api/v1/credentials/bad", token: userToken})
	rec := h.do(request{method: "GET", path: "/metrics"})
	body := rec.Body.String()
	for _, want := range []string{
		`http_requests_total{method="GET",route="/api/v1/credentials/{id}",status="200"} 1`,
		`http_requests_total{method="GET",route="/api/v1/credentials/{id}",status="404"} 1`,
		`http_request_duration_seconds_count{method="GET",route="/api/v1/credentials/{id}"} 2`,
		`nats_request_duration_seconds_count{outcome="ok",subject="svc.credential.v1.get"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, sampleID) {
		t.Error("a raw id became a label value")
	}
}

// GET /datasets/{id}/export streams the object the service's presigned
// URL points at, with the name and type the service chose.
func TestExportStreamsFromStorage(t *testing.T) {
	s3 := testkit.S3(t)
	ctx := context.Background()
	content := strings.Repeat("a,b\n1,2\n", 1000)
	if _, err := s3.Client.PutObject(ctx, s3.Bucket, "users/u/datasets/x/export.csv", strings.NewReader(content), int64(len(content)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	u, err := s3.Client.PresignedGetObject(ctx, s3.Bucket, "users/u/datasets/x/export.csv", time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, allServices)
	h.stubs.answer(dv1.Subject(dv1.OpExport), reply(dv1.ExportReply{URL: u.String(), ContentType: "text/csv", FileName: "sales.csv", ExpiresIn: 60}))
	rec := h.do(request{method: "GET", path: "/api/v1/datasets/" + sampleID + "/export?format=csv", token: userToken})
	if rec.Code != 200 || rec.Body.String() != content {
		t.Fatalf("export: %d, %d bytes", rec.Code, rec.Body.Len())
	}
	if rec.Header().Get("Content-Type") != "text/csv" || rec.Header().Get("Content-Disposition") != `attachment; filename=sales.csv` {
		t.Errorf("headers %v", rec.Header())
	}
	if c := h.stubs.lastCall(t, dv1.Subject(dv1.OpExport)); !jsonEqual(t, c.Body, `{"id":"`+sampleID+`","format":"csv"}`) {
		t.Errorf("service request %s", c.Body)
	}
	// Storage that does not answer is a 503, not a 500 or a hang.
	h.stubs.answer(dv1.Subject(dv1.OpExport), reply(dv1.ExportReply{URL: "http://127.0.0.1:1/gone", ContentType: "text/csv"}))
	expectError(t, h.do(request{method: "GET", path: "/api/v1/datasets/" + sampleID + "/export", token: userToken}),
		http.StatusServiceUnavailable, rpcerr.Unavailable, "")
}

// The health route answers with the envelope; /ready lists each service.
func TestHealthAndReady(t *testing.T) {
	h := newHarness(t, allServices)
	rec := h.do(request{method: "GET", path: "/health"})
	env := decodeEnvelope(t, rec)
	if rec.Code != 200 || !jsonEqual(t, env.Data, `{"status":"ok","service":"gateway","version":"test"}`) {
		t.Errorf("/health %d %s", rec.Code, rec.Body.String())
	}
	rec = h.do(request{method: "GET", path: "/ready"})
	env = decodeEnvelope(t, rec)
	if rec.Code != 200 || !jsonEqual(t, env.Data, `{"nats":"ok","credential":"ok","file":"ok","dataset":"ok"}`) {
		t.Errorf("/ready %d %s", rec.Code, rec.Body.String())
	}
}

// The access log names the route pattern, status and user, and never the
// query string or the token.
func TestAccessLog(t *testing.T) {
	var buf bytes.Buffer
	h := newHarness(t, allServices, func(o *httpapi.Options) { o.Log = newJSONLogger(&buf) })
	h.do(request{method: "GET", path: "/api/v1/file/search?q=secret-query&token=leak", token: userToken, header: map[string]string{"X-Request-ID": "log-req-1"}})
	var line map[string]any
	for l := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "http request" {
			line = m
		}
	}
	if line == nil {
		t.Fatalf("no access log line in %s", buf.String())
	}
	if line["route"] != "/api/v1/file/search" || line["status"] != float64(200) || line["user_id"] != userAID ||
		line["method"] != "GET" || line["request_id"] != "log-req-1" || line["duration_ms"] == nil || line["bytes"] == nil {
		t.Errorf("access log %v", line)
	}
	if strings.Contains(buf.String(), "secret-query") || strings.Contains(buf.String(), userToken) || strings.Contains(buf.String(), "leak") {
		t.Errorf("log leaks the query or token: %s", buf.String())
	}
}
