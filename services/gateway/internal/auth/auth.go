// Package auth verifies Clerk session tokens for the gateway, decides each
// caller's role, and in dev mode runs a local stand-in for Clerk.
//
// Production (CLERK_ISSUER set): a Verifier backed by Clerk's JWKS
// (RemoteJWKS), cached and refreshed in the background and on key rotation.
// Dev (APP_ENV=dev, no CLERK_ISSUER): the gateway's own RSA key under
// DATA_DIR (DevKeys), its JWKS for /.well-known/jwks.json, and a minter for
// GET /api/v1/auth/create-token; tokens go through the same Verifier.
//
// Environment variables read through config.Base (pkg/config):
//
//	APP_ENV                   dev|prod; create-token exists only in dev
//	DATA_DIR                  the dev key is DATA_DIR/gateway/dev-jwt-key.pem
//
// and through Config (gateway only):
//
//	CLERK_ISSUER              iss of Clerk session tokens; empty selects dev auth (dev only)
//	CLERK_JWKS_URL            default {CLERK_ISSUER}/.well-known/jwks.json
//	CLERK_AUTHORIZED_PARTIES  comma-separated azp values accepted; empty: azp not checked
//	CLERK_ROLE_CLAIM          dotted claim path of the role, default metadata.role
//	ADMIN_CLERK_IDS           comma-separated Clerk user ids that are always admin
//	CLERK_SECRET_KEY          in dev only with CLERK_DEV_CREATE_TOKEN (see CheckDevAuth)
//	CLERK_WEBHOOK_SECRET      svix signing secret(s) of the Clerk webhook (the webhook package)
//	CLERK_JWT_LEEWAY          clock-skew allowance for exp/nbf/iat, default 30s
//	CLERK_API_URL             Clerk Backend API base, default https://api.clerk.com
//	CLERK_DEV_CREATE_TOKEN    dev opt-in: create-token mints Clerk sessions with CLERK_SECRET_KEY
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/nonefinity/backend/pkg/config"
	"github.com/nonefinity/backend/pkg/logx"
)

// maxLeeway caps CLERK_JWT_LEEWAY: more than a few minutes would make exp
// meaningless for Clerk's 60-second session tokens.
const maxLeeway = 5 * time.Minute

// Config holds the Clerk settings, which only the gateway reads. The
// gateway's Settings hold it (as Clerk) next to config.Base so one
// config.Load fills both.
type Config struct {
	SecretKey     string `env:"CLERK_SECRET_KEY"`
	WebhookSecret string `env:"CLERK_WEBHOOK_SECRET"`
	Issuer        string `env:"CLERK_ISSUER"`
	JWKSURL       string `env:"CLERK_JWKS_URL"`
	// AuthorizedParties are checked against azp when set.
	AuthorizedParties []string `env:"CLERK_AUTHORIZED_PARTIES"`
	RoleClaim         string   `env:"CLERK_ROLE_CLAIM" envDefault:"metadata.role"`
	AdminIDs          []string `env:"ADMIN_CLERK_IDS"`

	JWTLeeway   time.Duration `env:"CLERK_JWT_LEEWAY" envDefault:"30s"`
	ClerkAPIURL string        `env:"CLERK_API_URL" envDefault:"https://api.clerk.com"`
	// ClerkDevCreateToken lets the unauthenticated create-token route of a
	// dev gateway mint real Clerk sessions with CLERK_SECRET_KEY; see
	// CheckDevAuth for the conditions.
	ClerkDevCreateToken bool `env:"CLERK_DEV_CREATE_TOKEN" envDefault:"false"`
}

// DefaultConfig is Config with its documented defaults (its envDefault
// tags).
func DefaultConfig() Config { return config.Defaults[Config]() }

