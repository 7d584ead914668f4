package httpapi_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	cv1 "github.com/nonefinity/backend/contracts/credentialv1"
	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	fv1 "github.com/nonefinity/backend/contracts/filev1"
	"github.com/nonefinity/backend/contracts/userv1"
	"github.com/nonefinity/backend/services/gateway/internal/httpapi"
)

// multipartBody encodes fields as multipart/form-data.
func multipartBody(fields map[string]string) (body, contentType string) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, v := range fields {
		_ = w.WriteField(k, v)
	}
	_ = w.Close()
	return b.String(), w.FormDataContentType()
}

func form(values url.Values) (string, string) {
	return values.Encode(), "application/x-www-form-urlencoded"
}

// routeCase is one successful request: what the client sends, what the
// service must receive, and what the client must get back.
type routeCase struct {
	name           string
	req            request
	subject        string // "" for routes answered by the gateway itself
	wantServiceReq string // JSON the service receives ("" to skip)
	wantStatus     int
	wantData       string
	wantMeta       *httpapi.PageMeta
}

func successCases() []routeCase {
	cred := mustJSON(sampleCredential())
	file := mustJSON(sampleFile())
	files := "[" + file + "]"
	ds := mustJSON(sampleDataset())
	mpCred, mpCredType := multipartBody(map[string]string{"name": "key", "provider_name": "openai", "api_key": "sk-1"})
	formCred, formType := form(url.Values{"name": {"key"}, "provider_name": {"openai"}, "api_key": {"sk-1"}, "base_url": {"https://llm.example"}})
	formUpdate, _ := form(url.Values{"name": {"renamed"}, "is_active": {"false"}})
	formTest, _ := form(url.Values{"credential_id": {sampleID}})
	formLen, _ := form(url.Values{"length": {"64"}})
	formConvert, _ := form(url.Values{"file_id": {sampleID}, "dataset_name": {"sales"}, "header": {"true"}, "delimiter": {";"}})
	formCreateDS, _ := form(url.Values{"dataset_name": {"sales"}, "schema": {`[{"column_name":"a","column_type":"string"}]`}})
	formQuery, _ := form(url.Values{"query": {"SELECT 1"}, "limit": {"10"}})
	mpQuery, mpQueryType := multipartBody(map[string]string{"query": "SELECT 1", "limit": "10"})
	id := "/" + sampleID
	return []routeCase{
		// credentials: JSON, urlencoded and multipart bodies bind the same way
		{name: "create credential json", req: request{method: "POST", path: "/api/v1/credentials", token: userToken,
			body: `{"name":"key","provider_name":"openai","api_key":"sk-1","additional_headers":{"X-Org":"o1"}}`},
			subject: cv1.Subject(cv1.OpCreate), wantServiceReq: `{"name":"key","provider_name":"openai","api_key":"sk-1","additional_headers":{"X-Org":"o1"}}`,
			wantStatus: 201, wantData: cred},
		{name: "create credential urlencoded", req: request{method: "POST", path: "/api/v1/credentials", token: userToken, body: formCred, contentType: formType},
			subject: cv1.Subject(cv1.OpCreate), wantServiceReq: `{"name":"key","provider_name":"openai","api_key":"sk-1","base_url":"https://llm.example"}`,
			wantStatus: 201, wantData: cred},
		{name: "create credential multipart", req: request{method: "POST", path: "/api/v1/credentials", token: userToken, body: mpCred, contentType: mpCredType},
			subject: cv1.Subject(cv1.OpCreate), wantServiceReq: `{"name":"key","provider_name":"openai","api_key":"sk-1"}`,
			wantStatus: 201, wantData: cred},
		{name: "list credentials skip/limit", req: request{method: "GET", path: "/api/v1/credentials?skip=10&limit=5", token: userToken},
			subject: cv1.Subject(cv1.OpList), wantServiceReq: `{"skip":10,"limit":5}`, wantStatus: 200,
			wantData: `{"credentials":[` + cred + `],"total":1,"page":3,"size":5}`, wantMeta: &httpapi.PageMeta{Total: 1, Page: 3, PageSize: 5, Pages: 1}},
		{name: "list credentials page/page_size", req: request{method: "GET", path: "/api/v1/credentials?page=2&page_size=20", token: userToken},
			subject: cv1.Subject(cv1.OpList), wantServiceReq: `{"skip":20,"limit":20}`, wantStatus: 200,
			wantData: `{"credentials":[` + cred + `],"total":1,"page":2,"size":20}`, wantMeta: &httpapi.PageMeta{Total: 1, Page: 2, PageSize: 20, Pages: 1}},
		{name: "list credentials defaults and cap", req: request{method: "GET", path: "/api/v1/credentials?limit=5000", token: userToken},
			subject: cv1.Subject(cv1.OpList), wantServiceReq: `{"skip":0,"limit":1000}`, wantStatus: 200,
			wantData: `{"credentials":[` + cred + `],"total":1,"page":1,"size":1000}`, wantMeta: &httpapi.PageMeta{Total: 1, Page: 1, PageSize: 1000, Pages: 1}},
		{name: "get credential", req: request{method: "GET", path: "/api/v1/credentials" + id, token: userToken},
			subject: cv1.Subject(cv1.OpGet), wantServiceReq: `{"id":"` + sampleID + `"}`, wantStatus: 200, wantData: cred},
		{name: "update credential form, upper-case id", req: request{method: "PUT", path: "/api/v1/credentials/" + strings.ToUpper(sampleID), token: userToken, body: formUpdate, contentType: formType},
			subject: cv1.Subject(cv1.OpUpdate), wantServiceReq: `{"id":"` + sampleID + `","name":"renamed","is_active":false}`, wantStatus: 200, wantData: cred},
		{name: "delete credential", req: request{method: "DELETE", path: "/api/v1/credentials" + id, token: userToken},
			subject: cv1.Subject(cv1.OpDelete), wantServiceReq: `{"id":"` + sampleID + `"}`, wantStatus: 200, wantData: `{"credential_id":"` + sampleID + `"}`},
		{name: "test credential", req: request{method: "POST", path: "/api/v1/credentials/test", token: userToken, body: formTest, contentType: formType},
			subject: cv1.Subject(cv1.OpTest), wantServiceReq: `{"credential_id":"` + sampleID + `"}`, wantStatus: 200,
			wantData: `{"is_valid":true,"message":"key works","response_time_ms":12}`},
		{name: "credentials by provider", req: request{method: "GET", path: "/api/v1/credentials/provider/openai", token: userToken},
			subject: cv1.Subject(cv1.OpListByProvider), wantServiceReq: `{"provider_name":"openai"}`, wantStatus: 200,
			wantData: `{"credentials":[` + cred + `],"total":1,"provider_name":"openai"}`},
		{name: "encryption health", req: request{method: "GET", path: "/api/v1/credentials/encryption/health", token: userToken},
			subject: cv1.Subject(cv1.OpEncryptionHealth), wantServiceReq: `{}`, wantStatus: 200,
			wantData: `{"encryption_healthy":true,"test_passed":true,"encryption_algorithm":"AES-256-GCM","timestamp":"2025-03-14T09:26:53Z"}`},
		{name: "generate key form", req: request{method: "POST", path: "/api/v1/credentials/encryption/generate-key", token: userToken, body: formLen, contentType: formType},
			subject: cv1.Subject(cv1.OpGenerateKey), wantServiceReq: `{"length":64}`, wantStatus: 200,
			wantData: `{"secure_key":"c2VjcmV0","length":32,"timestamp":"2025-03-14T09:26:53Z","recommendation":""}`},
		{name: "generate key without body", req: request{method: "POST", path: "/api/v1/credentials/encryption/generate-key", token: userToken},
			subject: cv1.Subject(cv1.OpGenerateKey), wantServiceReq: `{}`, wantStatus: 200,
			wantData: `{"secure_key":"c2VjcmV0","length":32,"timestamp":"2025-03-14T09:26:53Z","recommendation":""}`},
		{name: "rotate keys (admin)", req: request{method: "POST", path: "/api/v1/credentials/encryption/rotate", token: adminToken, body: `{"batch_size":10}`},
			subject: cv1.Subject(cv1.OpRotate), wantServiceReq: `{"batch_size":10}`, wantStatus: 200,
			wantData: `{"started":true,"rotation":{"state":"running","target_key_id":"","total":0,"processed":0,"failed":0}}`},

		// providers
		{name: "providers without a token", req: request{method: "GET", path: "/api/v1/providers"},
			subject: cv1.Subject(cv1.OpProvidersList), wantServiceReq: `{"active_only":true}`, wantStatus: 200,
			wantData: `{"providers":[{"id":"` + sampleID + `","provider_name":"openai","name":"OpenAI","base_url":"","api_key_header":"","api_key_prefix":"","is_active":false}],"total":1}`},
		{name: "providers active_only=false", req: request{method: "GET", path: "/api/v1/providers?active_only=false"},
			subject: cv1.Subject(cv1.OpProvidersList), wantServiceReq: `{"active_only":false}`, wantStatus: 200},
		{name: "refresh providers (admin)", req: request{method: "POST", path: "/api/v1/providers/refresh", token: adminToken},
			subject: cv1.Subject(cv1.OpProvidersRefresh), wantServiceReq: `{}`, wantStatus: 200, wantData: `{"processed_count":3}`},

		// files
		{name: "upload url", req: request{method: "POST", path: "/api/v1/file/upload-url", token: userToken, body: `{"file_name":"a.csv","file_size":3,"file_type":"text/csv"}`},
			subject: fv1.Subject(fv1.OpUploadURL), wantServiceReq: `{"file_name":"a.csv","file_size":3,"file_type":"text/csv"}`, wantStatus: 200,
			wantData: `{"upload_url":"http://s3.test/put","object_name":"users/u/raw/x.csv","expires_in":600}`},
		{name: "commit upload", req: request{method: "POST", path: "/api/v1/file/upload", token: userToken, body: `{"object_name":"users/u/raw/x.csv","file_name":"a.csv","file_size":3,"file_type":"text/csv"}`},
			subject: fv1.Subject(fv1.OpCommit), wantServiceReq: `{"object_name":"users/u/raw/x.csv","file_name":"a.csv","file_size":3,"file_type":"text/csv"}`,
			wantStatus: 201, wantData: file},
		{name: "list files", req: request{method: "GET", path: "/api/v1/file/list", token: userToken},
			subject: fv1.Subject(fv1.OpList), wantServiceReq: `{}`, wantStatus: 200, wantData: files},
		{name: "search files", req: request{method: "GET", path: "/api/v1/file/search?q=sa%2B&file_type=text%2F&limit=10", token: userToken},
			subject: fv1.Subject(fv1.OpSearch), wantServiceReq: `{"q":"sa+","file_type":"text/","limit":10}`, wantStatus: 200, wantData: files},
		{name: "file stats", req: request{method: "GET", path: "/api/v1/file/stats", token: userToken},
			subject: fv1.Subject(fv1.OpStats), wantServiceReq: `{}`, wantStatus: 200,
			wantData: `{"total_files":1,"total_size":3,"total_size_mb":0,"file_types":{"text":1}}`},
		{name: "file types", req: request{method: "GET", path: "/api/v1/file/types", token: userToken},
			subject: fv1.Subject(fv1.OpTypes), wantServiceReq: `{}`, wantStatus: 200, wantData: `["text/csv"]`},
		{name: "files allowed to convert", req: request{method: "GET", path: "/api/v1/file/allow-convert", token: userToken},
			subject: fv1.Subject(fv1.OpAllowConvert), wantServiceReq: `{}`, wantStatus: 200, wantData: files},
		{name: "download url is a string", req: request{method: "GET", path: "/api/v1/file/download" + id, token: userToken},
			subject: fv1.Subject(fv1.OpDownloadURL), wantServiceReq: `{"id":"` + sampleID + `"}`, wantStatus: 200, wantData: `"http://s3.test/get"`},
		{name: "rename file", req: request{method: "PUT", path: "/api/v1/file/rename" + id + "?new_name=b", token: userToken},
			subject: fv1.Subject(fv1.OpRename), wantServiceReq: `{"id":"` + sampleID + `","new_name":"b"}`, wantStatus: 200, wantData: file},
		{name: "batch delete", req: request{method: "POST", path: "/api/v1/file/batch/delete", token: userToken, body: `{"file_ids":["` + sampleID + `"]}`},
			subject: fv1.Subject(fv1.OpBatchDelete), wantServiceReq: `{"file_ids":["` + sampleID + `"]}`, wantStatus: 200,
			wantData: `{"successful":["` + sampleID + `"],"failed":[]}`},
		{name: "get file", req: request{method: "GET", path: "/api/v1/file" + id, token: userToken},
			subject: fv1.Subject(fv1.OpGet), wantServiceReq: `{"id":"` + sampleID + `"}`, wantStatus: 200, wantData: file},
		{name: "delete file", req: request{method: "DELETE", path: "/api/v1/file" + id, token: userToken},
			subject: fv1.Subject(fv1.OpDelete), wantServiceReq: `{"id":"` + sampleID + `"}`, wantStatus: 200, wantData: `{"file_id":"` + sampleID + `"}`},

		// datasets
		{name: "convert form, finished", req: request{method: "POST", path: "/api/v1/datasets/convert", token: userToken, body: formConvert, contentType: formType},
			subject: dv1.Subject(dv1.OpConvert), wantServiceReq: `{"file_id":"` + sampleID + `","dataset_name":"sales","delimiter":";","header":true}`,
			wantStatus: 201, wantData: ds},
		{name: "convert json async", req: request{method: "POST", path: "/api/v1/datasets/convert", token: userToken, body: `{"file_id":"` + sampleID + `","dataset_name":"sales","async":true}`},
			subject: dv1.Subject(dv1.OpConvert), wantServiceReq: `{"file_id":"` + sampleID + `","dataset_name":"sales","async":true}`,
			wantStatus: 202, wantData: `{"dataset_id":"` + sampleID + `","status":"processing"}`},
		{name: "create dataset form with JSON schema", req: request{method: "POST", path: "/api/v1/datasets/create", token: userToken, body: formCreateDS, contentType: formType},
			subject: dv1.Subject(dv1.OpCreate), wantServiceReq: `{"dataset_name":"sales","schema":[{"column_name":"a","column_type":"string"}]}`,
			wantStatus: 201, wantData: ds},
		{name: "list datasets", req: request{method: "GET", path: "/api/v1/datasets/list?skip=100&limit=50", token: userToken},
			subject: dv1.Subject(dv1.OpList), wantServiceReq: `{"skip":100,"limit":50}`, wantStatus: 200, wantData: "[" + ds + "]",
			wantMeta: &httpapi.PageMeta{Total: 250, Page: 3, PageSize: 50, Pages: 5}},
		{name: "get dataset", req: request{method: "GET", path: "/api/v1/datasets" + id, token: userToken},
			subject: dv1.Subject(dv1.OpGet), wantServiceReq: `{"id":"` + sampleID + `"}`, wantStatus: 200, wantData: ds},
		{name: "update dataset", req: request{method: "PUT", path: "/api/v1/datasets" + id, token: userToken, body: `{"name":"sales2"}`},
			subject: dv1.Subject(dv1.OpUpdate), wantServiceReq: `{"id":"` + sampleID + `","name":"sales2"}`, wantStatus: 200, wantData: ds},
		{name: "schema descriptions as object", req: request{method: "PUT", path: "/api/v1/datasets" + id + "/schema", token: userToken, body: `{"a":"first"}`},
			subject: dv1.Subject(dv1.OpUpdateSchema), wantServiceReq: `{"id":"` + sampleID + `","descriptions":{"a":"first"}}`, wantStatus: 200, wantData: ds},
		{name: "schema descriptions as array", req: request{method: "PUT", path: "/api/v1/datasets" + id + "/schema", token: userToken, body: `[{"column_name":"a","desc":"first"}]`},
			subject: dv1.Subject(dv1.OpUpdateSchema), wantServiceReq: `{"id":"` + sampleID + `","descriptions":{"a":"first"}}`, wantStatus: 200, wantData: ds},
		{name: "delete dataset is true", req: request{method: "DELETE", path: "/api/v1/datasets" + id, token: userToken},
			subject: dv1.Subject(dv1.OpDelete), wantServiceReq: `{"id":"` + sampleID + `"}`, wantStatus: 200, wantData: `true`},
		{name: "dataset rows", req: request{method: "GET", path: "/api/v1/datasets" + id + "/data?skip=5&limit=10", token: userToken},
			subject: dv1.Subject(dv1.OpData), wantServiceReq: `{"id":"` + sampleID + `","skip":5,"limit":10}`, wantStatus: 200,
			wantData: `{"data":[{"a":"x"}],"total_rows":1,"offset":0,"limit":100}`},
		{name: "dataset rejects", req: request{method: "GET", path: "/api/v1/datasets" + id + "/rejects?skip=2&limit=3", token: userToken},
			subject: dv1.Subject(dv1.OpRejects), wantServiceReq: `{"id":"` + sampleID + `","skip":2,"limit":3}`, wantStatus: 200,
			wantData: `{"rejects":[{"line":17,"reason":"3 fields, the table has 2","raw":"a,b,c"}],"total":1,"offset":0,"limit":100}`},
		{name: "query form", req: request{method: "POST", path: "/api/v1/datasets/query", token: userToken, body: formQuery, contentType: formType},
			subject: dv1.Subject(dv1.OpQuery), wantServiceReq: `{"query":"SELECT 1","limit":10}`, wantStatus: 200,
			wantData: `{"columns":[{"name":"n","type":"INTEGER"}],"data":[{"n":1}],"row_count":1,"truncated":false,"elapsed_ms":0}`},
		{name: "query multipart", req: request{method: "POST", path: "/api/v1/datasets/query", token: userToken, body: mpQuery, contentType: mpQueryType},
			subject: dv1.Subject(dv1.OpQuery), wantServiceReq: `{"query":"SELECT 1","limit":10}`, wantStatus: 200},
		{name: "file columns", req: request{method: "GET", path: "/api/v1/datasets" + id + "/file-columns/65f2a1b3c4d5e6f708192c02", token: userToken},
			subject: dv1.Subject(dv1.OpFileColumns), wantServiceReq: `{"id":"` + sampleID + `","file_id":"65f2a1b3c4d5e6f708192c02"}`, wantStatus: 200,
			wantData: `{"file_columns":["a"],"dataset_columns":[],"file_info":{"file_id":"","file_name":"","file_type":""},"dataset_info":{"dataset_id":"","dataset_name":"","description":""}}`},
		{name: "insert", req: request{method: "POST", path: "/api/v1/datasets" + id + "/insert/65f2a1b3c4d5e6f708192c02", token: userToken},
			subject: dv1.Subject(dv1.OpInsert), wantServiceReq: `{"id":"` + sampleID + `","file_id":"65f2a1b3c4d5e6f708192c02"}`, wantStatus: 200,
			wantData: `{"inserted_rows":7}`},
		{name: "duckdb stats (admin)", req: request{method: "GET", path: "/api/v1/duckdb/stats", token: adminToken},
			subject: dv1.Subject(dv1.OpDuckDBStats), wantServiceReq: `{}`, wantStatus: 200,
			wantData: `{"total_instances":2,"active_instances":1,"expired_instances":0,"instance_ttl":0,"cleanup_interval":0}`},
		{name: "duckdb cleanup (admin)", req: request{method: "POST", path: "/api/v1/duckdb/cleanup", token: adminToken},
			subject: dv1.Subject(dv1.OpDuckDBCleanup), wantServiceReq: `{}`, wantStatus: 200, wantData: `{"closed_instances":1}`},

		// auth, answered by the gateway itself
		{name: "me", req: request{method: "GET", path: "/api/v1/auth/me", token: userToken}, wantStatus: 200,
			wantData: mustJSON(userv1.User{ID: userAID, ClerkID: "user_a", Emails: []string{"user_a@example.com"}})},
		{name: "verify token", req: request{method: "GET", path: "/api/v1/auth/verify-token", token: userToken}, wantStatus: 200,
			wantData: `{"sub":"user_a","iss":"https://clerk.test","sid":"sess_a","role":"user","user_id":"` + userAID + `","exp":"2030-01-01T00:00:00Z"}`},
		{name: "create token without a token", req: request{method: "GET", path: "/api/v1/auth/create-token?clerk_id=user_1&role=admin"}, wantStatus: 200,
			wantData: `{"token":"minted-for-user_1-admin","session_id":"sess_dev","expires_in_seconds":86400}`},
	}
}

