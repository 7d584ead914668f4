package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/pkg/telemetry"
)

// Options configures the API.
type Options struct {
	NC       *nats.Conn
	Log      *slog.Logger
	Version  string
	Registry *prometheus.Registry
	// Services are the request-subject service names /ready asks for health.
	Services []string
}

// API holds what the handlers share.
type API struct {
	nc       *nats.Conn
	client   *natsx.Client
	log      *slog.Logger
	version  string
	services []string
	registry *prometheus.Registry
}

// New builds the API.
func New(o Options) *API {
	return &API{
		nc:       o.NC,
		client:   natsx.NewClient(o.NC),
		log:      o.Log,
		version:  o.Version,
		services: o.Services,
		registry: o.Registry,
	}
}

// Router returns the HTTP handler with every route.
func (a *API) Router() http.Handler {
	r := chi.NewRouter()
	r.Get("/health", a.health)
	r.Get("/ready", a.ready)
	r.Method(http.MethodGet, "/metrics", telemetry.MetricsHandler(a.registry))
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, a.log, "not found", rpcerr.New(rpcerr.NotFound, "no such route"))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, a.log, "method not allowed", rpcerr.New(rpcerr.MethodNotAllowed, "method not allowed on this route"))
	})
	return r
}
