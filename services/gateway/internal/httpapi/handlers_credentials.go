package httpapi

import (
	"context"
	"net/http"
	"strconv"

	cv1 "github.com/nonefinity/backend/contracts/credentialv1"
	"github.com/nonefinity/backend/contracts/paging"
)

// providersQuery is the query of GET /providers.
type providersQuery struct {
	ActiveOnly *bool `form:"active_only" json:"active_only,omitempty" doc:"Only active providers" default:"true"`
}

func toListProviders(q providersQuery) cv1.ProvidersListRequest {
	return cv1.ProvidersListRequest{ActiveOnly: q.ActiveOnly == nil || *q.ActiveOnly}
}

// providersList answers from the body written last while it is fresh
// (providersFreshFor); every other request is the route's one service call.
func (a *API) providersList(w http.ResponseWriter, r *http.Request) {
	req, e := byQuery(toListProviders)(w, r)
	if e != nil {
		a.reject(w, e)
		return
	}
	key := strconv.FormatBool(req.ActiveOnly)
	body, gen, ok := a.providers.get(key)
	if !ok {
		ctx, cancel := a.callCtx(r)
		defer cancel()
		reply, err := a.credentials.ProvidersList(ctx, req)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if body, err = envelopeOK("providers", reply); err != nil {
			a.fail(w, r, err)
			return
		}
		a.providers.put(key, gen, body)
	}
	writeBody(w, http.StatusOK, body)
}

// providersRefresh also forgets this gateway's copy of the list, so the
// admin's next list shows the refresh.
func (a *API) providersRefresh(w http.ResponseWriter, r *http.Request) {
	serveNoInput(a, w, r, func(ctx context.Context) (cv1.ProvidersRefreshReply, error) {
		reply, err := a.credentials.ProvidersRefresh(ctx)
		a.providers.clear()
		return reply, err
	}, http.StatusOK, "providers reloaded", asIs)
}

func (a *API) credentialCreate(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, fromBody, a.credentials.Create, http.StatusCreated, "credential created", asIs)
}

func (a *API) credentialList(w http.ResponseWriter, r *http.Request) {
	servePage(a, w, r, func(ctx context.Context, p paging.Page) (cv1.ListReply, error) {
		return a.credentials.List(ctx, cv1.ListRequest{Page: p})
	}, func(reply cv1.ListReply) (any, int) { return reply, reply.Total }, "credentials")
}

func (a *API) credentialGet(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, byID("id", "credential", func(id string) cv1.GetRequest { return cv1.GetRequest{ID: id} }),
		a.credentials.Get, http.StatusOK, "credential", asIs)
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
	serveCall(a, w, r, byIDAndBody("id", "credential", toUpdateCredential),
		a.credentials.Update, http.StatusOK, "credential updated", asIs)
}

func (a *API) credentialDelete(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, byID("id", "credential", func(id string) cv1.DeleteRequest { return cv1.DeleteRequest{ID: id} }),
		a.credentials.Delete, http.StatusOK, "credential deleted", asIs)
}

// credentialTest answers with the probe's own verdict as the message: a
// key the provider refuses is a 200 that says so.
func (a *API) credentialTest(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, fromBody, a.credentials.Test, http.StatusOK, "", func(reply cv1.TestReply, ans answer) answer {
		ans.message = reply.Message
		return ans
	})
}

func toListByProvider(name string) cv1.ListByProviderRequest {
	return cv1.ListByProviderRequest{ProviderName: name}
}

func (a *API) credentialListByProvider(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, byParam("provider_name", toListByProvider), a.credentials.ListByProvider, http.StatusOK, "credentials", asIs)
}

func (a *API) encryptionHealth(w http.ResponseWriter, r *http.Request) {
	serveNoInput(a, w, r, a.credentials.EncryptionHealth, http.StatusOK, "encryption health", asIs)
}

func (a *API) generateKey(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, fromBody, a.credentials.GenerateKey, http.StatusOK, "key generated", asIs)
}

func (a *API) rotateKeys(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, fromBody, a.credentials.Rotate, http.StatusOK, "key rotation", asIs)
}
