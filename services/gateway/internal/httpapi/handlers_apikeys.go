package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/fielderr"
	"github.com/nonefinity/backend/services/gateway/internal/access"
	"github.com/nonefinity/backend/services/gateway/internal/apikeys"
)

// apiKey is a personal API key as the API shows it: never its secret nor
// its hash.
type apiKey struct {
	ID         string         `json:"id"`
	Name       string         `json:"name" example:"ci-agent"`
	KeyPrefix  string         `json:"key_prefix" doc:"The start of the key, to recognise it" example:"nf_dev_Ab3dE9xQ"`
	Scopes     []access.Scope `json:"scopes" example:"[\"datasets:read\",\"datasets:query\"]"`
	ExpiresAt  *time.Time     `json:"expires_at" doc:"null: never expires"`
	LastUsedAt *time.Time     `json:"last_used_at" doc:"Recorded at most once a minute; null: never used"`
	RevokedAt  *time.Time     `json:"revoked_at,omitempty"`
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
	IsActive   bool           `json:"is_active" doc:"Neither revoked nor expired"`
}

// createdAPIKey is the reply of POST /api-keys: the one time the key is
// shown.
type createdAPIKey struct {
	Key        string         `json:"key" doc:"The key itself. It is shown this once and cannot be recovered" example:"nf_dev_Ab3dE9xQ..."`
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	KeyPrefix  string         `json:"key_prefix"`
	Scopes     []access.Scope `json:"scopes"`
	ExpiresAt  *time.Time     `json:"expires_at"`
	LastUsedAt *time.Time     `json:"last_used_at"`
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
	IsActive   bool           `json:"is_active"`
}

// apiKeyCreate is the body of POST /api-keys.
type apiKeyCreate struct {
	Name      string     `json:"name" doc:"1 to 100 characters" example:"ci-agent"`
	Scopes    []string   `json:"scopes" doc:"One or more of datasets:read, datasets:query, datasets:write, files:read, files:write, credentials:read" example:"[\"datasets:read\",\"datasets:query\"]"`
	ExpiresAt *time.Time `json:"expires_at,omitempty" doc:"When the key stops working (RFC 3339, in the future); omitted: never"`
}

// apiKeyUpdate is the body of PUT /api-keys/{id}: the fields to change.
type apiKeyUpdate struct {
	Name   *string   `json:"name,omitempty"`
	Scopes *[]string `json:"scopes,omitempty" doc:"Replaces the key's scopes; applies on every gateway instance within seconds"`
}

