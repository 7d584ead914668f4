// Package opsserver is the small HTTP server a service run alone offers
// operators on OPS_ADDR: GET /metrics (Prometheus) and GET /health (the
// service's dependency checks, as its NATS health operation answers them).
// It is not the API: it has no authentication and must not be reachable
// from outside the deployment's network.
package opsserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nonefinity/backend/contracts/healthv1"
	"github.com/nonefinity/backend/pkg/health"
	"github.com/nonefinity/backend/pkg/telemetry"
)

// Options configures Start.
type Options struct {
	// Service and Version name the process in /health.
	Service, Version string
	// Registry is what /metrics serves.
	Registry *prometheus.Registry
	// Checks are the dependencies /health checks (nats, mongodb…); a
	// failing one makes it answer 503 "degraded".
	Checks map[string]health.Check
	Log    *slog.Logger
}

// Server is a running ops server.
type Server struct {
	srv  *http.Server
	addr net.Addr
	done chan error
}

// Start listens on addr and serves /metrics and /health until Close.
func Start(addr string, o Options) (*Server, error) {
	if o.Registry == nil {
		return nil, errors.New("opsserver: a registry is required")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("OPS_ADDR: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", telemetry.MetricsHandler(o.Registry))
	mux.Handle("GET /health", healthHandler(health.Handler(o.Service, o.Version, o.Checks)))
	s := &Server{
		srv:  &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second},
		addr: ln.Addr(),
		done: make(chan error, 1),
	}
	if o.Log != nil {
		s.srv.ErrorLog = slog.NewLogLogger(o.Log.Handler(), slog.LevelWarn)
		o.Log.Info("ops server listening", "addr", s.addr.String())
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Addr is where the server listens (the port chosen for ":0").
func (s *Server) Addr() net.Addr { return s.addr }

// Close stops the server, letting a scrape in progress finish.
func (s *Server) Close(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if serveErr := <-s.done; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}

// healthHandler answers the health reply as JSON: 200 when every check
// passes, 503 when one fails, so a load balancer or orchestrator can act on
// the status alone.
func healthHandler(check func(context.Context, healthv1.Request) (healthv1.Reply, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reply, err := check(r.Context(), healthv1.Request{})
		status := http.StatusOK
		if err != nil || reply.Status != healthv1.StatusOK {
			status = http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(reply)
	})
}
