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
	"github.com/nonefinity/backend/services/gateway/internal/access"
	"github.com/nonefinity/backend/services/gateway/internal/apikeys"
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

// APIKeys are personal API keys: their authentication (on every
// authenticated route) and their management (/api-keys, session only).
type APIKeys interface {
	Authenticate(ctx context.Context, token string) (apikeys.Key, error)
	Create(ctx context.Context, owner apikeys.Owner, in apikeys.NewKey) (apikeys.Created, error)
	List(ctx context.Context, owner apikeys.Owner) ([]apikeys.Key, error)
	Get(ctx context.Context, owner apikeys.Owner, id string) (apikeys.Key, error)
	Update(ctx context.Context, owner apikeys.Owner, id string, ch apikeys.Change) (apikeys.Key, error)
	Revoke(ctx context.Context, owner apikeys.Owner, id string) (apikeys.Key, error)
	Delete(ctx context.Context, owner apikeys.Owner, id string) error
}

// caller is the authenticated caller of a request.
type caller struct {
	principal Principal
	identity  Identity
	role      string
	// grant is what the caller may do: every scope for a session, its
	// scopes for an API key.
	grant access.Grant
}

// apiKeyHeader carries a personal API key, as Authorization: Bearer does.
const apiKeyHeader = "X-API-Key"

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

// authenticate admits requests with a valid Clerk session token or a
// personal API key (Authorization: Bearer nf_…, or X-API-Key) of a user who
// is not banned, and puts who they are on the context: reqctx.Meta (which
// natsx sends as Nf-User-Id and Nf-User-Role), the access.Grant routes and
// MCP tools check scopes against, and the caller for handlers. Messages
// about session tokens stay generic: a client learns nothing about why a
// token failed; a key's holder is told whether it was revoked or expired.
func (a *API) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if key := r.Header.Get(apiKeyHeader); key != "" {
			a.authenticateKey(w, r, next, strings.TrimSpace(key))
			return
		}
		token, ok := bearerToken(r)
		if !ok {
			a.unauthorized(w, "authentication required")
			return
		}
		if apikeys.LooksLikeKey(token) {
			a.authenticateKey(w, r, next, token)
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
		id, ok := a.resolveUser(w, r, p.Subject)
		if !ok {
			return
		}
		role := contracts.RoleUser
		if strings.EqualFold(p.Role, contracts.RoleAdmin) || a.adminIDs[p.Subject] {
			role = contracts.RoleAdmin
		}
		next.ServeHTTP(w, admit(r, caller{principal: p, identity: id, role: role, grant: access.Session()}))
	})
}

// resolveUser maps a Clerk id to the internal user, answering the request
// itself (503, or 403 for a banned user) when it cannot be admitted.
func (a *API) resolveUser(w http.ResponseWriter, r *http.Request, clerkID string) (Identity, bool) {
	id, err := a.identities.Resolve(r.Context(), clerkID)
	if err != nil {
		a.fail(w, r, err)
		return Identity{}, false
	}
	if id.Banned {
		writeError(w, a.log, "", rpcerr.New(rpcerr.Forbidden, "this account is banned"))
		return Identity{}, false
	}
	return id, true
}

// authenticateKey admits a request made with a personal API key: the key's
// owner, through the same identity cache as a session (so a banned owner is
// refused alike), with the user role whatever the owner's (admin routes
// are for sessions) and the key's scopes.
func (a *API) authenticateKey(w http.ResponseWriter, r *http.Request, next http.Handler, token string) {
	if a.apiKeys == nil {
		a.unauthorized(w, "API keys are not accepted here")
		return
	}
	k, err := a.apiKeys.Authenticate(r.Context(), token)
	switch {
	case errors.Is(err, apikeys.ErrKeyRevoked), errors.Is(err, apikeys.ErrKeyExpired):
		a.unauthorized(w, err.Error())
		return
	case errors.Is(err, apikeys.ErrUnknownKey):
		a.unauthorized(w, "invalid API key")
		return
	case err != nil:
		a.fail(w, r, apiKeyError(err))
		return
	}
	id, ok := a.resolveUser(w, r, k.ClerkID)
	if !ok {
		return
	}
	if id.UserID != k.OwnerID {
		// The owner was deleted and the Clerk id seen again since: the
		// key belongs to nobody now (erasure removes it).
		a.unauthorized(w, "invalid API key")
		return
	}
	next.ServeHTTP(w, admit(r, caller{principal: Principal{Subject: k.ClerkID}, identity: id, role: contracts.RoleUser,
		grant: access.Key(k.ID, k.Scopes)}))
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
	ctx = access.With(ctx, c.grant)
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

// requireScope admits a session to any route and an API key only to the
// routes its scopes cover: a route without a scope is for sessions. The
// 403 names the missing scope, so the key's owner can fix the key.
func (a *API) requireScope(rt route) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			g := access.From(r.Context())
			switch {
			case !g.IsKey() || rt.scopesInHandler:
			case rt.scope == "":
				writeError(w, a.log, "", rpcerr.New(rpcerr.Forbidden, "this route needs a signed-in session; API keys cannot use it"))
				return
			default:
				if err := g.Require(rt.scope); err != nil {
					writeError(w, a.log, "", rpcerr.New(rpcerr.Forbidden, err.Error()))
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}
