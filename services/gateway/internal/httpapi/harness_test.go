package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/nonefinity/backend/contracts"
	cv1 "github.com/nonefinity/backend/contracts/credentialv1"
	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	fv1 "github.com/nonefinity/backend/contracts/filev1"
	"github.com/nonefinity/backend/contracts/healthv1"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/contracts/userv1"
	"github.com/nonefinity/backend/pkg/logx"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/pkg/reqctx"
	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/gateway/internal/httpapi"
)

// Users and tokens the in-test verifier knows. These implement the
// router's own consumer-side interfaces; the services behind the router
// are real micro endpoints on an embedded NATS server.
const (
	userToken   = "token-user-a"
	userBToken  = "token-user-b"
	adminToken  = "token-admin"
	bannedToken = "token-banned"
	// keysDownToken makes the verifier report its keys unavailable.
	keysDownToken = "token-keys-down"

	userAID  = "65f2a1b3c4d5e6f708192c0a"
	userBID  = "65f2a1b3c4d5e6f708192c0b"
	adminID  = "65f2a1b3c4d5e6f708192cad"
	bannedID = "65f2a1b3c4d5e6f708192cbb"

	sampleID = "65f2a1b3c4d5e6f708192c01"
)

var principals = map[string]httpapi.Principal{
	userToken:   {Subject: "user_a", Issuer: "https://clerk.test", SessionID: "sess_a", ExpiresAt: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
	userBToken:  {Subject: "user_b", Issuer: "https://clerk.test"},
	adminToken:  {Subject: "admin_1", Issuer: "https://clerk.test", Role: contracts.RoleAdmin},
	bannedToken: {Subject: "banned_1", Issuer: "https://clerk.test"},
}

var identities = map[string]httpapi.Identity{
	"user_a":   {UserID: userAID, ClerkID: "user_a"},
	"user_b":   {UserID: userBID, ClerkID: "user_b"},
	"admin_1":  {UserID: adminID, ClerkID: "admin_1"},
	"banned_1": {UserID: bannedID, ClerkID: "banned_1", Banned: true},
}

var errBadToken = errors.New("token refused")

type tokenTable struct{}

func (tokenTable) Verify(_ context.Context, token string) (httpapi.Principal, error) {
	if token == keysDownToken {
		return httpapi.Principal{}, httpapi.ErrAuthUnavailable
	}
	p, ok := principals[token]
	if !ok {
		return httpapi.Principal{}, errBadToken
	}
	return p, nil
}

type identityTable struct{}

func (identityTable) Resolve(_ context.Context, clerkID string) (httpapi.Identity, error) {
	id, ok := identities[clerkID]
	if !ok {
		return httpapi.Identity{}, rpcerr.NotFoundf("user not found")
	}
	return id, nil
}

type userTable struct{}

func (userTable) Get(_ context.Context, userID string) (userv1.User, error) {
	for _, id := range identities {
		if id.UserID == userID {
			return userv1.User{ID: id.UserID, ClerkID: id.ClerkID, Emails: []string{id.ClerkID + "@example.com"}}, nil
		}
	}
	return userv1.User{}, rpcerr.NotFoundf("user not found")
}

type fixedMinter struct{}

func (fixedMinter) Mint(_ context.Context, clerkID, role string) (httpapi.MintedToken, error) {
	return httpapi.MintedToken{Token: "minted-for-" + clerkID + "-" + role, SessionID: "sess_dev", ExpiresInSeconds: 86400}, nil
}

// call is one request a stub service received.
type call struct {
	Subject  string
	Body     json.RawMessage
	Meta     reqctx.Meta
	Deadline time.Time
}

// responder answers one subject; it gets the raw request body.
type responder func(ctx context.Context, body json.RawMessage) (any, error)

// stubServices are micro services on the embedded NATS server standing in
// for credential, fileingest and datasetquery: they record each request
// (body and the metadata natsx carried in headers) and answer with a
// canned reply per subject.
type stubServices struct {
	mu      sync.Mutex
	calls   []call
	answers map[string]responder
}

func (s *stubServices) record(ctx context.Context, subject string, body json.RawMessage) {
	dl, _ := ctx.Deadline()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, call{Subject: subject, Body: append(json.RawMessage(nil), body...), Meta: reqctx.From(ctx), Deadline: dl})
}

// answer replaces the reply of one subject.
func (s *stubServices) answer(subject string, r responder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers[subject] = r
}