// apiKeyDeleted is the reply of DELETE /api-keys/{id}.
type apiKeyDeleted struct {
	ID string `json:"id"`
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func fromCoreKey(k apikeys.Key, now time.Time) apiKey {
	scopes := k.Scopes
	if scopes == nil {
		scopes = []access.Scope{}
	}
	return apiKey{
		ID: k.ID, Name: k.Name, KeyPrefix: k.Prefix, Scopes: scopes,
		ExpiresAt: optionalTime(k.ExpiresAt), LastUsedAt: optionalTime(k.LastUsedAt), RevokedAt: optionalTime(k.RevokedAt),
		CreatedAt: k.CreatedAt, UpdatedAt: k.UpdatedAt, IsActive: k.Active(now),
	}
}

func fromCoreCreated(c apikeys.Created, now time.Time) createdAPIKey {
	v := fromCoreKey(c.Key, now)
	return createdAPIKey{Key: c.Plaintext, ID: v.ID, Name: v.Name, KeyPrefix: v.KeyPrefix, Scopes: v.Scopes,
		ExpiresAt: v.ExpiresAt, LastUsedAt: v.LastUsedAt, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt, IsActive: v.IsActive}
}

// apiKeyError maps the core's sentinels to the API's codes, once.
func apiKeyError(err error) error {
	if fe, ok := fielderr.As(err); ok {
		return rpcerr.Invalid(fe.Field, fe.Message)
	}
	switch {
	case errors.Is(err, apikeys.ErrNotFound):
		return rpcerr.NotFoundf("API key not found")
	case errors.Is(err, apikeys.ErrNothingToUpdate):
		return rpcerr.New(rpcerr.BadRequest, "No fields to update")
	case errors.Is(err, apikeys.ErrRevoked):
		return rpcerr.New(rpcerr.Conflict, "API key is revoked; make a new one")
	case errors.Is(err, apikeys.ErrTooMany):
		return rpcerr.New(rpcerr.Conflict, err.Error())
	case errors.Is(err, apikeys.ErrDatabaseUnavailable):
		return fmt.Errorf("%w: %w", rpcerr.New(rpcerr.Unavailable, "database unavailable"), err)
	}
	return err
}

// ownerOf is the session user who manages keys.
func ownerOf(ctx context.Context) apikeys.Owner {
	c, _ := callerFrom(ctx)
	return apikeys.Owner{UserID: c.identity.UserID, ClerkID: c.identity.ClerkID}
}

// keyCall adapts a core call on the caller's keys to serveCall: the owner
// from the context, the core's errors mapped, the reply shaped for the API.
func keyCall[Req, Core, Resp any](call func(context.Context, apikeys.Owner, Req) (Core, error), shape func(Core) Resp) func(context.Context, Req) (Resp, error) {
	return func(ctx context.Context, req Req) (Resp, error) {
		out, err := call(ctx, ownerOf(ctx), req)
		if err != nil {
			var zero Resp
			return zero, apiKeyError(err)
		}
		return shape(out), nil
	}
}

func (a *API) apiKeyView(k apikeys.Key) apiKey { return fromCoreKey(k, a.now()) }

func toNewKey(b apiKeyCreate) apikeys.NewKey {
	return apikeys.NewKey{Name: b.Name, Scopes: b.Scopes, ExpiresAt: b.ExpiresAt}
}

func (a *API) apiKeyCreate(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, fromBody, keyCall(func(ctx context.Context, o apikeys.Owner, b apiKeyCreate) (apikeys.Created, error) {
		return a.apiKeys.Create(ctx, o, toNewKey(b))
	}, func(c apikeys.Created) createdAPIKey { return fromCoreCreated(c, a.now()) }),
		http.StatusCreated, "API key created; copy it now, it is not shown again", asIs)
}

func (a *API) apiKeyList(w http.ResponseWriter, r *http.Request) {
	serveNoInput(a, w, r, func(ctx context.Context) ([]apiKey, error) {
		ks, err := a.apiKeys.List(ctx, ownerOf(ctx))
		if err != nil {
			return nil, apiKeyError(err)
		}
		out := make([]apiKey, len(ks))
		for i, k := range ks {
			out[i] = a.apiKeyView(k)
		}
		return out, nil
	}, http.StatusOK, "API keys", asIs)
}

// byKeyID is the decoder of /api-keys/{id}.
func byKeyID(w http.ResponseWriter, r *http.Request) (string, *rpcerr.Error) {
	return byID("id", "API key", func(id string) string { return id })(w, r)
}

func (a *API) apiKeyGet(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, byKeyID, keyCall(a.apiKeys.Get, a.apiKeyView), http.StatusOK, "API key", asIs)
}

// keyUpdate is PUT /api-keys/{id} after decoding.
type keyUpdate struct {
	id     string
	change apikeys.Change
}

func toKeyUpdate(id string, b apiKeyUpdate) keyUpdate {
	return keyUpdate{id: id, change: apikeys.Change{Name: b.Name, Scopes: b.Scopes}}
}

func (a *API) apiKeyUpdate(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, byIDAndBody("id", "API key", toKeyUpdate),
		keyCall(func(ctx context.Context, o apikeys.Owner, u keyUpdate) (apikeys.Key, error) {
			return a.apiKeys.Update(ctx, o, u.id, u.change)
		}, a.apiKeyView), http.StatusOK, "API key updated", asIs)
}

func (a *API) apiKeyRevoke(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, byKeyID, keyCall(a.apiKeys.Revoke, a.apiKeyView), http.StatusOK, "API key revoked", asIs)
}

func (a *API) apiKeyDelete(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, byKeyID, keyCall(func(ctx context.Context, o apikeys.Owner, id string) (apiKeyDeleted, error) {
		return apiKeyDeleted{ID: id}, a.apiKeys.Delete(ctx, o, id)
	}, func(d apiKeyDeleted) apiKeyDeleted { return d }), http.StatusOK, "API key deleted", asIs)
}
