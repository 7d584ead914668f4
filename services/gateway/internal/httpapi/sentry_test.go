package httpapi_test

import (
	"bufio"
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

	"github.com/nonefinity/backend/pkg/telemetry"
)

// sentryIngest stands in for Sentry's ingest endpoint and keeps every
// envelope item it receives.
type sentryIngest struct {
	srv   *httptest.Server
	items chan sentryItem
}

type sentryItem struct {
	Type    string
	Payload []byte
}

func newSentryIngest(t *testing.T) *sentryIngest {
	t.Helper()
	in := &sentryIngest{items: make(chan sentryItem, 256)}
	in.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		items, err := splitEnvelope(body)
		if err != nil {
			t.Errorf("ingest: %v", err)
		}
		for _, it := range items {
			in.items <- it
		}
	}))
	t.Cleanup(in.srv.Close)
	return in
}

func (in *sentryIngest) dsn() string {
	return "http://public@" + strings.TrimPrefix(in.srv.URL, "http://") + "/1"
}

// drain returns every item received so far.
func (in *sentryIngest) drain() []sentryItem {
	var out []sentryItem
	for {
		select {
		case it := <-in.items:
			out = append(out, it)
		default:
			return out
		}
	}
}

// splitEnvelope parses a Sentry envelope: a header line, then per item a
// header line and its payload.
func splitEnvelope(b []byte) ([]sentryItem, error) {
	r := bufio.NewReader(bytes.NewReader(b))
	if _, err := r.ReadBytes('\n'); err != nil {
		return nil, fmt.Errorf("envelope header: %w", err)
	}
	var items []sentryItem
	for {
		line, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) == 0 {
			if err != nil {
				return items, nil
			}
			continue
		}
		var hdr struct {
			Type   string `json:"type"`
			Length *int   `json:"length"`
		}
		if err := json.Unmarshal(line, &hdr); err != nil {
			return items, err
		}
		var payload []byte
		if hdr.Length != nil {
			payload = make([]byte, *hdr.Length)
			if _, err := io.ReadFull(r, payload); err != nil {
				return items, err
			}
		} else {
			payload, _ = r.ReadBytes('\n')
		}
		items = append(items, sentryItem{Type: hdr.Type, Payload: bytes.TrimSpace(payload)})
	}
}

// A panicking route reaches Sentry with its error id and without the
// caller's Authorization, Cookie or webhook signature; health routes send
// no transaction while API routes do.
func TestSentryGetsScrubbedPanicsAndNoHealthTraces(t *testing.T) {
	ingest := newSentryIngest(t)
	prev := sentry.CurrentHub().Client()
	flush, err := telemetry.InitSentry(telemetry.SentryOptions{DSN: ingest.dsn(), TracesSampleRate: 1, SendDefaultPII: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sentry.CurrentHub().BindClient(prev) })

	h := newHarness(t, allServices, withWebhooks(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("webhook handler bug")
	})))
	rec := h.do(request{method: "POST", path: "/api/v1/webhooks/clerk", body: `{"type":"user.created"}`, header: map[string]string{
		"Authorization":  "Bearer sentry-secret-token",
		"Cookie":         "__session=sentry-secret-cookie",
		"svix-signature": "v1,sentry-secret-signature",
	}})
	env := expectError(t, rec, 500, "internal", "")
	for _, path := range []string{"/health", "/ready", "/metrics"} {
		h.do(request{method: "GET", path: path})
	}
	h.do(request{method: "GET", path: "/api/v1/credentials/" + sampleID, token: userToken})
	if !flush(5 * time.Second) {
		t.Fatal("sentry flush timed out")
	}

	items := ingest.drain()
	var event []byte
	var transactions []string
	for _, it := range items {
		switch it.Type {
		case "event":
			event = it.Payload
		case "transaction":
			var tx struct {
				Transaction string `json:"transaction"`
			}
			_ = json.Unmarshal(it.Payload, &tx)
			transactions = append(transactions, tx.Transaction)
		}
		for _, secret := range []string{"sentry-secret-token", "sentry-secret-cookie", "sentry-secret-signature"} {
			if bytes.Contains(it.Payload, []byte(secret)) {
				t.Errorf("%s item leaks %s: %s", it.Type, secret, it.Payload)
			}
		}
	}
	if event == nil {
		t.Fatalf("no error event reached the ingest (items %d)", len(items))
	}
	var ev struct {
		Tags    map[string]string `json:"tags"`
		Request struct {
			Headers map[string]string `json:"headers"`
		} `json:"request"`
	}
	if err := json.Unmarshal(event, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Tags["error_id"] != env.Errors[0].ErrorID {
		t.Errorf("event error_id %q, response %q", ev.Tags["error_id"], env.Errors[0].ErrorID)
	}
	if got := ev.Request.Headers["Authorization"]; got != telemetry.Filtered {
		t.Errorf("Authorization in event = %q", got)
	}
	if !bytes.Contains(event, []byte("webhook handler bug")) {
		t.Error("event does not carry the panic")
	}
	for _, tx := range transactions {
		if strings.Contains(tx, "/health") || strings.Contains(tx, "/ready") || strings.Contains(tx, "/metrics") {
			t.Errorf("health route traced: %q", tx)
		}
	}
	want := "GET /api/v1/credentials/{id}"
	found := false
	for _, tx := range transactions {
		found = found || tx == want
	}
	if !found {
		t.Errorf("transactions %q lack %q (named by route, not raw path)", transactions, want)
	}
}