func (s *stubServices) lastCall(t *testing.T, subject string) call {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.calls) - 1; i >= 0; i-- {
		if s.calls[i].Subject == subject {
			return s.calls[i]
		}
	}
	t.Fatalf("no request reached %s; got %d requests", subject, len(s.calls))
	return call{}
}

func (s *stubServices) count(subject string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c.Subject == subject {
			n++
		}
	}
	return n
}

func reply(v any) responder {
	return func(context.Context, json.RawMessage) (any, error) { return v, nil }
}

func failWith(e *rpcerr.Error) responder {
	return func(context.Context, json.RawMessage) (any, error) { return nil, e }
}

var sampleTime = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

func sampleCredential() cv1.Credential {
	return cv1.Credential{ID: sampleID, Name: "key", ProviderName: "openai", IsActive: true, CreatedAt: sampleTime, UpdatedAt: sampleTime}
}

func sampleFile() fv1.File {
	return fv1.File{ID: sampleID, OwnerID: userAID, FileName: "sales", FileExt: ".csv", FileType: "text/csv", FileSize: 3, Status: fv1.StatusReady, CreatedAt: sampleTime, UpdatedAt: sampleTime}
}

func sampleDataset() dv1.Dataset {
	return dv1.Dataset{ID: sampleID, Name: "sales", OwnerID: userAID, Status: dv1.StatusReady, RowCount: 2,
		DataSchema: []dv1.Column{{ColumnName: "a", ColumnType: "string"}}, CreatedAt: sampleTime, UpdatedAt: sampleTime}
}

