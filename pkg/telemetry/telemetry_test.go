package telemetry_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/getsentry/sentry-go"
	sentryhttp "github.com/getsentry/sentry-go/http"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nonefinity/backend/pkg/telemetry"
	"github.com/nonefinity/backend/pkg/testkit"
)

// firstItem is the first received item of type typ; flush first.
func firstItem(t *testing.T, c *testkit.SentryCollector, typ string) testkit.SentryItem {
	t.Helper()
	for _, it := range c.Items() {
		if it.Type == typ {
			return it
		}
	}
	t.Fatalf("no %s item reached the collector", typ)
	return testkit.SentryItem{}
}

func TestSentryEventsLeaveWithoutSecrets(t *testing.T) {
	// SendDefaultPII makes the SDK attach every header and cookie, so what
	// is filtered below is filtered by our scrubber, not by the SDK.
	ingest, flush := testkit.Sentry(t, telemetry.SentryOptions{Environment: "test", SendDefaultPII: true})

	const (
		jwt       = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyXzEifQ.c2lnbmF0dXJlLXNlY3JldA"
		apiKey    = "sk-live-0123456789abcdef"
		cookieVal = "cookie-secret-value"
		errToken  = "errbearer-secret-123"
	)
	secrets := []string{jwt, apiKey, cookieVal, errToken, "svix-sig-secret", "refresh-secret",
		"query-token-secret", "amz-sig-secret", "sse-ticket-secret", "body-password-secret", "ctx-password-secret",
		"tag-key-secret", "crumb-token-secret", "mongo-pass-secret"}

	req := httptest.NewRequest(http.MethodPost,
		"https://api.example.com/api/v1/files?token=query-token-secret&page=2&X-Amz-Signature=amz-sig-secret&ticket=sse-ticket-secret", nil)
	req.Header.Set("Authorization", "Bearer "+jwt)
	req.Header.Set("Cookie", "__session="+cookieVal)
	req.Header.Set("X-Api-Key", apiKey)
	req.Header.Set("Svix-Signature", "v1,svix-sig-secret")
	req.Header.Set("X-Refresh-Token", "refresh-secret")
	req.Header.Set("User-Agent", "scrub-test-agent")

	// The secrets are attached in helpers: the SDK ships the source lines
	// around the capturing line, and those must not spell them out here.
	hub := hubCarryingSecrets(req)
	hub.CaptureException(upstreamError(errToken))
	if !flush(5 * time.Second) {
		t.Fatal("flush timed out")
	}

	payload := firstItem(t, ingest, "event").Payload
	for _, s := range secrets {
		if bytes.Contains(payload, []byte(s)) {
			t.Errorf("event sent to Sentry contains %q", s)
		}
	}

	var ev struct {
		Request struct {
			Headers     map[string]string `json:"headers"`
			Cookies     string            `json:"cookies"`
			QueryString string            `json:"query_string"`
			Data        string            `json:"data"`
		} `json:"request"`
		Exception []struct {
			Value string `json:"value"`
		} `json:"exception"`
		Contexts    map[string]map[string]any `json:"contexts"`
		Tags        map[string]string         `json:"tags"`
		Breadcrumbs []struct {
			Data map[string]any `json:"data"`
		} `json:"breadcrumbs"`
	}
	if err := json.Unmarshal(payload, &ev); err != nil {
		t.Fatalf("event JSON: %v\n%s", err, payload)
	}
	for _, h := range []string{"Authorization", "Cookie", "X-Api-Key", "Svix-Signature", "X-Refresh-Token"} {
		if got := ev.Request.Headers[h]; got != telemetry.Filtered {
			t.Errorf("header %s = %q, want %q", h, got, telemetry.Filtered)
		}
	}
	if ev.Request.Headers["User-Agent"] != "scrub-test-agent" {
		t.Errorf("harmless header lost: %v", ev.Request.Headers)
	}
	if ev.Request.Cookies != telemetry.Filtered {
		t.Errorf("cookies = %q", ev.Request.Cookies)
	}
	if want := "token=[Filtered]&page=2&X-Amz-Signature=[Filtered]&ticket=[Filtered]"; ev.Request.QueryString != want {
		t.Errorf("query = %q, want %q", ev.Request.QueryString, want)
	}
	if ev.Request.Data != "" {
		t.Errorf("request body sent: %q", ev.Request.Data)
	}
	if len(ev.Exception) == 0 || !strings.Contains(ev.Exception[0].Value, "upstream said 401") ||
		!strings.Contains(ev.Exception[0].Value, "[REDACTED]") {
		t.Errorf("exception message lost: %+v", ev.Exception)
	}
	if ev.Contexts["database"]["password"] != telemetry.Filtered || ev.Contexts["database"]["host"] != "db-1" {
		t.Errorf("context = %v", ev.Contexts["database"])
	}
	if ev.Tags["api_key"] != telemetry.Filtered {
		t.Errorf("tags = %v", ev.Tags)
	}
	if len(ev.Breadcrumbs) != 1 || ev.Breadcrumbs[0].Data["token"] != telemetry.Filtered || ev.Breadcrumbs[0].Data["attempt"] != 2.0 {
		t.Errorf("breadcrumbs = %+v", ev.Breadcrumbs)
	}
}

