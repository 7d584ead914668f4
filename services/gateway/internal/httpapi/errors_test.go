package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/nonefinity/backend/contracts"
	cv1 "github.com/nonefinity/backend/contracts/credentialv1"
	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	fv1 "github.com/nonefinity/backend/contracts/filev1"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/services/gateway/internal/httpapi"
)

func withWebhooks(h http.Handler) option { return func(o *httpapi.Options) { o.Webhooks = h } }

// routePatternOf finds the chi pattern a request is routed to.
func routePatternOf(t testing.TB, h *harness, r request) string {
	t.Helper()
	mux, ok := h.handler.(*chi.Mux)
	if !ok {
		t.Fatalf("router is %T, not *chi.Mux", h.handler)
	}
	path, _, _ := strings.Cut(r.path, "?")
	pattern := mux.Find(chi.NewRouteContext(), r.method, path)
	if pattern == "" {
		t.Fatalf("%s %s is not routed", r.method, r.path)
	}
	return pattern
}

// 400: malformed bodies and values of the wrong type, in JSON, forms and
// queries, name the field and never reach a service.
func TestBadInputIs400(t *testing.T) {
	h := newHarness(t, allServices)
	formBad, formType := form(url.Values{"length": {"sixty-four"}})
	cases := []struct {
		name  string
		req   request
		field string
	}{
		{"malformed JSON", request{method: "POST", path: "/api/v1/credentials", token: userToken, body: `{"name":`}, ""},
		{"trailing garbage", request{method: "POST", path: "/api/v1/credentials", token: userToken, body: `{"name":"a"} x`}, ""},
		{"JSON type mismatch", request{method: "POST", path: "/api/v1/credentials", token: userToken, body: `{"name":5}`}, "name"},
		{"nested JSON type mismatch", request{method: "POST", path: "/api/v1/datasets/create", token: userToken, body: `{"dataset_name":"s","schema":[{"column_name":1}]}`}, "schema.column_name"},
		{"form integer", request{method: "POST", path: "/api/v1/credentials/encryption/generate-key", token: userToken, body: formBad, contentType: formType}, "length"},
		{"form JSON field", request{method: "POST", path: "/api/v1/datasets/create", token: userToken, body: "dataset_name=s&schema=not-json", contentType: formType}, "schema"},
		{"form boolean", request{method: "PUT", path: "/api/v1/credentials/" + sampleID, token: userToken, body: "is_active=maybe", contentType: formType}, "is_active"},
		{"query integer", request{method: "GET", path: "/api/v1/credentials?skip=ten", token: userToken}, "skip"},
		{"query boolean", request{method: "GET", path: "/api/v1/providers?active_only=perhaps"}, "active_only"},
		{"schema entry without column", request{method: "PUT", path: "/api/v1/datasets/" + sampleID + "/schema", token: userToken, body: `[{"desc":"x"}]`}, "[0].column_name"},
		{"file part where none belongs", request{method: "POST", path: "/api/v1/datasets/query", token: userToken,
			body: "--b\r\nContent-Disposition: form-data; name=\"query\"; filename=\"q.sql\"\r\n\r\nSELECT 1\r\n--b--\r\n", contentType: "multipart/form-data; boundary=b"}, "query"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			expectError(t, h.do(tc.req), http.StatusBadRequest, rpcerr.BadRequest, tc.field)
		})
	}
	for _, subject := range []string{cv1.Subject(cv1.OpCreate), cv1.Subject(cv1.OpGenerateKey), cv1.Subject(cv1.OpList), dv1.Subject(dv1.OpCreate)} {
		if n := h.stubs.count(subject); n != 0 {
			t.Errorf("%s was called %d times for bad input", subject, n)
		}
	}
}

// 401: no token, a malformed header or a refused token; the message is
// generic and the challenge header is set.
func TestMissingOrInvalidTokenIs401(t *testing.T) {
	h := newHarness(t, allServices)
	for name, hdr := range map[string]string{
		"no header":      "",
		"basic auth":     "Basic dXNlcjpwYXNz",
		"empty bearer":   "Bearer ",
		"unknown token":  "Bearer not-a-token",
		"unknown, lower": "bearer not-a-token",
		"no scheme only": "token-user-a",
	} {
		t.Run(name, func(t *testing.T) {
			r := request{method: "GET", path: "/api/v1/credentials"}
			if hdr != "" {
				r.header = map[string]string{"Authorization": hdr}
			}
			rec := h.do(r)
			env := expectError(t, rec, http.StatusUnauthorized, rpcerr.Unauthorized, "")
			if rec.Header().Get("WWW-Authenticate") == "" {
				t.Error("no WWW-Authenticate challenge")
			}
			if strings.Contains(strings.ToLower(env.Message), "token-") {
				t.Errorf("message echoes the token: %q", env.Message)
			}
		})
	}
	if n := h.stubs.count(cv1.Subject(cv1.OpList)); n != 0 {
		t.Errorf("unauthenticated requests reached the service %d times", n)
	}
	// A lower-case scheme is still a bearer token (RFC 7235: case-insensitive).
	rec := h.do(request{method: "GET", path: "/api/v1/credentials", header: map[string]string{"Authorization": "bearer " + userToken}})
	if rec.Code != http.StatusOK {
		t.Errorf("lower-case bearer scheme: %d %s", rec.Code, rec.Body.String())
	}
}

