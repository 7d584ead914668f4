package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/getsentry/sentry-go"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/contracts/userv1"
	"github.com/nonefinity/backend/pkg/reqctx"
	keyaccess "github.com/nonefinity/backend/services/gateway/internal/access"
)

// Principal is what a verified session token says about the caller.
type Principal struct {
	Subject         string    `json:"sub" doc:"Clerk user id"`
	Issuer          string    `json:"iss"`
	SessionID       string    `json:"sid,omitempty"`
	AuthorizedParty string    `json:"azp,omitempty"`
	Role            string    `json:"role,omitempty" doc:"Role claim of the token, if any"`
	IssuedAt        time.Time `json:"iat,omitzero"`
	ExpiresAt       time.Time `json:"exp,omitzero"`
}

// TokenVerifier checks a bearer token. An error wrapping
// ErrAuthUnavailable means the keys to check it could not be had (503);
// any other error means the token is not acceptable (401).
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (Principal, error)
}

// ErrAuthUnavailable is wrapped by a TokenVerifier that cannot verify
// tokens right now, e.g. because the JWKS was never fetched.
var ErrAuthUnavailable = errors.New("token verification unavailable")

// Identity is the internal user a Clerk id maps to.
type Identity struct {
	UserID  string
	ClerkID string
	Banned  bool
}

// IdentityResolver maps a Clerk user id to the internal user, creating a
// minimal user on first sight.
type IdentityResolver interface {
	Resolve(ctx context.Context, clerkID string) (Identity, error)
}

// UserGetter reads a user document by internal id (GET /auth/me).
type UserGetter interface {
	Get(ctx context.Context, userID string) (userv1.User, error)
}

// MintedToken is the reply of GET /auth/create-token.
type MintedToken struct {
	Token            string `json:"token"`
	SessionID        string `json:"session_id"`
	ExpiresInSeconds int64  `json:"expires_in_seconds"`
}

// TokenMinter issues a development session token for a Clerk id.
type TokenMinter interface {
	Mint(ctx context.Context, clerkID, role string) (MintedToken, error)
}

// caller is the authenticated caller of a request.
type caller struct {
	principal Principal
	identity  Identity
	role      string
}

type callerKey struct{}

func callerFrom(ctx context.Context) (caller, bool) {
	c, ok := ctx.Value(callerKey{}).(caller)
	return c, ok
}

// bearerToken extracts the token of an "Authorization: Bearer" header.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// authenticate admits requests with a valid bearer token of a user who is
// not banned and puts who they are on the context: reqctx.Meta (which
// natsx sends as Nf-User-Id and Nf-User-Role) and the caller for handlers.
// Messages stay generic: a client learns nothing about why a token failed.
func (a *API) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		token, ok := bearerToken(r)
		if !ok {
			a.unauthorized(w, "authentication required")
			return
		}
		p, err := a.verifier.Verify(ctx, token)
		if err != nil {
			if errors.Is(err, ErrAuthUnavailable) {
				a.log.WarnContext(ctx, "cannot verify tokens", "err", err)
				writeError(w, a.log, "", rpcerr.New(rpcerr.Unavailable, "authentication is temporarily unavailable"))
				return
			}
			a.log.DebugContext(ctx, "token refused", "err", err)
			a.unauthorized(w, "invalid or expired token")
			return
		}
		id, err := a.identities.Resolve(ctx, p.Subject)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if id.Banned {
			writeError(w, a.log, "", rpcerr.New(rpcerr.Forbidden, "this account is banned"))
			return
		}
		role := contracts.RoleUser
		if strings.EqualFold(p.Role, contracts.RoleAdmin) || a.adminIDs[p.Subject] {
			role = contracts.RoleAdmin
		}
		next.ServeHTTP(w, admit(r, caller{principal: p, identity: id, role: role}))
	})
}

// admit puts an authenticated caller on the request: reqctx.Meta (which
// natsx sends as Nf-User-Id and Nf-User-Role), the caller for handlers, the
// access log's user and Sentry's.
func admit(r *http.Request, c caller) *http.Request {
	ctx := r.Context()
	meta := reqctx.From(ctx)
	meta.UserID, meta.Role = c.identity.UserID, c.role
	ctx = reqctx.With(ctx, meta)
	ctx = context.WithValue(ctx, callerKey{}, c)
	ctx = keyaccess.With(ctx, keyaccess.Session()) // until personal API keys land
	if st := stateFrom(ctx); st != nil {
		st.userID = c.identity.UserID
	}
	if hub := sentry.GetHubFromContext(ctx); hub != nil {
		hub.Scope().SetUser(sentry.User{ID: c.identity.UserID})
	}
	return r.WithContext(ctx)
}

func (a *API) unauthorized(w http.ResponseWriter, message string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="nonefinity"`)
	writeError(w, a.log, "", rpcerr.New(rpcerr.Unauthorized, message))
}

// requireAdmin admits only callers with the admin role. Services check
// Nf-User-Role again; this answers early and in one place.
func (a *API) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := callerFrom(r.Context())
		if !ok || c.role != contracts.RoleAdmin {
			writeError(w, a.log, "", rpcerr.New(rpcerr.Forbidden, "this operation needs the admin role"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
