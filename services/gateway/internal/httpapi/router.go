package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"time"

	sentryhttp "github.com/getsentry/sentry-go/http"
	"github.com/go-chi/chi/v5"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nonefinity/backend/contracts/client"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/pkg/telemetry"
	"github.com/nonefinity/backend/services/gateway/internal/mcpapi"
)

// DefaultRequestTimeout bounds the service call of an API request when
// Options.RequestTimeout is zero.
const DefaultRequestTimeout = 30 * time.Second

// Options configures the API. NC, Log, Verifier and Identities are
// required; the optional handlers are left out of the router (and the
// OpenAPI document) when nil.
type Options struct {
	NC       *nats.Conn
	Log      *slog.Logger
	Version  string
	Registry *prometheus.Registry
	// Services are the request-subject service names /ready asks for health.
	Services []string
	// Requester carries the API routes' service calls; default a natsx
	// client over NC. It is measured either way.
	Requester client.Requester

	Verifier   TokenVerifier
	Identities IdentityResolver
	Users      UserGetter
	// APIKeys, when set, admits personal API keys wherever a session
	// token is admitted and serves /api/v1/api-keys.
	APIKeys APIKeys
	// Minter serves GET /api/v1/auth/create-token; nil (prod) leaves the
	// route out, so it answers 404.
	Minter TokenMinter
	// AdminClerkIDs get the admin role whatever their token says.
	AdminClerkIDs []string

	// Webhooks handles POST /api/v1/webhooks/clerk.
	Webhooks http.Handler
	// JWKS serves GET /.well-known/jwks.json (dev auth's public key).
	JWKS http.Handler
	// Events serves GET /api/v1/events (Server-Sent Events); it finds the
	// caller's user id in reqctx.
	Events http.Handler
	// EventTickets, with Events, serves POST /api/v1/events/ticket and
	// admits its tickets on GET /api/v1/events.
	EventTickets EventTickets

	// RateLimiter counts requests; nil disables rate limiting.
	RateLimiter RateLimiter
	// RateLimit is the number of requests per minute RateLimiter allows
	// (shown in X-RateLimit-Limit).
	RateLimit int
	// KeyRateLimiter counts the requests of each API key (besides its
	// user's); nil disables that limit. Like IPRateLimiter it must be a
	// limiter of its own.
	KeyRateLimiter RateLimiter
	// KeyRateLimit is the number of requests per minute KeyRateLimiter
	// allows one key.
	KeyRateLimit int
	// IPRateLimiter counts every API request by client address before
	// authentication (webhooks excepted); nil disables that limit. It must
	// not be the RateLimiter itself: each carries its own limit.
	IPRateLimiter RateLimiter
	// IPRateLimit is the number of requests per minute IPRateLimiter
	// allows.
	IPRateLimit int
	// TrustedProxies are the peers whose X-Forwarded-For names the client
	// address (see ParseTrustedProxies); empty trusts none.
	TrustedProxies []netip.Prefix
	// Now is the rate limiters' clock; default time.Now.
	Now func() time.Time

	CORSOrigins []string
	// HSTS adds Strict-Transport-Security (prod, behind TLS).
	HSTS bool
	// RequestTimeout bounds each API route's service call; default
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
	// ProvidersFreshFor is how long GET /providers is answered from the
	// body written last; default providersFreshFor (1s).
	ProvidersFreshFor time.Duration
	// HTTPClient fetches dataset exports from the presigned URL the
	// service grants; default one without an overall timeout (exports
	// stream) but with connect and header timeouts.
	HTTPClient *http.Client
	// UploadRelayBytes is what the part buffers of one multipart upload
	// relay may hold; default DefaultUploadRelayBytes.
	UploadRelayBytes int64
}

// API holds what the handlers share.
type API struct {
	nc             *nats.Conn
	client         *natsx.Client
	log            *slog.Logger
	version        string
	services       []string
	registry       *prometheus.Registry
	metrics        *metrics
	requestTimeout time.Duration
	httpClient     *http.Client
	relayBytes     int64

	credentials client.Credential
	// providers keeps GET /providers' bodies for a moment.
	providers *replyCache
	files     client.File
	datasets  client.Dataset

	verifier   TokenVerifier
	identities IdentityResolver
	users      UserGetter
	apiKeys    APIKeys
	minter     TokenMinter
	adminIDs   map[string]bool

	webhooks http.Handler
	jwks     http.Handler
	events   http.Handler
	tickets  EventTickets
	// mcp serves the MCP endpoint (mcpapi).
	mcp http.Handler

	rateLimit    *rateLimit
	keyRateLimit *rateLimit
	ipRateLimit  *rateLimit
	now          func() time.Time
	corsOrigins  []string
	hsts         bool

	openapiOnce sync.Once
	openapiJSON []byte
	openapiErr  error
}