// 503 when the verifier cannot get its keys: not the client's fault.
func TestVerifierWithoutKeysIs503(t *testing.T) {
	h := newHarness(t, allServices)
	expectError(t, h.do(request{method: "GET", path: "/api/v1/auth/me", token: keysDownToken}),
		http.StatusServiceUnavailable, rpcerr.Unavailable, "")
}

// 403: admin routes for a user, and banned users everywhere.
func TestForbidden(t *testing.T) {
	h := newHarness(t, allServices)
	for _, r := range []request{
		{method: "POST", path: "/api/v1/providers/refresh", token: userToken},
		{method: "POST", path: "/api/v1/duckdb/cleanup", token: userToken},
		{method: "GET", path: "/api/v1/duckdb/stats", token: userToken},
		{method: "POST", path: "/api/v1/credentials/encryption/rotate", token: userToken},
		{method: "GET", path: "/api/v1/file/list", token: bannedToken},
		{method: "GET", path: "/api/v1/auth/me", token: bannedToken},
	} {
		expectError(t, h.do(r), http.StatusForbidden, rpcerr.Forbidden, "")
	}
	for _, s := range []string{cv1.Subject(cv1.OpProvidersRefresh), dv1.Subject(dv1.OpDuckDBCleanup), dv1.Subject(dv1.OpDuckDBStats), cv1.Subject(cv1.OpRotate), fv1.Subject(fv1.OpList)} {
		if n := h.stubs.count(s); n != 0 {
			t.Errorf("%s reached %d times by a forbidden caller", s, n)
		}
	}
	// ADMIN_CLERK_IDS makes a user admin whatever the token says.
	h2 := newHarness(t, allServices, func(o *httpapi.Options) { o.AdminClerkIDs = []string{"user_a"} })
	if rec := h2.do(request{method: "POST", path: "/api/v1/duckdb/cleanup", token: userToken}); rec.Code != http.StatusOK {
		t.Fatalf("user_a listed in ADMIN_CLERK_IDS: %d %s", rec.Code, rec.Body.String())
	}
	if c := h2.stubs.lastCall(t, dv1.Subject(dv1.OpDuckDBCleanup)); c.Meta.Role != contracts.RoleAdmin {
		t.Errorf("role sent to the service = %q", c.Meta.Role)
	}
}

// 404: malformed ids (never sent to a service), unknown routes, and a
// service's own not found passed through.
func TestNotFound(t *testing.T) {
	h := newHarness(t, allServices)
	for _, path := range []string{
		"/api/v1/credentials/123",
		"/api/v1/credentials/65f2a1b3c4d5e6f708192cZZ",
		"/api/v1/file/" + sampleID + "0",
		"/api/v1/datasets/not-an-id",
		"/api/v1/datasets/" + sampleID + "/file-columns/nope",
	} {
		expectError(t, h.do(request{method: "GET", path: path, token: userToken}), http.StatusNotFound, rpcerr.NotFound, "")
	}
	for _, s := range []string{cv1.Subject(cv1.OpGet), fv1.Subject(fv1.OpGet), dv1.Subject(dv1.OpGet), dv1.Subject(dv1.OpFileColumns)} {
		if n := h.stubs.count(s); n != 0 {
			t.Errorf("malformed id reached %s", s)
		}
	}
	expectError(t, h.do(request{method: "GET", path: "/api/v1/nothing-here", token: userToken}), http.StatusNotFound, rpcerr.NotFound, "")
	expectError(t, h.do(request{method: "PATCH", path: "/api/v1/credentials", token: userToken}), http.StatusMethodNotAllowed, rpcerr.MethodNotAllowed, "")

	h.stubs.answer(cv1.Subject(cv1.OpGet), failWith(rpcerr.NotFoundf("credential not found")))
	env := expectError(t, h.do(request{method: "GET", path: "/api/v1/credentials/" + sampleID, token: userToken}), http.StatusNotFound, rpcerr.NotFound, "")
	if env.Message != "credential not found" {
		t.Errorf("message %q", env.Message)
	}
	// In prod there is no create-token route at all.
	prod := newHarness(t, nil, func(o *httpapi.Options) { o.Minter = nil })
	expectError(t, prod.do(request{method: "GET", path: "/api/v1/auth/create-token?clerk_id=u"}), http.StatusNotFound, rpcerr.NotFound, "")
}

