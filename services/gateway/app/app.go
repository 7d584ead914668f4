// Package app wires the gateway: the HTTP server in front of the services.
// cmd/gateway runs it alone; services/all runs it next to the services.
package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/pkg/config"
	"github.com/nonefinity/backend/pkg/mongox"
	"github.com/nonefinity/backend/pkg/telemetry"
	"github.com/nonefinity/backend/services/gateway/internal/apikeys"
	"github.com/nonefinity/backend/services/gateway/internal/auth"
	"github.com/nonefinity/backend/services/gateway/internal/httpapi"
	"github.com/nonefinity/backend/services/gateway/internal/sse"
	"github.com/nonefinity/backend/services/gateway/internal/sseticket"
	"github.com/nonefinity/backend/services/gateway/internal/users"
	"github.com/nonefinity/backend/services/gateway/internal/webhook"
)

// Name is the process name.
const Name = "gateway"

// Version is the gateway's semantic version.
const Version = "0.1.0"

// shutdownGrace bounds how long in-flight HTTP requests may finish.
const shutdownGrace = 15 * time.Second

// minUploadRelayBytes is the least GATEWAY_UPLOAD_RELAY_BYTES: two parts
// of S3's minimum size.
const minUploadRelayBytes = 10 << 20

// redisPrefix starts every Redis key the gateway writes (rate-limit
// counters, cached identities).
const redisPrefix = "nf:gateway:"

// Settings are the variables only the gateway reads: Clerk's and its own.
// services/all holds them too, as its Gateway.
type Settings struct {
	// Clerk verifies session tokens and webhooks (CLERK_*, ADMIN_CLERK_IDS).
	Clerk auth.Config
	// RateLimitPerMinute is how many API requests one user (or, without a
	// token, one address) may make per minute; 0 turns limiting off.
	RateLimitPerMinute int `env:"RATE_LIMIT_PER_MINUTE" envDefault:"120"`
	// RateLimitIPPerMinute is how many API requests one client address may
	// make per minute, counted before the token is checked (webhooks
	// excepted); 0 turns it off.
	RateLimitIPPerMinute int `env:"RATE_LIMIT_IP_PER_MINUTE" envDefault:"600"`
	// TrustedProxies are the load balancers (CIDRs or addresses) whose
	// X-Forwarded-For names the client; empty trusts the peer address.
	TrustedProxies []string `env:"TRUSTED_PROXIES"`
	// RequestTimeout bounds each API request's call to a service.
	RequestTimeout config.Duration `env:"GATEWAY_REQUEST_TIMEOUT" envDefault:"30s"`
	// UploadRelayBytes is what one multipart upload relay may hold in part
	// buffers: parts are PUT concurrently while it allows (at least one
	// while the next is read). Default 24 MiB, three 8 MiB parts.
	UploadRelayBytes int64 `env:"GATEWAY_UPLOAD_RELAY_BYTES" envDefault:"25165824"`
	// SSEHeartbeat is the keep-alive interval of GET /api/v1/events.
	SSEHeartbeat config.Duration `env:"SSE_HEARTBEAT_INTERVAL" envDefault:"15s"`
	// SSEMaxPerUser caps one user's open event streams per instance.
	SSEMaxPerUser int `env:"SSE_MAX_CONNECTIONS_PER_USER" envDefault:"10"`
	// APIKeyPepper is the HMAC key under which personal API keys are
	// stored (at least 32 characters). Required in prod; elsewhere, when
	// empty, one is generated once under DATA_DIR (see apiKeyPepper).
	// Changing it invalidates every key.
	APIKeyPepper string `env:"APP_API_KEY_PEPPER"`
	// APIKeyMaxPerUser caps the API keys one user may hold.
	APIKeyMaxPerUser int `env:"API_KEY_MAX_PER_USER" envDefault:"25"`
	// APIKeyCacheTTL is how long an instance trusts a key it looked up;
	// invalidation events act sooner, this bounds a missed one.
	APIKeyCacheTTL config.Duration `env:"API_KEY_CACHE_TTL" envDefault:"30s"`
	// RateLimitPerKeyPerMinute is how many requests one API key may make
	// per minute (its user's limit applies too); 0 turns it off.
	RateLimitPerKeyPerMinute int `env:"RATE_LIMIT_PER_KEY_PER_MINUTE" envDefault:"60"`
}