// Check validates the gateway-only settings. It is not called Validate on
// purpose: a struct embedding both config.Base and Config would then have
// two Validate methods at the same depth, and Go would promote neither, so
// config.Load would silently skip Base's checks.
func (c Config) Check() error {
	if c.JWTLeeway < time.Second || c.JWTLeeway > maxLeeway {
		return config.VarError{Var: "CLERK_JWT_LEEWAY", Problem: "must be between 1s and 5m"}
	}
	return nil
}

// clerkLiveKeyPrefix starts the secret keys of Clerk production instances.
const clerkLiveKeyPrefix = "sk_live_"

// CheckDevAuth keeps dev auth and real Clerk secrets apart. In APP_ENV=dev
// GET /auth/create-token answers anyone who can reach the gateway, so a
// CLERK_SECRET_KEY there would hand out sessions of any Clerk user (and an
// unset APP_ENV means dev). Refused, with the variables named and never
// their values:
//
//   - CLERK_SECRET_KEY in dev without CLERK_ISSUER: the gateway signs its own
//     tokens and has no use for the key;
//   - CLERK_SECRET_KEY in dev with CLERK_ISSUER, unless CLERK_DEV_CREATE_TOKEN
//     opts in to minting Clerk sessions — and the opt-in holds only with a
//     development instance's key (not sk_live_) on a loopback APP_HOST;
//   - CLERK_DEV_CREATE_TOKEN anywhere it would not apply.
func CheckDevAuth(cfg config.Base, gw Config) error {
	secret := strings.TrimSpace(gw.SecretKey) != ""
	issuer := strings.TrimSpace(gw.Issuer) != ""
	bad := func(name, problem string) error { return config.VarError{Var: name, Problem: problem} }
	switch {
	case !cfg.App.IsDev():
		if gw.ClerkDevCreateToken {
			return bad("CLERK_DEV_CREATE_TOKEN", "only applies with APP_ENV=dev")
		}
		return nil
	case secret && !issuer:
		return bad("CLERK_SECRET_KEY", "must not be set with dev auth (APP_ENV=dev without CLERK_ISSUER); unset it, or set APP_ENV=prod with CLERK_ISSUER")
	case secret && !gw.ClerkDevCreateToken:
		return bad("CLERK_SECRET_KEY", "set while APP_ENV=dev would let anyone mint Clerk sessions through /auth/create-token; "+
			"set APP_ENV=prod, unset CLERK_SECRET_KEY, or opt in with CLERK_DEV_CREATE_TOKEN=true")
	case !gw.ClerkDevCreateToken:
		return nil
	case !secret || !issuer:
		return bad("CLERK_DEV_CREATE_TOKEN", "needs CLERK_ISSUER and CLERK_SECRET_KEY")
	case strings.HasPrefix(strings.TrimSpace(gw.SecretKey), clerkLiveKeyPrefix):
		return bad("CLERK_DEV_CREATE_TOKEN", "refused with a production instance's CLERK_SECRET_KEY (sk_live_); use a development instance's key")
	case !isLoopbackHost(cfg.App.ListenHost()):
		return bad("CLERK_DEV_CREATE_TOKEN", "needs a loopback APP_HOST (127.0.0.1, ::1 or localhost): create-token answers without a token")
	}
	return nil
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && ip.IsLoopback()
}

// Auth is the gateway's authentication, built from configuration.
type Auth struct {
	// Verifier checks every Bearer token.
	Verifier *Verifier
	// Minter backs GET /api/v1/auth/create-token; nil when that route must
	// not exist (prod, or dev with Clerk but no CLERK_SECRET_KEY).
	Minter TokenMinter
	// JWKSHandler serves the dev key's JWKS at /.well-known/jwks.json; nil
	// with Clerk (Clerk publishes its own).
	JWKSHandler http.Handler
	// Dev reports dev auth: tokens are signed by the gateway, not Clerk.
	Dev bool

	remote *RemoteJWKS
}

// Close stops the background JWKS refresher, if any.
func (a *Auth) Close() {
	if a.remote != nil {
		a.remote.Close()
	}
}