// 413: a JSON or form body over 1 MiB is refused before any service call,
// whether or not the client announced its length.
func TestBodyTooLargeIs413(t *testing.T) {
	h := newHarness(t, allServices)
	big := `{"name":"` + strings.Repeat("x", 2<<20) + `"}`
	expectError(t, h.do(request{method: "POST", path: "/api/v1/credentials", token: userToken, body: big}),
		http.StatusRequestEntityTooLarge, rpcerr.TooLarge, "")
	req := request{method: "POST", path: "/api/v1/datasets/query", token: userToken, body: "query=" + strings.Repeat("x", 2<<20), contentType: "application/x-www-form-urlencoded"}
	expectError(t, h.do(req), http.StatusRequestEntityTooLarge, rpcerr.TooLarge, "")

	// Without Content-Length the cap still holds (chunked upload).
	r, _ := http.NewRequest(http.MethodPost, "/api/v1/credentials", strings.NewReader(big))
	r.ContentLength = -1
	r.Header.Set("Authorization", "Bearer "+userToken)
	r.Header.Set("Content-Type", "application/json")
	rec := newRecorder()
	h.handler.ServeHTTP(rec, r)
	expectError(t, rec, http.StatusRequestEntityTooLarge, rpcerr.TooLarge, "")
	if n := h.stubs.count(cv1.Subject(cv1.OpCreate)) + h.stubs.count(dv1.Subject(dv1.OpQuery)); n != 0 {
		t.Errorf("oversized bodies reached a service %d times", n)
	}
}

// 415: a body in an encoding the route does not take. (Multipart uploads
// to POST /file/upload belong to the upload relay, upload.go, and its tests.)
func TestUnsupportedMediaTypeIs415(t *testing.T) {
	h := newHarness(t, allServices)
	expectError(t, h.do(request{method: "POST", path: "/api/v1/credentials", token: userToken, body: "name=x", contentType: "text/plain"}),
		http.StatusUnsupportedMediaType, rpcerr.UnsupportedMediaType, "")
	expectError(t, h.do(request{method: "PUT", path: "/api/v1/datasets/" + sampleID + "/schema", token: userToken, body: "a=b", contentType: "application/x-www-form-urlencoded"}),
		http.StatusUnsupportedMediaType, rpcerr.UnsupportedMediaType, "")
}

// A service's rpcerr maps 1:1 to the status, code, message and field; a
// service's internal error keeps only its error id, and every 5xx has one.
func TestServiceErrorsMapOneToOne(t *testing.T) {
	h := newHarness(t, allServices)
	cases := []struct {
		sent   *rpcerr.Error
		status int
	}{
		{rpcerr.Field(rpcerr.Conflict, "name", `a credential named "key" exists`), 409},
		{rpcerr.Invalid("limit", "must be 1..100"), 422},
		{rpcerr.New(rpcerr.Forbidden, "admin only"), 403},
		{rpcerr.New(rpcerr.TooLarge, "file too large"), 413},
		{rpcerr.New(rpcerr.UnsupportedMediaType, "not a spreadsheet"), 415},
		{rpcerr.New(rpcerr.RateLimited, "slow down"), 429},
		{rpcerr.New(rpcerr.Timeout, "query timed out"), 504},
		{rpcerr.New(rpcerr.Unavailable, "object storage unavailable"), 503},
		{&rpcerr.Error{Code: rpcerr.Internal, Message: "internal error", ErrorID: "0011223344556677"}, 500},
	}
	for _, tc := range cases {
		t.Run(string(tc.sent.Code), func(t *testing.T) {
			h.stubs.answer(cv1.Subject(cv1.OpCreate), failWith(tc.sent))
			rec := h.do(request{method: "POST", path: "/api/v1/credentials", token: userToken, body: `{"name":"key","provider_name":"openai","api_key":"k"}`})
			env := expectError(t, rec, tc.status, tc.sent.Code, tc.sent.Field)
			got, want := env.Errors[0], *tc.sent
			if tc.status >= 500 && want.ErrorID == "" {
				// Every 5xx carries an error id: the service gives one
				// to a 5xx sent without.
				if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(got.ErrorID) {
					t.Errorf("5xx without an error id: %+v", got)
				}
				want.ErrorID = got.ErrorID
			}
			if got != want {
				t.Errorf("error %+v, want %+v", got, want)
			}
		})
	}
	// A bug in a service (a plain error) reaches the client as a generic
	// 500 with the id of the service's log line, never the cause.
	h.stubs.answer(fv1.Subject(fv1.OpStats), func(context.Context, json.RawMessage) (any, error) {
		return nil, errSecretCause
	})
	env := expectError(t, h.do(request{method: "GET", path: "/api/v1/file/stats", token: userToken}), 500, rpcerr.Internal, "")
	if env.Errors[0].Message != "internal error" || !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(env.Errors[0].ErrorID) {
		t.Errorf("error %+v", env.Errors[0])
	}
	if strings.Contains(env.Message+env.Errors[0].Message, "mongodb") {
		t.Errorf("cause leaked: %+v", env)
	}
}