// DefaultSettings are the Settings as an empty environment gives them, for
// callers that do not load them from the environment (tests).
func DefaultSettings() Settings { return config.Defaults[Settings]() }

// Normalize trims the comma-separated Clerk lists as config.Base does its
// own.
func (s *Settings) Normalize() {
	s.Clerk.AuthorizedParties = config.CleanList(s.Clerk.AuthorizedParties)
	s.Clerk.AdminIDs = config.CleanList(s.Clerk.AdminIDs)
}

// Validate checks the settings on their own; Config.Validate adds the
// checks that need config.Base too (CheckDevAuth).
func (s Settings) Validate() error {
	var errs []error
	if s.RateLimitPerMinute < 0 {
		errs = append(errs, config.VarError{Var: "RATE_LIMIT_PER_MINUTE", Problem: "must not be negative"})
	}
	if s.RateLimitIPPerMinute < 0 {
		errs = append(errs, config.VarError{Var: "RATE_LIMIT_IP_PER_MINUTE", Problem: "must not be negative"})
	}
	if _, err := httpapi.ParseTrustedProxies(s.TrustedProxies); err != nil {
		errs = append(errs, config.VarError{Var: "TRUSTED_PROXIES", Problem: err.Error()})
	}
	if s.RequestTimeout <= 0 {
		errs = append(errs, config.VarError{Var: "GATEWAY_REQUEST_TIMEOUT", Problem: "must be greater than zero"})
	}
	if s.UploadRelayBytes < minUploadRelayBytes {
		errs = append(errs, config.VarError{Var: "GATEWAY_UPLOAD_RELAY_BYTES", Problem: fmt.Sprintf("must be at least %d (two parts of S3's 5 MiB minimum)", minUploadRelayBytes)})
	}
	if s.SSEHeartbeat <= 0 {
		errs = append(errs, config.VarError{Var: "SSE_HEARTBEAT_INTERVAL", Problem: "must be greater than zero"})
	}
	if s.SSEMaxPerUser < 1 {
		errs = append(errs, config.VarError{Var: "SSE_MAX_CONNECTIONS_PER_USER", Problem: "must be at least 1"})
	}
	if s.APIKeyPepper != "" && len(s.APIKeyPepper) < apikeys.MinPepperLen {
		errs = append(errs, config.VarError{Var: "APP_API_KEY_PEPPER", Problem: fmt.Sprintf("must be at least %d characters", apikeys.MinPepperLen)})
	}
	if s.APIKeyMaxPerUser < 1 {
		errs = append(errs, config.VarError{Var: "API_KEY_MAX_PER_USER", Problem: "must be at least 1"})
	}
	if s.APIKeyCacheTTL <= 0 || time.Duration(s.APIKeyCacheTTL) > 5*time.Minute {
		errs = append(errs, config.VarError{Var: "API_KEY_CACHE_TTL", Problem: "must be greater than zero and at most 5m"})
	}
	if s.RateLimitPerKeyPerMinute < 0 {
		errs = append(errs, config.VarError{Var: "RATE_LIMIT_PER_KEY_PER_MINUTE", Problem: "must not be negative"})
	}
	return errors.Join(append(errs, s.Clerk.Check())...)
}

// Config is the gateway's configuration. It declares Validate and
// Normalize itself: Base and Settings both have them at the same depth, so
// Go promotes neither.
type Config struct {
	config.Base
	Settings
}

// Validate checks the shared rules and the gateway's own.
func (c Config) Validate() error {
	return errors.Join(c.Base.Validate(), c.Settings.Validate(), CheckDevAuth(c.Base, c.Settings), CheckPepper(c.Base, c.Settings))
}

// Normalize tidies the shared variables and the gateway's own.
func (c *Config) Normalize() {
	c.Base.Normalize()
	c.Settings.Normalize()
}

// CheckPepper requires APP_API_KEY_PEPPER in prod, where a generated one
// would differ between instances; services/all runs it too.
func CheckPepper(base config.Base, s Settings) error {
	if base.IsProd() && s.APIKeyPepper == "" {
		return config.VarError{Var: "APP_API_KEY_PEPPER", Problem: "is required when APP_ENV=prod (at least 32 random characters, the same on every gateway instance)"}
	}
	return nil
}

