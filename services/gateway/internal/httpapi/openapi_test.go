package httpapi_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/nonefinity/backend/services/gateway/internal/httpapi"
	"github.com/nonefinity/backend/services/gateway/internal/sse"
)

// openAPIDoc is the part of the document the tests read.
type openAPIDoc struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]json.RawMessage `json:"schemas"`
	} `json:"components"`
}

func fetchOpenAPI(t testing.TB, h *harness) (openAPIDoc, []byte) {
	t.Helper()
	rec := h.do(request{method: "GET", path: "/openapi.json"})
	if rec.Code != http.StatusOK {
		t.Fatalf("/openapi.json: %d %s", rec.Code, rec.Body.String())
	}
	var doc openAPIDoc
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("document is not JSON: %v", err)
	}
	return doc, rec.Body.Bytes()
}

// openAPIOperations lists "METHOD /path" of every operation in the document.
func openAPIOperations(t testing.TB, h *harness) map[string]bool {
	t.Helper()
	doc, _ := fetchOpenAPI(t, h)
	ops := map[string]bool{}
	for path, item := range doc.Paths {
		for method := range item {
			ops[strings.ToUpper(method)+" "+path] = true
		}
	}
	return ops
}

// routerRoutes lists "METHOD /path" of every route the router serves,
// except the static assets of the docs page.
func routerRoutes(t testing.TB, h *harness) map[string]bool {
	t.Helper()
	routes := map[string]bool{}
	err := chi.Walk(h.handler.(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if strings.HasPrefix(route, "/docs/") {
			return nil
		}
		routes[method+" "+route] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return routes
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// The document and the router list exactly the same operations, with the
// optional handlers mounted and without them.
func TestOpenAPIMatchesTheRouter(t *testing.T) {
	full := newHarness(t, nil, withWebhooks(http.NotFoundHandler()), func(o *httpapi.Options) {
		o.JWKS = http.NotFoundHandler()
		o.Events = sse.New(nil, sse.Options{})
	})
	bare := newHarness(t, nil, func(o *httpapi.Options) { o.Minter = nil })
	for name, h := range map[string]*harness{"full": full, "bare": bare} {
		t.Run(name, func(t *testing.T) {
			doc := openAPIOperations(t, h)
			routes := routerRoutes(t, h)
			for _, r := range sortedKeys(routes) {
				if !doc[r] {
					t.Errorf("router serves %s, the document lacks it", r)
				}
			}
			for _, op := range sortedKeys(doc) {
				if !routes[op] {
					t.Errorf("document names %s, the router lacks it", op)
				}
			}
			if len(routes) < 40 {
				t.Errorf("only %d routes", len(routes))
			}
		})
	}
	if openAPIOperations(t, bare)["GET /api/v1/auth/create-token"] {
		t.Error("create-token documented without a minter")
	}
	if !openAPIOperations(t, full)["GET /api/v1/events"] {
		t.Error("events not documented")
	}
}

// The document is OpenAPI 3.1; every operation has an id, a summary, a
// success response with an example and the error envelope; every $ref
// resolves; authenticated operations declare the bearer scheme.
func TestOpenAPIDocumentIsComplete(t *testing.T) {
	h := newHarness(t, nil)
	doc, raw := fetchOpenAPI(t, h)
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	type response struct {
		Content map[string]struct {
			Schema  json.RawMessage `json:"schema"`
			Example json.RawMessage `json:"example"`
		} `json:"content"`
	}
	type operation struct {
		OperationID string                            `json:"operationId"`
		Summary     string                            `json:"summary"`
		Security    []map[string][]string             `json:"security"`
		Responses   map[string]response               `json:"responses"`
		Parameters  []struct{ Name, In string }       `json:"parameters"`
		RequestBody *struct{ Content map[string]any } `json:"requestBody"`
	}
	ids := map[string]bool{}
	for path, item := range doc.Paths {
		for method, rawOp := range item {
			var op operation
			if err := json.Unmarshal(rawOp, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			name := strings.ToUpper(method) + " " + path
			if op.OperationID == "" || op.Summary == "" || ids[op.OperationID] {
				t.Errorf("%s: operationId %q summary %q", name, op.OperationID, op.Summary)
			}
			ids[op.OperationID] = true
			var success bool
			for status, resp := range op.Responses {
				if strings.HasPrefix(status, "2") {
					success = true
					if c, ok := resp.Content["application/json"]; ok && strings.Contains(string(c.Schema), `"success"`) && len(c.Example) == 0 {
						t.Errorf("%s %s: no example", name, status)
					}
				}
			}
			if !success {
				t.Errorf("%s: no success response", name)
			}
			if strings.HasPrefix(path, "/api/v1/") {
				if _, ok := op.Responses["503"]; !ok {
					t.Errorf("%s: 503 undocumented", name)
				}
			}
			for _, m := range pathParamNames(path) {
				if !slices.ContainsFunc(op.Parameters, func(p struct{ Name, In string }) bool { return p.Name == m && p.In == "path" }) {
					t.Errorf("%s: path parameter %s undocumented", name, m)
				}
			}
		}
	}
	// Spot checks of what the schemas say, from the Go types.
	for path, method := range map[string]string{
		"/api/v1/credentials":                    "get",
		"/api/v1/credentials/{id}":               "put",
		"/api/v1/file/search":                    "get",
		"/api/v1/auth/me":                        "get",
		"/api/v1/datasets/{id}/insert/{file_id}": "post",
	} {
		var op operation
		_ = json.Unmarshal(doc.Paths[path][method], &op)
		if len(op.Security) != 1 || op.Security[0]["bearer"] == nil {
			t.Errorf("%s %s: security %v", method, path, op.Security)
		}
		if _, ok := op.Responses["401"]; !ok {
			t.Errorf("%s %s: 401 undocumented", method, path)
		}
	}
	var list operation
	_ = json.Unmarshal(doc.Paths["/api/v1/credentials"]["get"], &list)
	var params []string
	for _, p := range list.Parameters {
		params = append(params, p.In+":"+p.Name)
	}
	if !slices.Equal(params, []string{"query:skip", "query:limit", "query:page", "query:page_size"}) {
		t.Errorf("list credentials parameters %v", params)
	}
	var create operation
	_ = json.Unmarshal(doc.Paths["/api/v1/credentials"]["post"], &create)
	for _, ct := range []string{"application/json", "application/x-www-form-urlencoded", "multipart/form-data"} {
		if create.RequestBody == nil || create.RequestBody.Content[ct] == nil {
			t.Errorf("create credential body lacks %s", ct)
		}
	}
	if _, ok := create.Responses["201"]; !ok {
		t.Error("create credential: no 201")
	}
	var cred struct {
		Properties map[string]any `json:"properties"`
		Required   []string       `json:"required"`
	}
	if err := json.Unmarshal(doc.Components.Schemas["credentialv1.CreateRequest"], &cred); err != nil {
		t.Fatalf("credentialv1.CreateRequest schema: %v", err)
	}
	for _, f := range []string{"name", "provider_name", "api_key", "base_url", "additional_headers"} {
		if cred.Properties[f] == nil {
			t.Errorf("CreateRequest schema lacks %s", f)
		}
	}
	if !slices.Contains(cred.Required, "api_key") || slices.Contains(cred.Required, "base_url") {
		t.Errorf("required %v", cred.Required)
	}
	// Every reference resolves.
	for _, ref := range refsIn(raw) {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		if _, ok := doc.Components.Schemas[name]; !ok || name == ref {
			t.Errorf("dangling $ref %s", ref)
		}
	}
}

func pathParamNames(p string) []string {
	var names []string
	for part := range strings.SplitSeq(p, "/") {
		if strings.HasPrefix(part, "{") && strings.HasSuffix(part, "}") {
			names = append(names, part[1:len(part)-1])
		}
	}
	return names
}

func refsIn(raw []byte) []string {
	var refs []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && k == "$ref" {
					refs = append(refs, s)
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	var doc any
	_ = json.Unmarshal(raw, &doc)
	walk(doc)
	return refs
}

// /docs is served from embedded assets: the page and every file it loads.
func TestDocsPageIsSelfContained(t *testing.T) {
	h := newHarness(t, nil)
	rec := h.do(request{method: "GET", path: "/docs"})
	if rec.Code != 200 || !strings.Contains(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("/docs: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	page := rec.Body.String()
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Error("the page loads something from another origin")
	}
	for _, asset := range []string{"/docs/swagger-ui.css", "/docs/swagger-ui-bundle.js", "/docs/swagger-ui-standalone-preset.js", "/docs/init.js"} {
		if !strings.Contains(page, asset) {
			t.Errorf("page does not load %s", asset)
		}
		a := h.do(request{method: "GET", path: asset})
		if a.Code != 200 || a.Body.Len() == 0 {
			t.Errorf("%s: %d, %d bytes", asset, a.Code, a.Body.Len())
		}
	}
	if init := h.do(request{method: "GET", path: "/docs/init.js"}).Body.String(); !strings.Contains(init, `"/openapi.json"`) {
		t.Errorf("init.js does not load /openapi.json: %s", init)
	}
	// The module's own page (which points at a demo API online) is not
	// served: its paths lead to ours.
	if rec := h.do(request{method: "GET", path: "/docs/"}); rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != "/docs" {
		t.Errorf("/docs/: %d %s", rec.Code, rec.Header().Get("Location"))
	}
	if rec := h.do(request{method: "GET", path: "/docs/swagger-initializer.js"}); rec.Code != http.StatusNotFound {
		t.Errorf("/docs/swagger-initializer.js: %d", rec.Code)
	}
}

// POST /datasets/convert documents the Idempotency-Key header it reads and
// the 200 of a repeated request.
func TestOpenAPIDocumentsConvertIdempotencyKey(t *testing.T) {
	doc, _ := fetchOpenAPI(t, newHarness(t, nil))
	var op struct {
		Parameters []struct {
			Name, In, Description string
		} `json:"parameters"`
		Responses map[string]json.RawMessage `json:"responses"`
	}
	if err := json.Unmarshal(doc.Paths["/api/v1/datasets/convert"]["post"], &op); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range op.Parameters {
		found = found || (p.Name == "Idempotency-Key" && p.In == "header" && p.Description != "")
	}
	if !found {
		t.Errorf("no Idempotency-Key header parameter: %+v", op.Parameters)
	}
	for _, status := range []string{"200", "201", "202", "422"} {
		if op.Responses[status] == nil {
			t.Errorf("no %s response", status)
		}
	}
}