// New builds the verifier (and in dev the minter and JWKS) for the
// configuration:
//
//   - CLERK_ISSUER set: Clerk's JWKS, fetched now (a failure is logged, not
//     returned) and refreshed until ctx ends or Close; in dev with
//     CLERK_SECRET_KEY also a Clerk Backend API minter.
//   - APP_ENV=dev without CLERK_ISSUER: dev keys under DATA_DIR and a dev minter.
//   - APP_ENV=prod without CLERK_ISSUER: an error.
//
// httpClient (nil: a default client) carries JWKS and Backend API calls;
// each call has its own timeout.
func New(ctx context.Context, cfg config.Base, gw Config, log *slog.Logger, httpClient *http.Client) (*Auth, error) {
	if log == nil {
		log = logx.Discard()
	}
	if err := errors.Join(gw.Check(), CheckDevAuth(cfg, gw)); err != nil {
		return nil, err
	}
	if httpClient == nil {
		httpClient = &http.Client{}
	}
	roles := NewRoleResolver(gw.RoleClaim, gw.AdminIDs)
	issuer := strings.TrimSpace(gw.Issuer)

	if issuer == "" {
		if !cfg.App.IsDev() {
			return nil, config.VarError{Var: "CLERK_ISSUER", Problem: "required unless APP_ENV=dev"}
		}
		return newDevAuth(cfg, gw, roles, log)
	}

	jwksURL := strings.TrimSpace(gw.JWKSURL)
	if jwksURL == "" {
		jwksURL = strings.TrimRight(issuer, "/") + "/.well-known/jwks.json"
	}
	remote, err := NewRemoteJWKS(RemoteJWKSConfig{URL: jwksURL, Client: httpClient, Log: log})
	if err != nil {
		return nil, config.VarError{Var: "CLERK_JWKS_URL", Problem: err.Error()}
	}
	verifier, err := NewVerifier(VerifierConfig{
		Issuer:            issuer,
		AuthorizedParties: gw.AuthorizedParties,
		Leeway:            gw.JWTLeeway,
		Keys:              remote,
		Roles:             roles,
	})
	if err != nil {
		return nil, fmt.Errorf("auth verifier: %w", err)
	}
	a := &Auth{Verifier: verifier, remote: remote}
	if cfg.App.IsDev() && gw.ClerkDevCreateToken {
		minter, err := NewClerkMinter(ClerkMinterConfig{SecretKey: gw.SecretKey, BaseURL: gw.ClerkAPIURL, Client: httpClient})
		if err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
		a.Minter = minter
	}
	remote.Start(ctx)
	log.Info("auth: clerk", "issuer", issuer, "jwks", jwksURL, "role_claim", roles.ClaimPath(),
		"authorized_parties", len(gw.AuthorizedParties), "create_token", a.Minter != nil)
	return a, nil
}

func newDevAuth(cfg config.Base, gw Config, roles RoleResolver, log *slog.Logger) (*Auth, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("dev auth needs DATA_DIR for its signing key")
	}
	keys, err := LoadDevKeys(cfg.DataDir, roles.ClaimPath())
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	source, err := keys.KeySource()
	if err != nil {
		return nil, fmt.Errorf("auth: dev jwks: %w", err)
	}
	verifier, err := NewVerifier(VerifierConfig{
		Issuer:            DevIssuer,
		AuthorizedParties: gw.AuthorizedParties,
		Leeway:            gw.JWTLeeway,
		Keys:              source,
		Roles:             roles,
	})
	if err != nil {
		return nil, fmt.Errorf("auth verifier: %w", err)
	}
	log.Info("auth: dev tokens signed by the gateway", "issuer", DevIssuer, "kid", keys.KeyID())
	return &Auth{
		Verifier:    verifier,
		Minter:      NewDevMinter(keys),
		JWKSHandler: keys.JWKSHandler(),
		Dev:         true,
	}, nil
}