var errSecretCause = &causeError{"mongodb://app:pw@db/app exploded"}

type causeError struct{ s string }

func (e *causeError) Error() string { return e.s }

// 503: a service nobody serves answers at once, naming the service, long
// before the request deadline; the other services keep working.
func TestServiceDownIs503Fast(t *testing.T) {
	h := newHarness(t, []string{contracts.ServiceCredential}) // file and dataset are down
	for _, tc := range []struct {
		path, service string
	}{
		{"/api/v1/file/list", contracts.ServiceFile},
		{"/api/v1/datasets/list", contracts.ServiceDataset},
	} {
		started := time.Now()
		env := expectError(t, h.do(request{method: "GET", path: tc.path, token: userToken}), http.StatusServiceUnavailable, rpcerr.Unavailable, "")
		elapsed := time.Since(started)
		if !strings.Contains(env.Message, tc.service+" service") {
			t.Errorf("message %q does not name %s", env.Message, tc.service)
		}
		// No responders is known at once; anything near the 20 s request
		// timeout would mean the gateway waited for a reply that cannot come.
		if elapsed > h.opts.RequestTimeout/4 {
			t.Errorf("%s took %s to fail", tc.path, elapsed)
		}
	}
	if rec := h.do(request{method: "GET", path: "/api/v1/credentials", token: userToken}); rec.Code != http.StatusOK {
		t.Errorf("credential service is up, got %d", rec.Code)
	}
	// /ready names exactly the missing services.
	rec := h.do(request{method: "GET", path: "/ready"})
	env := expectError(t, rec, http.StatusServiceUnavailable, rpcerr.Unavailable, contracts.ServiceDataset)
	if len(env.Errors) != 2 || env.Errors[1].Field != contracts.ServiceFile {
		t.Errorf("/ready errors %+v", env.Errors)
	}
}

// Every service request carries who asks, the request id, the trace and a
// deadline from the HTTP request.
func TestRequestMetadataReachesTheService(t *testing.T) {
	h := newHarness(t, allServices)
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	rec := h.do(request{method: "GET", path: "/api/v1/credentials/" + sampleID, token: userToken,
		header: map[string]string{"X-Request-ID": "req-123.abc_X", "traceparent": tp}})
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body.String())
	}
	if got := rec.Header().Get("X-Request-ID"); got != "req-123.abc_X" {
		t.Errorf("X-Request-ID echoed as %q", got)
	}
	c := h.stubs.lastCall(t, cv1.Subject(cv1.OpGet))
	if c.Meta.UserID != userAID || c.Meta.Role != contracts.RoleUser || c.Meta.RequestID != "req-123.abc_X" || c.Meta.Traceparent != tp {
		t.Errorf("service saw %+v", c.Meta)
	}
	if c.Deadline.IsZero() || time.Until(c.Deadline) > h.opts.RequestTimeout {
		t.Errorf("deadline %v", c.Deadline)
	}

	rec = h.do(request{method: "POST", path: "/api/v1/duckdb/cleanup", token: adminToken,
		header: map[string]string{"X-Request-ID": "bad id\nwith newline" + strings.Repeat("x", 200)}})
	got := rec.Header().Get("X-Request-ID")
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(got) {
		t.Errorf("an insane X-Request-ID was not replaced: %q", got)
	}
	c = h.stubs.lastCall(t, dv1.Subject(dv1.OpDuckDBCleanup))
	if c.Meta.UserID != adminID || c.Meta.Role != contracts.RoleAdmin || c.Meta.RequestID != got || len(c.Meta.Traceparent) != 55 {
		t.Errorf("service saw %+v (request id %s)", c.Meta, got)
	}
}