// hubCarryingSecrets returns a hub whose scope holds a request, a body,
// a context, a tag and a breadcrumb, each with a secret in it.
func hubCarryingSecrets(req *http.Request) *sentry.Hub {
	hub := sentry.CurrentHub().Clone()
	hub.Scope().SetRequest(req)
	hub.Scope().SetRequestBody([]byte(`{"password":"body-password-secret"}`))
	hub.Scope().SetContext("database", sentry.Context{"password": "ctx-password-secret", "host": "db-1"})
	hub.Scope().SetTag("api_key", "tag-key-secret")
	hub.AddBreadcrumb(&sentry.Breadcrumb{Message: "calling upstream", Data: map[string]any{"token": "crumb-token-secret", "attempt": 2}}, nil)
	return hub
}

func upstreamError(token string) error {
	return fmt.Errorf("upstream said 401 for Authorization: Bearer %s (store mongodb://app:mongo-pass-secret@db-1/app)", token)
}

func TestHealthRoutesAreNotTraced(t *testing.T) {
	ingest, flush := testkit.Sentry(t, telemetry.SentryOptions{TracesSampleRate: 1})

	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }
	mux.HandleFunc("/health", ok)
	mux.HandleFunc("/ready", ok)
	mux.HandleFunc("/metrics", ok)
	mux.HandleFunc("/api/v1/files", ok)
	h := sentryhttp.New(sentryhttp.Options{}).Handle(mux)
	for _, path := range []string{"/health", "/ready", "/metrics?x=1", "/api/v1/files?token=abc"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
	}
	if !flush(5 * time.Second) {
		t.Fatal("flush timed out")
	}

	// flush guarantees nothing is still queued.
	tx := firstItem(t, ingest, "transaction")
	if bytes.Contains(tx.Payload, []byte("token=abc")) || !bytes.Contains(tx.Payload, []byte("token=[Filtered]")) {
		t.Errorf("transaction query string not scrubbed: %s", tx.Payload)
	}
	var names []string
	for _, it := range ingest.Items() {
		if it.Type != "transaction" {
			continue
		}
		var ev struct {
			Transaction string `json:"transaction"`
		}
		if err := json.Unmarshal(it.Payload, &ev); err != nil {
			t.Fatal(err)
		}
		names = append(names, ev.Transaction)
	}
	if len(names) != 1 || names[0] != "GET /api/v1/files" {
		t.Fatalf("transactions sent = %q, want only GET /api/v1/files", names)
	}
}

func TestTracesSampler(t *testing.T) {
	sample := telemetry.TracesSampler(0.25)
	cases := []struct {
		name   string
		parent sentry.Sampled
		want   float64
	}{
		{"GET /health", sentry.SampledUndefined, 0},
		{"GET /ready/", sentry.SampledUndefined, 0},
		{"/metrics", sentry.SampledUndefined, 0},
		{"GET /health", sentry.SampledTrue, 0},
		{"GET /api/v1/files", sentry.SampledUndefined, 0.25},
		{"GET /credentials/encryption/health", sentry.SampledUndefined, 0.25},
		{"POST /api/v1/files", sentry.SampledTrue, 1},
		{"POST /api/v1/files", sentry.SampledFalse, 0},
	}
	for _, c := range cases {
		got := sample(sentry.SamplingContext{Span: &sentry.Span{Name: c.name}, ParentSampled: c.parent})
		if got != c.want {
			t.Errorf("sampler(%q, parent %v) = %v, want %v", c.name, c.parent, got, c.want)
		}
	}
}

func TestInitSentryWithoutDSNIsANoOp(t *testing.T) {
	prev := sentry.CurrentHub().Client()
	flush, err := telemetry.InitSentry(telemetry.SentryOptions{TracesSampleRate: 1})
	if err != nil || flush == nil || !flush(time.Millisecond) {
		t.Fatalf("InitSentry without DSN: err %v, flush usable %v", err, flush != nil)
	}
	if sentry.CurrentHub().Client() != prev {
		t.Fatal("InitSentry without DSN replaced the hub's client")
	}
}

func TestInitSentryRejectsBadConfigWithoutEchoingTheDSN(t *testing.T) {
	_, err := telemetry.InitSentry(telemetry.SentryOptions{DSN: "http://dsnkeysecret@[::1/1"})
	if err == nil || strings.Contains(err.Error(), "dsnkeysecret") {
		t.Fatalf("bad DSN: err = %v", err)
	}
	_, err = telemetry.InitSentry(telemetry.SentryOptions{DSN: "http://public@127.0.0.1:1/1", TracesSampleRate: 1.5})
	if err == nil || !strings.Contains(err.Error(), "traces") {
		t.Fatalf("rate 1.5: err = %v", err)
	}
}

func TestMetricsHandlerServesRuntimeAndOwnMetrics(t *testing.T) {
	reg := telemetry.NewRegistry()
	hits := prometheus.NewCounter(prometheus.CounterOpts{Name: "nf_test_hits_total", Help: "test counter"})
	reg.MustRegister(hits)
	hits.Add(3)

	srv := httptest.NewServer(telemetry.MetricsHandler(reg))
	defer srv.Close()
	_ = telemetry.MetricsHandler(reg) // a second handler on the same registry must not panic

	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	text := string(body)
	for _, want := range []string{"go_goroutines ", "process_cpu_seconds_total", "nf_test_hits_total 3"} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if n := strings.Count(text, "\ngo_goroutines "); n != 1 {
		t.Errorf("go_goroutines appears %d times", n)
	}
}
