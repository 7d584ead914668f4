package testkit

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// HealthStandIn answers GET /health in place of a running service, with the
// status the test sets; tests of health probes ask it.
type HealthStandIn struct {
	// Addr is the loopback host:port it listens on.
	Addr   string
	server *httptest.Server
	status atomic.Int64
}

// HealthServer starts a HealthStandIn answering 200; it stops when the test
// ends or at Close.
func HealthServer(t testing.TB) *HealthStandIn {
	t.Helper()
	h := &HealthStandIn{}
	h.status.Store(http.StatusOK)
	h.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(int(h.status.Load()))
	}))
	h.Addr = strings.TrimPrefix(h.server.URL, "http://")
	t.Cleanup(h.server.Close)
	return h
}

// SetStatus makes /health answer status from now on.
func (h *HealthStandIn) SetStatus(status int) { h.status.Store(int64(status)) }

// Close stops listening, as a process that died would.
func (h *HealthStandIn) Close() { h.server.Close() }