// CheckDevAuth refuses dev auth next to a real Clerk secret (see
// auth.CheckDevAuth); services/all runs it on its own configuration too.
func CheckDevAuth(base config.Base, s Settings) error { return auth.CheckDevAuth(base, s.Clerk) }

// Deps are the connections the gateway works with.
type Deps struct {
	NC  *nats.Conn
	DB  *mongo.Database
	Log *slog.Logger
	// Redis, when set, holds the rate-limit counters and cached identities
	// shared by every gateway instance. When nil and REDIS_URL or
	// REDIS_HOST is configured, Run connects itself; otherwise both stay
	// in process.
	Redis redis.UniversalClient
	// HTTPClient carries JWKS, Clerk Backend API and export downloads;
	// nil uses defaults.
	HTTPClient *http.Client
	// Listener, when set, is served instead of listening on APP_HOST:APP_PORT
	// (tests and services/all pass one bound to the port they chose).
	Listener net.Listener
	// Ready, when set, is called with the address once the server listens.
	Ready func(addr net.Addr)
	// Metrics, when set, is the registry /metrics serves (services/all
	// shares one with its services); nil makes a fresh one.
	Metrics *prometheus.Registry
}

// Run serves HTTP until ctx is cancelled, then lets in-flight requests finish.
func Run(ctx context.Context, cfg Config, d Deps) error {
	if err := cfg.Settings.Validate(); err != nil {
		return err
	}
	log := d.Log
	js, err := jetstream.New(d.NC)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	rdb := d.Redis
	if rdb == nil && cfg.Base.Redis.Enabled() {
		opts, err := cfg.Base.Redis.Options()
		if err != nil {
			return err
		}
		client := redis.NewClient(opts)
		defer client.Close()
		rdb = client
	}

	authn, err := auth.New(ctx, cfg.Base, cfg.Clerk, log, d.HTTPClient)
	if err != nil {
		return err
	}
	defer authn.Close()

	dbHealth := mongox.WatchHealth(ctx, d.DB.Client(), mongox.HealthOptions{Logger: log})
	defer dbHealth.Stop()
	userSvc := users.New(users.Options{DB: d.DB, Redis: rdb, RedisPrefix: redisPrefix, Log: log, Available: dbHealth.Err})
	if err := userSvc.EnsureIndexes(ctx); err != nil {
		return fmt.Errorf("users indexes: %w", err)
	}
	keys, err := startAPIKeys(ctx, cfg, d, dbHealth.Err)
	if err != nil {
		return err
	}
	defer keys.stop()
	hooks, err := webhook.New(webhook.Options{
		Secrets: webhook.ParseSecrets(cfg.Clerk.WebhookSecret),
		Users:   userSvc, Erasers: []webhook.Eraser{keyEraser{keys.svc}}, DB: d.DB, JS: js, Log: log,
	})
	if err != nil {
		return err
	}
	if _, err := hooks.EnsureIndexes(ctx); err != nil {
		return fmt.Errorf("webhook indexes: %w", err)
	}
	sweepCtx, stopSweep := context.WithCancel(ctx)
	defer stopSweep()
	go hooks.RunSweeper(sweepCtx, 0)

	events := sse.New(js, sse.Options{Heartbeat: time.Duration(cfg.SSEHeartbeat), MaxPerUser: cfg.SSEMaxPerUser, Log: log})
	// Tickets go where the rate-limit counters go: Redis when configured, so
	// a ticket one instance issued opens a stream on any other.
	var ticketStore sseticket.Store = sseticket.NewMemoryStore(nil)
	if rdb != nil {
		ticketStore = sseticket.NewRedisStore(rdb, redisPrefix)
	}
	opts := httpapi.Options{
		NC:             d.NC,
		Log:            log,
		Version:        Version,
		Registry:       cmp.Or(d.Metrics, telemetry.NewRegistry()),
		Services:       []string{contracts.ServiceCredential, contracts.ServiceFile, contracts.ServiceDataset},
		Verifier:       tokenVerifier{v: authn.Verifier},
		Identities:     identityResolver{u: userSvc},
		Users:          userSvc,
		APIKeys:        keys.svc,
		AdminClerkIDs:  cfg.Clerk.AdminIDs,
		Webhooks:       hooks,
		JWKS:           authn.JWKSHandler,
		Events:         events,
		EventTickets:   sseticket.New(sseticket.Options{Store: ticketStore}),
		CORSOrigins:    cfg.CORSOrigins,
		HSTS:           cfg.IsProd(),
		RequestTimeout: time.Duration(cfg.RequestTimeout),
		HTTPClient:     d.HTTPClient,

		UploadRelayBytes: cfg.UploadRelayBytes,
	}
	if authn.Minter != nil {
		opts.Minter = tokenMinter{m: authn.Minter}
	}
	// Checked above; the error cannot happen here.
	opts.TrustedProxies, _ = httpapi.ParseTrustedProxies(cfg.TrustedProxies)
	newLimiter := func(limit int) httpapi.RateLimiter {
		if rdb != nil {
			return httpapi.NewRedisRateLimiter(rdb, redisPrefix, limit)
		}
		return httpapi.NewMemoryRateLimiter(limit)
	}
	if cfg.RateLimitPerMinute > 0 {
		opts.RateLimit = cfg.RateLimitPerMinute
		opts.RateLimiter = newLimiter(cfg.RateLimitPerMinute)
	}
	if cfg.RateLimitPerKeyPerMinute > 0 {
		opts.KeyRateLimit = cfg.RateLimitPerKeyPerMinute
		opts.KeyRateLimiter = newLimiter(cfg.RateLimitPerKeyPerMinute)
	}
	if cfg.RateLimitIPPerMinute > 0 {
		opts.IPRateLimit = cfg.RateLimitIPPerMinute
		opts.IPRateLimiter = newLimiter(cfg.RateLimitIPPerMinute)
	}
	api, err := httpapi.New(opts)
	if err != nil {
		return err
	}

	ln := d.Listener
	if ln == nil {
		ln, err = net.Listen("tcp", net.JoinHostPort(cfg.App.ListenHost(), strconv.Itoa(cfg.App.Port)))
		if err != nil {
			return fmt.Errorf("listen: %w", err)
		}
	}
	srv := &http.Server{
		Handler:           api.Router(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Event streams live until the client leaves; Shutdown ends them
	// rather than waiting for that.
	srv.RegisterOnShutdown(events.Close)
	if d.Ready != nil {
		d.Ready(ln.Addr())
	}
	log.Info("http listening", "addr", ln.Addr().String(), "dev_auth", authn.Dev, "rate_limit", cfg.RateLimitPerMinute,
		"ip_rate_limit", cfg.RateLimitIPPerMinute, "trusted_proxies", cfg.TrustedProxies, "redis", rdb != nil)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	return nil
}

// tokenVerifier adapts auth.Verifier to the router's TokenVerifier.
type tokenVerifier struct{ v *auth.Verifier }

func (t tokenVerifier) Verify(ctx context.Context, token string) (httpapi.Principal, error) {
	c, err := t.v.Verify(ctx, token)
	if err != nil {
		if errors.Is(err, auth.ErrKeysUnavailable) {
			return httpapi.Principal{}, fmt.Errorf("%w: %w", httpapi.ErrAuthUnavailable, err)
		}
		return httpapi.Principal{}, err
	}
	return httpapi.Principal{
		Subject: c.Subject, Issuer: c.Issuer, SessionID: c.SessionID, AuthorizedParty: c.AuthorizedParty,
		Role: c.Role, IssuedAt: c.IssuedAt, ExpiresAt: c.ExpiresAt,
	}, nil
}

// identityResolver adapts users.Service to the router's IdentityResolver.
type identityResolver struct{ u *users.Service }

func (i identityResolver) Resolve(ctx context.Context, clerkID string) (httpapi.Identity, error) {
	id, err := i.u.Resolve(ctx, clerkID)
	if err != nil {
		return httpapi.Identity{}, err
	}
	return httpapi.Identity{UserID: id.UserID, ClerkID: id.ClerkID, Banned: id.Banned}, nil
}

// tokenMinter adapts auth.TokenMinter, mapping its errors to the statuses
// the API answers with.
type tokenMinter struct{ m auth.TokenMinter }

func (t tokenMinter) Mint(ctx context.Context, clerkID, role string) (httpapi.MintedToken, error) {
	r, err := t.m.Mint(ctx, clerkID, role)
	if err != nil {
		return httpapi.MintedToken{}, auth.MintError(err)
	}
	return httpapi.MintedToken(r), nil
}

var _ httpapi.UserGetter = (*users.Service)(nil)
