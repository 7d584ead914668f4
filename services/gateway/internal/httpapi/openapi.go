package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/danielgtaylor/huma/v2"

	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/services/gateway/internal/sseticket"
)

// The OpenAPI document is built from the route table: the same rows the
// router serves, and JSON schemas reflected from the same Go types the
// handlers bind and the services answer with, so it cannot drift from the
// code. huma provides the document types and the schema reflection (it
// reads the json tags and doc/enum/default/minimum tags); routing and
// binding stay ours.

func (a *API) openapi(w http.ResponseWriter, r *http.Request) {
	a.openapiOnce.Do(func() {
		a.openapiJSON, a.openapiErr = json.Marshal(a.OpenAPI())
	})
	if a.openapiErr != nil {
		a.fail(w, r, fmt.Errorf("build openapi document: %w", a.openapiErr))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(a.openapiJSON)
}

// schemaName names component schemas after their package, since several
// contract packages have a ListReply or a GetRequest: credentialv1.ListReply,
// filev1.File; the gateway's own types go by their capitalized name.
func schemaName(t reflect.Type, hint string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	name := t.Name()
	if name == "" {
		name = hint
	}
	pkg := path.Base(t.PkgPath())
	if pkg == "." || pkg == "httpapi" || pkg == "" {
		r := []rune(name)
		if len(r) > 0 {
			r[0] = unicode.ToUpper(r[0])
		}
		return string(r)
	}
	return pkg + "." + name
}

// errorEnvelope is the body of every error response.
type errorEnvelope struct {
	Success bool           `json:"success" doc:"Always false"`
	Message string         `json:"message"`
	Errors  []rpcerr.Error `json:"errors"`
}

// Schema tells huma the two shapes PUT /datasets/{id}/schema accepts.
func (schemaDescriptions) Schema(huma.Registry) *huma.Schema {
	str := &huma.Schema{Type: huma.TypeString}
	return &huma.Schema{
		Description: "Column descriptions: an object {column_name: description} or an array of {column_name, desc}",
		OneOf: []*huma.Schema{
			{Type: huma.TypeObject, AdditionalProperties: str},
			{Type: huma.TypeArray, Items: &huma.Schema{
				Type:       huma.TypeObject,
				Properties: map[string]*huma.Schema{"column_name": str, "desc": str},
				Required:   []string{"column_name"},
			}},
		},
	}
}

// errorStatuses are the error responses each kind of route documents.
func errorStatuses(rt route) []int {
	if rt.doc.errors != nil {
		return rt.doc.errors
	}
	if rt.access == accessOps {
		return nil
	}
	statuses := []int{http.StatusInternalServerError, http.StatusServiceUnavailable, http.StatusTooManyRequests}
	if rt.access == accessUser || rt.access == accessAdmin {
		statuses = append(statuses, http.StatusUnauthorized, http.StatusForbidden)
	}
	if strings.Contains(rt.path, "{") {
		statuses = append(statuses, http.StatusNotFound)
	}
	if rt.doc.body != nil {
		statuses = append(statuses, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity)
	}
	if rt.doc.query != nil {
		statuses = append(statuses, http.StatusBadRequest, http.StatusUnprocessableEntity)
	}
	if rt.method == http.MethodPost && rt.doc.body != nil {
		statuses = append(statuses, http.StatusConflict)
	}
	slices.Sort(statuses)
	return slices.Compact(statuses)
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// Names of the security schemes of event stream tickets and API keys.
const (
	eventsTicketScheme = "eventsTicket"
	apiKeyBearerScheme = "apiKeyBearer"
	apiKeyHeaderScheme = "apiKeyHeader"
)

// serverRefusal documents what net/http itself answers, before any route,
// to a request it cannot parse (400) or whose headers pass its limit (431):
// the only client errors of the operations routes.
var serverRefusal = &huma.Response{
	Description: "The HTTP server refuses a malformed request (400) or one with oversized headers (431) before any route runs",
	Content:     map[string]*huma.MediaType{"text/plain": {Schema: &huma.Schema{Type: huma.TypeString}}},
}

// tagDescriptions describe each tag of the route table.
var tagDescriptions = map[string]string{
	"operations":  "Health, readiness, metrics and this documentation; no token",
	"auth":        "The caller's token and user, and development tokens",
	"providers":   "The AI providers a credential can be for",
	"credentials": "Provider API keys, stored encrypted and never returned",
	"files":       "Uploads (presigned or through the gateway), file metadata and processing",
	"datasets":    "Datasets made from spreadsheets, and SQL over them",
	"duckdb":      "The DuckDB sessions behind queries (admin)",
	"events":      "Server-Sent Events of the caller's own files, datasets and user",
	"api-keys":    "Personal API keys: scoped keys for agents and scripts, managed with a session",
	"webhooks":    "Deliveries from Clerk",
	"mcp":         "The Model Context Protocol server for agents",
}

// OpenAPI builds the OpenAPI 3.1 document of every route the router serves.
func (a *API) OpenAPI() *huma.OpenAPI {
	reg := huma.NewMapRegistry("#/components/schemas/", schemaName)
	doc := &huma.OpenAPI{
		OpenAPI: "3.1.0",
		Info: &huma.Info{
			Title:   "Nonefinity API",
			Version: a.version,
			Description: "The HTTP API of the Nonefinity backend. Every response is the envelope " +
				"{success, message, data, meta?} or, on error, {success: false, message, errors: [{code, message, field?, error_id?}]}. " +
				"Authorize with a Clerk session token (in development: GET /api/v1/auth/create-token?clerk_id=user_1), " +
				"or with a personal API key (POST /api/v1/api-keys) on the operations its scopes cover.",
		},
		// Relative: the API is wherever this document was fetched from.
		Servers: []*huma.Server{{URL: "/", Description: "The gateway serving this document"}},
		Components: &huma.Components{
			Schemas: reg,
			SecuritySchemes: map[string]*huma.SecurityScheme{
				"bearer": {Type: "http", Scheme: "bearer", BearerFormat: "JWT", Description: "Clerk session token"},
				eventsTicketScheme: {Type: "apiKey", In: "query", Name: sseticket.QueryParam,
					Description: "A ticket from POST /api/v1/events/ticket, for clients that cannot send Authorization (EventSource): " +
						"one connection, within 30 s, as the user it was issued to. Never a session token."},
			},
		},
	}
	if a.apiKeys != nil {
		doc.Components.SecuritySchemes[apiKeyBearerScheme] = &huma.SecurityScheme{Type: "http", Scheme: "bearer", BearerFormat: "nf_<env>_<secret>",
			Description: "A personal API key (POST /api/v1/api-keys) as the bearer token; it may call the operations its scopes cover " +
				"(the scope each operation needs is listed in its security requirement and description)."}
		doc.Components.SecuritySchemes[apiKeyHeaderScheme] = &huma.SecurityScheme{Type: "apiKey", In: "header", Name: apiKeyHeader,
			Description: "A personal API key in the X-API-Key header, the same as the bearer form."}
	}
	errRef := reg.Schema(reflect.TypeFor[errorEnvelope](), true, "ErrorEnvelope")
	metaRef := reg.Schema(reflect.TypeFor[PageMeta](), true, "PageMeta")
	tags := map[string]bool{}
	for _, rt := range a.routes() {
		op := &huma.Operation{
			Method:      rt.method,
			Path:        rt.path,
			OperationID: rt.doc.id,
			Summary:     rt.doc.summary,
			Description: rt.doc.description,
			Responses:   map[string]*huma.Response{},
		}
		if rt.doc.tag != "" {
			op.Tags = []string{rt.doc.tag}
			tags[rt.doc.tag] = true
		}
		switch rt.access {
		case accessOps, accessPublic:
			op.Security = []map[string][]string{} // none: said, not left out
		case accessUser:
			op.Security = []map[string][]string{{"bearer": {}}}
			if rt.ticketAuth {
				op.Security = append(op.Security, map[string][]string{eventsTicketScheme: {}})
			}
			switch {
			case a.apiKeys == nil:
			case rt.scope != "":
				scopes := []string{string(rt.scope)}
				op.Security = append(op.Security, map[string][]string{apiKeyBearerScheme: scopes}, map[string][]string{apiKeyHeaderScheme: scopes})
				op.Description = strings.TrimSpace(op.Description + " API keys need the " + string(rt.scope) + " scope.")
			case rt.scopesInHandler:
				op.Security = append(op.Security, map[string][]string{apiKeyBearerScheme: {}}, map[string][]string{apiKeyHeaderScheme: {}})
			}
		case accessAdmin:
			op.Security = []map[string][]string{{"bearer": {}}}
			op.Description = strings.TrimSpace(op.Description + " Requires the admin role.")
		}
		op.Parameters = append(pathParams(rt.path), queryParams(reg, rt.doc.query)...)
		op.Parameters = append(op.Parameters, headerParams(rt.doc.headers)...)
		if rt.doc.body != nil {
			op.RequestBody = requestBody(reg, rt)
		}
		addSuccess(op, reg, rt, metaRef)
		for _, status := range errorStatuses(rt) {
			op.Responses[strconv.Itoa(status)] = &huma.Response{
				Description: http.StatusText(status),
				Content: map[string]*huma.MediaType{"application/json": {
					Schema:  errRef,
					Example: errorExample(status),
				}},
			}
		}
		if rt.access == accessOps {
			op.Responses["4XX"] = serverRefusal
		}
		doc.AddOperation(op)
	}
	names := make([]string, 0, len(tags))
	for t := range tags {
		names = append(names, t)
	}
	slices.Sort(names)
	for _, t := range names {
		doc.Tags = append(doc.Tags, &huma.Tag{Name: t, Description: tagDescriptions[t]})
	}
	return doc
}

func pathParams(p string) []*huma.Param {
	var params []*huma.Param
	for _, m := range pathParam.FindAllStringSubmatch(p, -1) {
		name := m[1]
		s := &huma.Schema{Type: huma.TypeString}
		param := &huma.Param{Name: name, In: "path", Required: true, Schema: s}
		if name == "id" || strings.HasSuffix(name, "_id") {
			s.Pattern = "^[0-9a-fA-F]{24}$"
			param.Description = "24-hex ObjectId (a malformed id is a 404)"
			param.Example = "65f2a1b3c4d5e6f708192c01"
		} else {
			param.Example = "openai"
		}
		params = append(params, param)
	}
	return params
}

// headerParams documents the request headers an operation reads, by name.
func headerParams(headers map[string]string) []*huma.Param {
	names := make([]string, 0, len(headers))
	for n := range headers {
		names = append(names, n)
	}
	slices.Sort(names)
	params := make([]*huma.Param, len(names))
	for i, n := range names {
		params[i] = &huma.Param{Name: n, In: "header", Description: headers[n], Schema: &huma.Schema{Type: huma.TypeString}}
	}
	return params
}

// queryParams documents each field of the query struct by its form name,
// with the schema huma reflects for that field (tags included).
func queryParams(reg huma.Registry, query any) []*huma.Param {
	if query == nil {
		return nil
	}
	t := reflect.TypeOf(query)
	structSchema := huma.SchemaFromType(reg, t)
	var params []*huma.Param
	for _, f := range formFields(t) {
		field := t.FieldByIndex(f.index)
		jsonName, _, _ := strings.Cut(field.Tag.Get("json"), ",")
		s := structSchema.Properties[jsonName]
		if s == nil {
			s = reg.Schema(field.Type, true, f.name)
		}
		params = append(params, &huma.Param{
			Name:        f.name,
			In:          "query",
			Description: s.Description,
			Required:    slices.Contains(structSchema.Required, jsonName) && field.Type.Kind() != reflect.Pointer && !strings.Contains(field.Tag.Get("json"), "omitempty"),
			Schema:      s,
		})
	}
	return params
}

func requestBody(reg huma.Registry, rt route) *huma.RequestBody {
	t := reflect.TypeOf(rt.doc.body)
	s := reg.Schema(t, true, rt.doc.id+"Body")
	example := exampleOf(reg, s, "", 0)
	content := map[string]*huma.MediaType{mediaJSON: {Schema: s, Example: example}}
	if rt.doc.forms {
		content[mediaURLEncoded] = &huma.MediaType{Schema: s}
		content[mediaMultipart] = &huma.MediaType{Schema: s}
	}
	if rt.doc.id == "fileUpload" {
		content[mediaMultipart] = &huma.MediaType{Schema: &huma.Schema{
			Type: huma.TypeObject,
			Properties: map[string]*huma.Schema{"file": {
				Type: huma.TypeString, ContentEncoding: "binary", Description: "The file's bytes",
			}},
			Required: []string{"file"},
		}}
	}
	return &huma.RequestBody{Required: true, Content: content}
}

// addSuccess documents the success responses: the envelope around the
// reply type, or the raw content type.
func addSuccess(op *huma.Operation, reg huma.Registry, rt route, metaRef *huma.Schema) {
	status := rt.doc.status
	if status == 0 {
		status = http.StatusOK
	}
	if rt.doc.raw != "" {
		schema := &huma.Schema{Type: huma.TypeString}
		if rt.doc.raw == mediaJSON {
			schema = &huma.Schema{Type: huma.TypeObject}
		}
		op.Responses[strconv.Itoa(status)] = &huma.Response{
			Description: http.StatusText(status),
			Content:     map[string]*huma.MediaType{rt.doc.raw: {Schema: schema}},
		}
		return
	}
	replies := map[int]any{status: rt.doc.reply}
	for s, reply := range rt.doc.also {
		replies[s] = reply
	}
	for s, reply := range replies {
		if _, empty := reply.(noContent); empty {
			op.Responses[strconv.Itoa(s)] = &huma.Response{Description: http.StatusText(s)}
			continue
		}
		env := envelopeSchema(reg, reply, rt.doc.id+"Data", rt.doc.paged, metaRef)
		op.Responses[strconv.Itoa(s)] = &huma.Response{
			Description: http.StatusText(s),
			Content: map[string]*huma.MediaType{mediaJSON: {
				Schema:  env,
				Example: exampleOf(reg, env, "", 0),
			}},
		}
	}
}

func envelopeSchema(reg huma.Registry, reply any, hint string, paged bool, metaRef *huma.Schema) *huma.Schema {
	props := map[string]*huma.Schema{
		"success": {Type: huma.TypeBoolean, Enum: []any{true}},
		"message": {Type: huma.TypeString},
	}
	required := []string{"success"}
	if reply != nil {
		props["data"] = reg.Schema(reflect.TypeOf(reply), true, hint)
		required = append(required, "data")
	}
	if paged {
		props["meta"] = metaRef
		required = append(required, "meta")
	}
	return &huma.Schema{Type: huma.TypeObject, Properties: props, Required: required}
}

func errorExample(status int) any {
	code := rpcerr.CodeForStatus(status)
	e := rpcerr.Error{Code: code, Message: strings.ToLower(http.StatusText(status))}
	switch status {
	case http.StatusBadRequest:
		e.Field, e.Message = "limit", "must be an integer"
	case http.StatusUnprocessableEntity:
		e.Field, e.Message = "name", "required"
	case http.StatusInternalServerError:
		e.Message, e.ErrorID = "internal error", "3f2a9c0d1b4e5f60"
	case http.StatusServiceUnavailable:
		e.Message = "credential service unavailable"
	}
	return errorEnvelope{Success: false, Message: e.Message, Errors: []rpcerr.Error{e}}
}

// exampleOf makes an example value that fits schema s, with plausible
// strings chosen by property name, so every operation shows a concrete
// request and response without a hand-written example to keep in sync.
func exampleOf(reg huma.Registry, s *huma.Schema, name string, depth int) any {
	if s == nil {
		return nil
	}
	if depth > maxExampleDepth {
		// Only a type that contains itself gets here; an empty value of
		// the right type still fits the schema.
		return emptyExample(reg, s)
	}
	if s.Ref != "" {
		return exampleOf(reg, reg.SchemaFromRef(s.Ref), name, depth+1)
	}
	if len(s.Examples) > 0 {
		return s.Examples[0]
	}
	if s.Default != nil {
		return s.Default
	}
	if len(s.Enum) > 0 {
		return s.Enum[0]
	}
	if len(s.OneOf) > 0 {
		return exampleOf(reg, s.OneOf[0], name, depth+1)
	}
	switch s.Type {
	case huma.TypeObject:
		if len(s.Properties) == 0 {
			if add, ok := s.AdditionalProperties.(*huma.Schema); ok && add != nil {
				return map[string]any{"key": exampleOf(reg, add, "value", depth+1)}
			}
			return map[string]any{}
		}
		out := map[string]any{}
		for prop, ps := range s.Properties {
			out[prop] = exampleOf(reg, ps, prop, depth+1)
		}
		return out
	case huma.TypeArray:
		return []any{exampleOf(reg, s.Items, strings.TrimSuffix(name, "s"), depth+1)}
	case huma.TypeBoolean:
		return true
	case huma.TypeInteger:
		if s.Minimum != nil && *s.Minimum > 1 {
			return int(*s.Minimum)
		}
		return 1
	case huma.TypeNumber:
		return 1.5
	case huma.TypeString:
		return exampleString(s, name)
	}
	return nil
}

// maxExampleDepth bounds the nesting of an example (schema references
// count): deep enough for a dataset inside a list inside the envelope.
const maxExampleDepth = 24

// emptyExample is the empty value of s's type.
func emptyExample(reg huma.Registry, s *huma.Schema) any {
	if s.Ref != "" {
		s = reg.SchemaFromRef(s.Ref)
	}
	switch s.Type {
	case huma.TypeObject:
		return map[string]any{}
	case huma.TypeArray:
		return []any{}
	case huma.TypeBoolean:
		return false
	case huma.TypeInteger, huma.TypeNumber:
		return 0
	case huma.TypeString:
		return ""
	}
	return nil
}

func exampleString(s *huma.Schema, name string) string {
	switch {
	case s.Format == "date-time":
		return "2025-03-14T09:26:53Z"
	case name == "id" || strings.HasSuffix(name, "_id") || name == "file_id":
		return "65f2a1b3c4d5e6f708192c01"
	case strings.Contains(name, "url"):
		return "https://storage.example.com/object"
	case strings.Contains(name, "email"):
		return "ada@example.com"
	case name == "provider_name":
		return "openai"
	case name == "api_key":
		return "sk-example"
	case name == "query":
		return "SELECT * FROM sales LIMIT 10"
	case name == "column_type":
		return "string"
	case strings.Contains(name, "type"):
		return "text/csv"
	case strings.Contains(name, "name"):
		return "sales"
	}
	return "string"
}
