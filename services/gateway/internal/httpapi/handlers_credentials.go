package httpapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	cv1 "github.com/nonefinity/backend/contracts/credentialv1"
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
	ctx, cancel := a.callCtx(r)
	defer cancel()
	reply, err := a.credentials.ProvidersRefresh(ctx)
	a.reply(w, r, http.StatusOK, "providers reloaded", reply, err)
}

func (a *API) credentialCreate(w http.ResponseWriter, r *http.Request) {
	var req cv1.CreateRequest
	if e := bindBody(w, r, &req); e != nil {
		a.reject(w, e)
		return
	}
	ctx, cancel := a.callCtx(r)
	defer cancel()
	cred, err := a.credentials.Create(ctx, req)
	a.reply(w, r, http.StatusCreated, "credential created", cred, err)
}

func (a *API) credentialList(w http.ResponseWriter, r *http.Request) {
	var q pageQuery
	if e := bindQuery(r, &q); e != nil {
		a.reject(w, e)
		return
	}
	page := q.window()
	ctx, cancel := a.callCtx(r)
	defer cancel()
	reply, err := a.credentials.List(ctx, cv1.ListRequest{Page: page})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writePage(w, a.log, "credentials", reply, pageMeta(page, reply.Total))
}

func (a *API) credentialGet(w http.ResponseWriter, r *http.Request) {
	id, e := pathID(r, "id", "credential")
	if e != nil {
		a.reject(w, e)
		return
	}
	ctx, cancel := a.callCtx(r)
	defer cancel()
	cred, err := a.credentials.Get(ctx, cv1.GetRequest{ID: id})
	a.reply(w, r, http.StatusOK, "credential", cred, err)
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
	id, e := pathID(r, "id", "credential")
	if e != nil {
		a.reject(w, e)
		return
	}
	var body credentialUpdate
	if e := bindBody(w, r, &body); e != nil {
		a.reject(w, e)
		return
	}
	ctx, cancel := a.callCtx(r)
	defer cancel()
	cred, err := a.credentials.Update(ctx, toUpdateCredential(id, body))
	a.reply(w, r, http.StatusOK, "credential updated", cred, err)
}

func (a *API) credentialDelete(w http.ResponseWriter, r *http.Request) {
	id, e := pathID(r, "id", "credential")
	if e != nil {
		a.reject(w, e)
		return
	}
	ctx, cancel := a.callCtx(r)
	defer cancel()
	reply, err := a.credentials.Delete(ctx, cv1.DeleteRequest{ID: id})
	a.reply(w, r, http.StatusOK, "credential deleted", reply, err)
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
	ctx, cancel := a.callCtx(r)
	defer cancel()
	reply, err := a.credentials.EncryptionHealth(ctx)
	a.reply(w, r, http.StatusOK, "encryption health", reply, err)
}

func (a *API) generateKey(w http.ResponseWriter, r *http.Request) {
	var req cv1.GenerateKeyRequest
	if e := bindBody(w, r, &req); e != nil {
		a.reject(w, e)
		return
	}
	ctx, cancel := a.callCtx(r)
	defer cancel()
	reply, err := a.credentials.GenerateKey(ctx, req)
	a.reply(w, r, http.StatusOK, "key generated", reply, err)
}

func (a *API) rotateKeys(w http.ResponseWriter, r *http.Request) {
	var req cv1.RotateRequest
	if e := bindBody(w, r, &req); e != nil {
		a.reject(w, e)
		return
	}
	ctx, cancel := a.callCtx(r)
	defer cancel()
	reply, err := a.credentials.Rotate(ctx, req)
	a.reply(w, r, http.StatusOK, "key rotation", reply, err)
}