// 2xx: every API route answers with the exact envelope and sends the
// service exactly the request its contract expects.
func TestRoutesSucceed(t *testing.T) {
	h := newHarness(t, allServices)
	for _, tc := range successCases() {
		t.Run(tc.name, func(t *testing.T) {
			before := 0
			if tc.subject != "" {
				before = h.stubs.count(tc.subject)
			}
			rec := h.do(tc.req)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.wantStatus, rec.Body.String())
			}
			env := decodeEnvelope(t, rec)
			if !env.Success || env.Errors != nil || env.Message == "" {
				t.Errorf("envelope %s", rec.Body.String())
			}
			if tc.wantData != "" && !jsonEqual(t, env.Data, tc.wantData) {
				t.Errorf("data\n got %s\nwant %s", env.Data, tc.wantData)
			}
			switch {
			case tc.wantMeta == nil && env.Meta != nil:
				t.Errorf("unexpected meta %+v", env.Meta)
			case tc.wantMeta != nil && (env.Meta == nil || *env.Meta != *tc.wantMeta):
				t.Errorf("meta %+v, want %+v", env.Meta, tc.wantMeta)
			}
			if tc.subject == "" {
				return
			}
			if got := h.stubs.count(tc.subject); got != before+1 {
				t.Fatalf("%s got %d requests, want 1", tc.subject, got-before)
			}
			c := h.stubs.lastCall(t, tc.subject)
			if tc.wantServiceReq != "" && !jsonEqual(t, c.Body, tc.wantServiceReq) {
				t.Errorf("service request\n got %s\nwant %s", c.Body, tc.wantServiceReq)
			}
		})
	}
}

// Every route of the table above exists in the router, and the table
// covers every operation route of the OpenAPI document (so a new route
// without a success test shows up here).
func TestSuccessCasesCoverEveryAPIRoute(t *testing.T) {
	h := newHarness(t, nil, withWebhooks(http.NotFoundHandler()))
	covered := map[string]bool{}
	for _, tc := range successCases() {
		covered[tc.req.method+" "+routePatternOf(t, h, tc.req)] = true
	}
	doc := openAPIOperations(t, h)
	for op := range doc {
		if !strings.HasPrefix(strings.SplitN(op, " ", 2)[1], "/api/v1/") {
			continue
		}
		switch op {
		case "GET /api/v1/datasets/{id}/export", // streamed: TestExportStreamsFromStorage
			"POST /api/v1/webhooks/clerk", // mounted handler: TestWebhookAndJWKSAreMounted
			"GET /api/v1/events":          // TestEventsThroughTheRouter
			continue
		}
		if !covered[op] {
			t.Errorf("no success case for %s", op)
		}
	}
}
