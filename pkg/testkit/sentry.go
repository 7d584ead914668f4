package testkit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getsentry/sentry-go"

	"github.com/nonefinity/backend/pkg/telemetry"
)

// SentryItem is one item of an envelope as Sentry's ingest receives it.
type SentryItem struct {
	Type    string // "event", "transaction"…
	Payload []byte
}

// SentryEvent is the part of an error event the tests check.
type SentryEvent struct {
	Tags map[string]string `json:"tags"`
	User struct {
		ID    string `json:"id"`
		Email string `json:"email"`
	} `json:"user"`
	Contexts  map[string]map[string]any `json:"contexts"`
	Exception []struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"exception"`
	Request struct {
		Headers map[string]string `json:"headers"`
	} `json:"request"`
	// Raw is the whole event as sent, for "never contains" checks.
	Raw []byte `json:"-"`
}

// TraceID is the event's trace context id ("" without one).
func (e SentryEvent) TraceID() string {
	id, _ := e.Contexts["trace"]["trace_id"].(string)
	return id
}

// SentryCollector stands in for Sentry's ingest endpoint on loopback and
// keeps every envelope item it receives.
type SentryCollector struct {
	srv *httptest.Server

	mu      sync.Mutex
	items   []SentryItem
	changed chan struct{}
}

// NewSentryCollector starts a collector, closed when the test ends.
func NewSentryCollector(t testing.TB) *SentryCollector {
	t.Helper()
	c := &SentryCollector{changed: make(chan struct{})}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil || !strings.HasSuffix(r.URL.Path, "/envelope/") {
			t.Errorf("sentry collector: unexpected request %s %s (%v)", r.Method, r.URL.Path, err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		items, err := parseEnvelope(body)
		if err != nil {
			t.Errorf("sentry collector: %v\n%s", err, body)
		}
		c.mu.Lock()
		c.items = append(c.items, items...)
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// Sentry starts a collector and points the process's Sentry client at it
// for the rest of the test (telemetry.InitSentry, with its scrubbing), then
// restores the previous client. o's DSN is set to the collector's.
func Sentry(t testing.TB, o telemetry.SentryOptions) (*SentryCollector, func(time.Duration) bool) {
	t.Helper()
	c := NewSentryCollector(t)
	prev := sentry.CurrentHub().Client()
	o.DSN = c.DSN()
	flush, err := telemetry.InitSentry(o)
	if err != nil {
		t.Fatalf("testkit: init sentry: %v", err)
	}
	t.Cleanup(func() { sentry.CurrentHub().BindClient(prev) })
	return c, flush
}

// DSN is a DSN whose host is the collector.
func (c *SentryCollector) DSN() string {
	return "http://public@" + strings.TrimPrefix(c.srv.URL, "http://") + "/1"
}

// Items returns every item received so far.
func (c *SentryCollector) Items() []SentryItem {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]SentryItem(nil), c.items...)
}

// Events returns the error events received so far.
func (c *SentryCollector) Events(t testing.TB) []SentryEvent {
	t.Helper()
	var out []SentryEvent
	for _, it := range c.Items() {
		if it.Type != "event" {
			continue
		}
		var ev SentryEvent
		if err := json.Unmarshal(it.Payload, &ev); err != nil {
			t.Fatalf("testkit: sentry event: %v\n%s", err, it.Payload)
		}
		ev.Raw = it.Payload
		out = append(out, ev)
	}
	return out
}

// WaitEvent returns the first error event match accepts, waiting up to
// timeout for it to arrive.
func (c *SentryCollector) WaitEvent(t testing.TB, timeout time.Duration, what string, match func(SentryEvent) bool) SentryEvent {
	t.Helper()
	deadline := time.After(timeout)
	for {
		c.mu.Lock()
		changed := c.changed
		c.mu.Unlock()
		for _, ev := range c.Events(t) {
			if match(ev) {
				return ev
			}
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("testkit: no sentry event %s within %s; got %d events", what, timeout, len(c.Events(t)))
		}
	}
}

// WaitErrorID returns the error event tagged with errorID.
func (c *SentryCollector) WaitErrorID(t testing.TB, timeout time.Duration, errorID string) SentryEvent {
	t.Helper()
	return c.WaitEvent(t, timeout, "with error_id "+errorID, func(ev SentryEvent) bool { return ev.Tags["error_id"] == errorID })
}

// WaitPoisonEvent waits for the error event a consumer (durable) sends
// for a message it gave up on, and checks that the event names the
// failure (want, in its last exception) and carries owner only hashed.
func (c *SentryCollector) WaitPoisonEvent(t testing.TB, timeout time.Duration, durable, want, owner string) SentryEvent {
	t.Helper()
	ev := c.WaitEvent(t, timeout, "of a poison message of "+durable, func(ev SentryEvent) bool {
		return ev.Tags["durable"] == durable && ev.Tags["error_id"] != ""
	})
	if len(ev.Exception) == 0 || !strings.Contains(ev.Exception[len(ev.Exception)-1].Value, want) {
		t.Errorf("testkit: poison event %s does not say %q", ev.Raw, want)
	}
	if ev.User.ID != telemetry.HashUserID(owner) || strings.Contains(string(ev.Raw), owner) {
		t.Errorf("testkit: poison event shows the owner unhashed: %s", ev.Raw)
	}
	return ev
}

// parseEnvelope splits an envelope: a header line, then per item a header
// line and a payload of "length" bytes (or up to the next newline).
func parseEnvelope(b []byte) ([]SentryItem, error) {
	r := bufio.NewReader(bytes.NewReader(b))
	if _, err := r.ReadBytes('\n'); err != nil {
		return nil, fmt.Errorf("envelope header: %w", err)
	}
	var items []SentryItem
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
			return items, fmt.Errorf("item header %q: %w", line, err)
		}
		var payload []byte
		if hdr.Length != nil {
			payload = make([]byte, *hdr.Length)
			if _, err := io.ReadFull(r, payload); err != nil {
				return items, fmt.Errorf("item payload: %w", err)
			}
		} else {
			payload, _ = r.ReadBytes('\n')
		}
		items = append(items, SentryItem{Type: hdr.Type, Payload: bytes.TrimSpace(payload)})
	}
}