// defaultAnswers is what each operation answers unless a test says
// otherwise.
func defaultAnswers() map[string]responder {
	files := fv1.ListReply{Files: []fv1.File{sampleFile()}}
	a := map[string]responder{
		cv1.Subject(cv1.OpCreate): reply(sampleCredential()),
		cv1.Subject(cv1.OpList): func(_ context.Context, body json.RawMessage) (any, error) {
			var req cv1.ListRequest
			_ = json.Unmarshal(body, &req)
			return cv1.ListReply{Credentials: []cv1.Credential{sampleCredential()}, Total: 1, Page: req.Number(), Size: req.Limit}, nil
		},
		cv1.Subject(cv1.OpGet):              reply(sampleCredential()),
		cv1.Subject(cv1.OpUpdate):           reply(sampleCredential()),
		cv1.Subject(cv1.OpDelete):           reply(cv1.DeleteReply{CredentialID: sampleID}),
		cv1.Subject(cv1.OpTest):             reply(cv1.TestReply{IsValid: true, Message: "key works", ResponseTimeMS: 12}),
		cv1.Subject(cv1.OpListByProvider):   reply(cv1.ListByProviderReply{Credentials: []cv1.Credential{sampleCredential()}, Total: 1, ProviderName: "openai"}),
		cv1.Subject(cv1.OpEncryptionHealth): reply(cv1.EncryptionHealthReply{EncryptionHealthy: true, TestPassed: true, EncryptionAlgorithm: "AES-256-GCM", Timestamp: sampleTime}),
		cv1.Subject(cv1.OpGenerateKey):      reply(cv1.GenerateKeyReply{SecureKey: "c2VjcmV0", Length: 32, Timestamp: sampleTime}),
		cv1.Subject(cv1.OpProvidersList):    reply(cv1.ProvidersListReply{Providers: []cv1.Provider{{ID: sampleID, ProviderName: "openai", Name: "OpenAI"}}, Total: 1}),
		cv1.Subject(cv1.OpProvidersRefresh): reply(cv1.ProvidersRefreshReply{ProcessedCount: 3}),
		cv1.Subject(cv1.OpRotate):           reply(cv1.RotateReply{Started: true, Rotation: cv1.RotationProgress{State: cv1.RotationRunning}}),

		fv1.Subject(fv1.OpUploadURL):    reply(fv1.UploadURLReply{UploadURL: "http://s3.test/put", ObjectName: "users/u/raw/x.csv", ExpiresIn: 600}),
		fv1.Subject(fv1.OpCommit):       reply(sampleFile()),
		fv1.Subject(fv1.OpList):         reply(files),
		fv1.Subject(fv1.OpGet):          reply(sampleFile()),
		fv1.Subject(fv1.OpSearch):       reply(files),
		fv1.Subject(fv1.OpRename):       reply(sampleFile()),
		fv1.Subject(fv1.OpDelete):       reply(fv1.DeleteReply{FileID: sampleID}),
		fv1.Subject(fv1.OpBatchDelete):  reply(fv1.BatchDeleteReply{Successful: []string{sampleID}}),
		fv1.Subject(fv1.OpStats):        reply(fv1.StatsReply{TotalFiles: 1, TotalSize: 3, FileTypes: map[string]int{"text": 1}}),
		fv1.Subject(fv1.OpTypes):        reply(fv1.TypesReply{Types: []string{"text/csv"}}),
		fv1.Subject(fv1.OpDownloadURL):  reply(fv1.DownloadURLReply{URL: "http://s3.test/get", ExpiresIn: 3600}),
		fv1.Subject(fv1.OpAllowConvert): reply(files),

		dv1.Subject(dv1.OpConvert): func(_ context.Context, body json.RawMessage) (any, error) {
			var req dv1.ConvertRequest
			_ = json.Unmarshal(body, &req)
			if req.Async {
				return dv1.ConvertReply{DatasetID: sampleID, Status: dv1.StatusProcessing, Accepted: true}, nil
			}
			ds := sampleDataset()
			return dv1.ConvertReply{Dataset: &ds, DatasetID: sampleID, Status: dv1.StatusReady}, nil
		},
		dv1.Subject(dv1.OpCreate):        reply(sampleDataset()),
		dv1.Subject(dv1.OpList):          reply(dv1.ListReply{Datasets: []dv1.Dataset{sampleDataset()}, Total: 250}),
		dv1.Subject(dv1.OpGet):           reply(sampleDataset()),
		dv1.Subject(dv1.OpUpdate):        reply(sampleDataset()),
		dv1.Subject(dv1.OpUpdateSchema):  reply(sampleDataset()),
		dv1.Subject(dv1.OpDelete):        reply(dv1.DeleteReply{DatasetID: sampleID, Deleted: true}),
		dv1.Subject(dv1.OpData):          reply(dv1.DataReply{Data: []dv1.Row{dv1.RowOf([]string{"a"}, "x")}, TotalRows: 1, Limit: 100}),
		dv1.Subject(dv1.OpRejects):       reply(dv1.RejectsReply{Rejects: []dv1.Reject{{Line: 17, Reason: "3 fields, the table has 2", Raw: "a,b,c"}}, Total: 1, Limit: 100}),
		dv1.Subject(dv1.OpFileColumns):   reply(dv1.FileColumnsReply{FileColumns: []string{"a"}}),
		dv1.Subject(dv1.OpInsert):        reply(dv1.InsertReply{InsertedRows: 7}),
		dv1.Subject(dv1.OpExport):        reply(dv1.ExportReply{URL: "http://127.0.0.1:1/none", ContentType: "text/csv", FileName: "sales.csv"}),
		dv1.Subject(dv1.OpQuery):         reply(dv1.QueryReply{Columns: []dv1.QueryColumn{{Name: "n", Type: "INTEGER"}}, Data: []dv1.Row{dv1.RowOf([]string{"n"}, 1)}, RowCount: 1}),
		dv1.Subject(dv1.OpDuckDBStats):   reply(dv1.DuckDBStatsReply{TotalInstances: 2, ActiveInstances: 1}),
		dv1.Subject(dv1.OpDuckDBCleanup): reply(dv1.CleanupReply{ClosedInstances: 1}),
	}
	for _, svc := range []string{contracts.ServiceCredential, contracts.ServiceFile, contracts.ServiceDataset} {
		a[healthv1.Subject(svc)] = reply(healthv1.Reply{Service: svc, Version: "1.0.0", Status: healthv1.StatusOK})
	}
	return a
}

