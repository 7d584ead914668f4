package httpapi

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"

	cv1 "github.com/nonefinity/backend/contracts/credentialv1"
	"github.com/nonefinity/backend/contracts/paging"
)

// providersQuery is the query of GET /providers.
type providersQuery struct {
	ActiveOnly *bool `form:"active_only" json:"active_only,omitempty" doc:"Only active providers" default:"true"`
}

func (a *API) providersList(w http.ResponseWriter, r *http.Request) {
	var q providersQuery
	if e := bindQuery(r, &q); e != nil {
		a.reject(w, e)
		return
	}
	req := cv1.ProvidersListRequest{ActiveOnly: q.ActiveOnly == nil || *q.ActiveOnly}
	ctx, cancel := a.callCtx(r)
	defer cancel()
	reply, err := a.credentials.ProvidersList(ctx, req)
	a.reply(w, r, http.StatusOK, "providers", reply, err)
}

func (a *API) providersRefresh(w http.ResponseWriter, r *http.Request) {
	serveNoInput(a, w, r, a.credentials.ProvidersRefresh, http.StatusOK, "providers reloaded")
}

func (a *API) credentialCreate(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, fromBody, a.credentials.Create, http.StatusCreated, "credential created")
}

func (a *API) credentialList(w http.ResponseWriter, r *http.Request) {
	servePage(a, w, r, func(ctx context.Context, p paging.Page) (cv1.ListReply, error) {
		return a.credentials.List(ctx, cv1.ListRequest{Page: p})
	}, func(reply cv1.ListReply) (any, int) { return reply, reply.Total }, "credentials")
}

func (a *API) credentialGet(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, byID("id", "credential", func(id string) cv1.GetRequest { return cv1.GetRequest{ID: id} }),
		a.credentials.Get, http.StatusOK, "credential")
}

// credentialUpdate is the body of PUT /credentials/{id}: the fields to
// change; the id comes from the path.
type credentialUpdate struct {
	Name              *string            `json:"name,omitempty"`
	APIKey            *string            `json:"api_key,omitempty"`
	BaseURL           *string            `json:"base_url,omitempty"`
	IsActive          *bool              `json:"is_active,omitempty"`
	AdditionalHeaders *map[string]string `json:"additional_headers,omitempty"`
}

func toUpdateCredential(id string, b credentialUpdate) cv1.UpdateRequest {
	return cv1.UpdateRequest{ID: id, Name: b.Name, APIKey: b.APIKey, BaseURL: b.BaseURL, IsActive: b.IsActive, AdditionalHeaders: b.AdditionalHeaders}
}

func (a *API) credentialUpdate(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, byIDAndBody("id", "credential", toUpdateCredential), a.credentials.Update, http.StatusOK, "credential updated")
}

func (a *API) credentialDelete(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, byID("id", "credential", func(id string) cv1.DeleteRequest { return cv1.DeleteRequest{ID: id} }),
		a.credentials.Delete, http.StatusOK, "credential deleted")
}

func (a *API) credentialTest(w http.ResponseWriter, r *http.Request) {
	var req cv1.TestRequest
	if e := bindBody(w, r, &req); e != nil {
		a.reject(w, e)
		return
	}
	ctx, cancel := a.callCtx(r)
	defer cancel()
	reply, err := a.credentials.Test(ctx, req)
	a.reply(w, r, http.StatusOK, reply.Message, reply, err)
}

func (a *API) credentialListByProvider(w http.ResponseWriter, r *http.Request) {
	req := cv1.ListByProviderRequest{ProviderName: chi.URLParam(r, "provider_name")}
	ctx, cancel := a.callCtx(r)
	defer cancel()
	reply, err := a.credentials.ListByProvider(ctx, req)
	a.reply(w, r, http.StatusOK, "credentials", reply, err)
}

func (a *API) encryptionHealth(w http.ResponseWriter, r *http.Request) {
	serveNoInput(a, w, r, a.credentials.EncryptionHealth, http.StatusOK, "encryption health")
}

func (a *API) generateKey(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, fromBody, a.credentials.GenerateKey, http.StatusOK, "key generated")
}

func (a *API) rotateKeys(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, fromBody, a.credentials.Rotate, http.StatusOK, "key rotation")
}
