package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	cv1 "github.com/nonefinity/backend/contracts/credentialv1"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/services/gateway/internal/httpapi"
)

// GET /providers is answered from the body written last while it is
// fresh; a refresh through the gateway, another active_only, or an error
// goes to the service.
func TestProvidersListIsKeptForAMoment(t *testing.T) {
	h := newHarness(t, allServices, func(o *httpapi.Options) { o.ProvidersFreshFor = time.Hour })
	list := cv1.Subject(cv1.OpProvidersList)
	named := func(name string) responder {
		return reply(cv1.ProvidersListReply{Providers: []cv1.Provider{{ProviderName: name}}, Total: 1})
	}
	get := func(path, want string) {
		t.Helper()
		rec := h.do(request{method: "GET", path: path})
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"provider_name":"`+want+`"`) {
			t.Fatalf("GET %s = %d %s, want %s", path, rec.Code, rec.Body.String(), want)
		}
	}
	wantCalls := func(n int) {
		t.Helper()
		if got := h.stubs.count(list); got != n {
			t.Fatalf("%d calls to %s, want %d", got, list, n)
		}
	}

	h.stubs.answer(list, named("first"))
	get("/api/v1/providers", "first")
	h.stubs.answer(list, named("second"))
	get("/api/v1/providers", "first")
	wantCalls(1)
	get("/api/v1/providers?active_only=false", "second")
	wantCalls(2)

	// A refresh through this gateway forgets both.
	if rec := h.do(request{method: "POST", path: "/api/v1/providers/refresh", token: adminToken}); rec.Code != http.StatusOK {
		t.Fatalf("refresh = %d %s", rec.Code, rec.Body.String())
	}
	h.stubs.answer(list, named("third"))
	get("/api/v1/providers", "third")
	get("/api/v1/providers?active_only=true", "third")
	wantCalls(3)

	// An error is not kept: the next request asks again.
	h.do(request{method: "POST", path: "/api/v1/providers/refresh", token: adminToken})
	h.stubs.answer(list, func(context.Context, json.RawMessage) (any, error) {
		return nil, rpcerr.New(rpcerr.Unavailable, "database unavailable")
	})
	expectError(t, h.do(request{method: "GET", path: "/api/v1/providers"}), http.StatusServiceUnavailable, rpcerr.Unavailable, "")
	h.stubs.answer(list, named("fourth"))
	get("/api/v1/providers", "fourth")
	wantCalls(5)
}