// startStubs registers the stub endpoints of the named services.
func startStubs(t testing.TB, nc *nats.Conn, services ...string) *stubServices {
	t.Helper()
	s := &stubServices{answers: defaultAnswers()}
	ops := map[string][]string{
		contracts.ServiceCredential: cv1.Ops(),
		contracts.ServiceFile:       fv1.Ops(),
		contracts.ServiceDataset:    dv1.Ops(),
	}
	for _, name := range services {
		svc, err := natsx.NewService(nc, natsx.ServiceConfig{Name: name, Version: "1.0.0", Description: "stub " + name}, logx.Discard())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = svc.Stop() })
		for _, op := range ops[name] {
			subject := contracts.RequestSubject(name, op)
			err := natsx.Handle(svc, subject, func(ctx context.Context, body json.RawMessage) (json.RawMessage, error) {
				s.record(ctx, subject, body)
				s.mu.Lock()
				answer := s.answers[subject]
				s.mu.Unlock()
				if answer == nil {
					return nil, rpcerr.New(rpcerr.Internal, "stub has no answer for "+subject)
				}
				v, err := answer(ctx, body)
				if err != nil {
					return nil, err
				}
				return json.Marshal(v)
			}, natsx.WithConcurrency(8), natsx.WithDescription("stub "+subject))
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return s
}

// harness is the real router over an embedded NATS server with stubs.
type harness struct {
	t       testing.TB
	ns      *testkit.NATSServer
	nc      *nats.Conn
	api     *httpapi.API
	handler http.Handler
	stubs   *stubServices
	opts    httpapi.Options
}

type option func(*httpapi.Options)

// services selects which stub services run (default: all three).
var allServices = []string{contracts.ServiceCredential, contracts.ServiceFile, contracts.ServiceDataset}

func newHarness(t testing.TB, services []string, opts ...option) *harness {
	t.Helper()
	ns := testkit.NATS(t)
	h := &harness{t: t, ns: ns, nc: ns.Conn(t)}
	h.stubs = startStubs(t, ns.Conn(t), services...)
	h.opts = httpapi.Options{
		NC:             h.nc,
		Log:            logx.Discard(),
		Version:        "test",
		Services:       allServices,
		Verifier:       tokenTable{},
		Identities:     identityTable{},
		Users:          userTable{},
		Minter:         fixedMinter{},
		CORSOrigins:    []string{"http://localhost:5173"},
		RequestTimeout: 20 * time.Second,
	}
	for _, o := range opts {
		o(&h.opts)
	}
	api, err := httpapi.New(h.opts)
	if err != nil {
		t.Fatal(err)
	}
	h.api = api
	h.handler = api.Router()
	return h
}

// request is one HTTP request to the router.
type request struct {
	method, path string
	token        string
	body         string
	contentType  string
	header       map[string]string
	// remoteAddr is the connection's peer; default httptest's 192.0.2.1:1234.
	remoteAddr string
}

func (h *harness) do(r request) *httptest.ResponseRecorder {
	h.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req := httptest.NewRequest(r.method, r.path, body)
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	} else if r.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	if r.remoteAddr != "" {
		req.RemoteAddr = r.remoteAddr
	}
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, req)
	return rec
}

// envelope is the response body as a client reads it.
type envelope struct {
	Success bool              `json:"success"`
	Message string            `json:"message"`
	Data    json.RawMessage   `json:"data"`
	Meta    *httpapi.PageMeta `json:"meta"`
	Errors  []rpcerr.Error    `json:"errors"`
}

func decodeEnvelope(t testing.TB, rec *httptest.ResponseRecorder) envelope {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, body %s", ct, rec.Body.String())
	}
	var env envelope
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		t.Fatalf("body is not the envelope: %v: %s", err, rec.Body.String())
	}
	return env
}

// expectError checks an error response: status, envelope shape, code and
// field of the first error.
func expectError(t testing.TB, rec *httptest.ResponseRecorder, status int, code rpcerr.Code, field string) envelope {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d: %s", rec.Code, status, rec.Body.String())
	}
	env := decodeEnvelope(t, rec)
	if env.Success || len(env.Errors) == 0 || env.Data != nil || env.Message == "" {
		t.Fatalf("not an error envelope: %s", rec.Body.String())
	}
	if env.Errors[0].Code != code || env.Errors[0].Field != field {
		t.Fatalf("error %+v, want code %s field %q", env.Errors[0], code, field)
	}
	return env
}

// jsonEqual compares two JSON documents by value.
func jsonEqual(t testing.TB, got []byte, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("invalid JSON %s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("invalid expected JSON %s: %v", want, err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	return bytes.Equal(gb, wb)
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// newJSONLogger is the production logger (JSON, request metadata from the
// context, secrets redacted) writing to w.
func newJSONLogger(w io.Writer) *slog.Logger {
	log, _, err := logx.New(logx.Options{Env: "prod", Level: "debug", Writer: w})
	if err != nil {
		panic(err)
	}
	return log
}