// New builds the API.
func New(o Options) (*API, error) {
	if o.NC == nil || o.Log == nil || o.Verifier == nil || o.Identities == nil {
		return nil, errors.New("httpapi: NC, Log, Verifier and Identities are required")
	}
	if o.Registry == nil {
		o.Registry = telemetry.NewRegistry()
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.HTTPClient == nil {
		o.HTTPClient = defaultExportClient()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.UploadRelayBytes <= 0 {
		o.UploadRelayBytes = DefaultUploadRelayBytes
	}
	if o.ProvidersFreshFor <= 0 {
		o.ProvidersFreshFor = providersFreshFor
	}
	natsClient := natsx.NewClient(o.NC)
	if o.Requester == nil {
		o.Requester = natsClient
	}
	m := newMetrics(o.Registry)
	req := timedRequester{next: o.Requester, hist: m.nats}
	a := &API{
		nc:             o.NC,
		client:         natsClient,
		log:            o.Log,
		version:        o.Version,
		services:       o.Services,
		registry:       o.Registry,
		metrics:        m,
		requestTimeout: o.RequestTimeout,
		httpClient:     o.HTTPClient,
		relayBytes:     o.UploadRelayBytes,
		credentials:    client.Credential{R: req},
		providers:      newReplyCache(o.ProvidersFreshFor, time.Now),
		files:          client.File{R: req},
		datasets:       client.Dataset{R: req},
		verifier:       o.Verifier,
		identities:     o.Identities,
		users:          o.Users,
		apiKeys:        o.APIKeys,
		now:            o.Now,
		minter:         o.Minter,
		adminIDs:       map[string]bool{},
		webhooks:       o.Webhooks,
		jwks:           o.JWKS,
		events:         o.Events,
		tickets:        o.EventTickets,
		corsOrigins:    o.CORSOrigins,
		hsts:           o.HSTS,
	}
	mcpServer, err := mcpapi.New(mcpapi.Options{
		Datasets: a.datasets, Files: a.files, Log: o.Log, Registry: o.Registry, Version: o.Version,
		Timeout: o.RequestTimeout, Public: a.publicError,
	})
	if err != nil {
		return nil, err
	}
	a.mcp = mcpServer.Handler()
	for _, id := range o.AdminClerkIDs {
		a.adminIDs[id] = true
	}
	if o.RateLimiter != nil && o.RateLimit > 0 {
		a.rateLimit = &rateLimit{limiter: o.RateLimiter, limit: o.RateLimit, trusted: o.TrustedProxies, timeout: rateLimitTimeout, now: o.Now, log: o.Log}
	}
	if o.KeyRateLimiter != nil && o.KeyRateLimit > 0 {
		a.keyRateLimit = &rateLimit{limiter: o.KeyRateLimiter, limit: o.KeyRateLimit, perKey: true, trusted: o.TrustedProxies, timeout: rateLimitTimeout, now: o.Now, log: o.Log}
	}
	if o.IPRateLimiter != nil && o.IPRateLimit > 0 {
		a.ipRateLimit = &rateLimit{limiter: o.IPRateLimiter, limit: o.IPRateLimit, preAuth: true, trusted: o.TrustedProxies, timeout: rateLimitTimeout, now: o.Now, log: o.Log}
	}
	return a, nil
}

// Router returns the HTTP handler with every route. Middleware order, from
// the outside: Sentry (a hub and transaction per request), request id,
// access log and metrics, panic recovery, security headers, CORS; then per
// route the per-address limit, authentication, the per-user and per-key
// limits, and the scope or admin check.
func (a *API) Router() http.Handler {
	r := chi.NewRouter()
	r.Use(
		// Repanic: a handler that aborts a response it has begun (a list
		// whose later page failed) must reach net/http, which then resets
		// the connection instead of ending a cut body cleanly.
		sentryhttp.New(sentryhttp.Options{Repanic: true}).Handle,
		requestMeta,
		a.observe,
		a.recoverPanics,
		securityHeaders(a.hsts),
		corsPolicy(a.corsOrigins),
	)
	for _, rt := range a.routes() {
		r.With(a.guards(rt)...).Method(rt.method, rt.path, rt.handler)
	}
	a.mountDocs(r)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, a.log, "", rpcerr.New(rpcerr.NotFound, "no such route"))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, a.log, "", rpcerr.New(rpcerr.MethodNotAllowed, "method not allowed on this route"))
	})
	return r
}

// guards are the middlewares a route needs. The per-address limit comes
// before authentication so that a flood of bogus tokens is refused before
// each costs a signature check.
func (a *API) guards(rt route) []func(http.Handler) http.Handler {
	var gs []func(http.Handler) http.Handler
	if rt.access != accessOps && !rt.exemptIPLimit {
		gs = append(gs, a.ipRateLimit.middleware)
	}
	switch rt.access {
	case accessPublic:
		gs = append(gs, a.rateLimit.middleware)
	case accessUser:
		authn := a.authenticate
		if rt.ticketAuth {
			authn = a.authenticateEvents
		}
		gs = append(gs, authn, a.rateLimit.middleware, a.keyRateLimit.middleware, a.requireScope(rt))
	case accessAdmin:
		gs = append(gs, a.authenticate, a.rateLimit.middleware, a.keyRateLimit.middleware, a.requireScope(rt), a.requireAdmin)
	}
	return gs
}

// callCtx bounds one service call by the request timeout; the deadline
// travels to the service in Nf-Deadline.
func (a *API) callCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), a.requestTimeout)
}

// reject answers a request the gateway refuses before any service call.
func (a *API) reject(w http.ResponseWriter, e *rpcerr.Error) {
	writeError(w, a.log, "", e)
}
