package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/nonefinity/backend/contracts/client"
	cv1 "github.com/nonefinity/backend/contracts/credentialv1"
	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	fv1 "github.com/nonefinity/backend/contracts/filev1"
	"github.com/nonefinity/backend/contracts/healthv1"
	"github.com/nonefinity/backend/contracts/rpcerr"
)

// recorder is a Requester that records what it was asked and answers with a
// canned JSON body, decoded into resp the way the NATS requester does.
type recorder struct {
	subject string
	body    []byte // the request as it would go on the wire
	reply   []byte
	err     error
}

type ctxKey struct{}

func (r *recorder) Request(ctx context.Context, subject string, req, resp any) error {
	if ctx.Value(ctxKey{}) != "request-ctx" {
		return errors.New("the caller's context was not passed through")
	}
	r.subject = subject
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	r.body = b
	if r.err != nil {
		return r.err
	}
	return json.Unmarshal(r.reply, resp)
}

// op is one client method called through the recorder: the request it sends
// (nil for operations without input), the reply it is given, and the call.
type op struct {
	subject string
	req     any
	reply   any
	call    func(ctx context.Context, r client.Requester) (any, error)
}

func ops() []op {
	const id = "65f2a1b3c4d5e6f708192c01"
	cred := cv1.Credential{ID: id, Name: "k", ProviderName: "openai"}
	file := fv1.File{ID: id, FileName: "f", Status: fv1.StatusReady}
	ds := dv1.Dataset{ID: id, Name: "sales", Status: dv1.StatusReady, DataSchema: []dv1.Column{{ColumnName: "a", ColumnType: "string"}}}
	files := fv1.ListReply{Files: []fv1.File{file}}
	s := func(v string) *string { return &v }

	c := func(r client.Requester) client.Credential { return client.Credential{R: r} }
	f := func(r client.Requester) client.File { return client.File{R: r} }
	d := func(r client.Requester) client.Dataset { return client.Dataset{R: r} }

	type ctx = context.Context
	type rq = client.Requester
	return []op{
		// credential
		{"svc.credential.v1.create", cv1.CreateRequest{Name: "k", ProviderName: "openai", APIKey: "sk"}, cred,
			func(x ctx, r rq) (any, error) {
				return c(r).Create(x, cv1.CreateRequest{Name: "k", ProviderName: "openai", APIKey: "sk"})
			}},
		{"svc.credential.v1.list", cv1.ListRequest{}, cv1.ListReply{Credentials: []cv1.Credential{cred}, Total: 1, Page: 1, Size: 100},
			func(x ctx, r rq) (any, error) { return c(r).List(x, cv1.ListRequest{}) }},
		{"svc.credential.v1.get", cv1.GetRequest{ID: id}, cred,
			func(x ctx, r rq) (any, error) { return c(r).Get(x, cv1.GetRequest{ID: id}) }},
		{"svc.credential.v1.update", cv1.UpdateRequest{ID: id, Name: s("n")}, cred,
			func(x ctx, r rq) (any, error) { return c(r).Update(x, cv1.UpdateRequest{ID: id, Name: s("n")}) }},
		{"svc.credential.v1.delete", cv1.DeleteRequest{ID: id}, cv1.DeleteReply{CredentialID: id},
			func(x ctx, r rq) (any, error) { return c(r).Delete(x, cv1.DeleteRequest{ID: id}) }},
		{"svc.credential.v1.test", cv1.TestRequest{CredentialID: id}, cv1.TestReply{IsValid: true, Message: "ok"},
			func(x ctx, r rq) (any, error) { return c(r).Test(x, cv1.TestRequest{CredentialID: id}) }},
		{"svc.credential.v1.list_by_provider", cv1.ListByProviderRequest{ProviderName: "openai"},
			cv1.ListByProviderReply{Credentials: []cv1.Credential{cred}, Total: 1, ProviderName: "openai"},
			func(x ctx, r rq) (any, error) {
				return c(r).ListByProvider(x, cv1.ListByProviderRequest{ProviderName: "openai"})
			}},
		{"svc.credential.v1.encryption_health", nil, cv1.EncryptionHealthReply{EncryptionHealthy: true, TestPassed: true},
			func(x ctx, r rq) (any, error) { return c(r).EncryptionHealth(x) }},
		{"svc.credential.v1.generate_key", cv1.GenerateKeyRequest{Length: 32}, cv1.GenerateKeyReply{SecureKey: "abc", Length: 32},
			func(x ctx, r rq) (any, error) { return c(r).GenerateKey(x, cv1.GenerateKeyRequest{Length: 32}) }},
		{"svc.credential.v1.providers_list", cv1.ProvidersListRequest{ActiveOnly: true},
			cv1.ProvidersListReply{Providers: []cv1.Provider{{ID: id, ProviderName: "openai"}}, Total: 1},
			func(x ctx, r rq) (any, error) {
				return c(r).ProvidersList(x, cv1.ProvidersListRequest{ActiveOnly: true})
			}},
		{"svc.credential.v1.providers_refresh", nil, cv1.ProvidersRefreshReply{ProcessedCount: 3},
			func(x ctx, r rq) (any, error) { return c(r).ProvidersRefresh(x) }},
		{"svc.credential.v1.rotate", cv1.RotateRequest{BatchSize: 10}, cv1.RotateReply{Started: true, Rotation: cv1.RotationProgress{State: cv1.RotationRunning}},
			func(x ctx, r rq) (any, error) { return c(r).Rotate(x, cv1.RotateRequest{BatchSize: 10}) }},
		{"svc.credential.v1.resolve", cv1.ResolveRequest{CredentialID: id}, cv1.ResolveReply{ProviderName: "openai", APIKey: "sk"},
			func(x ctx, r rq) (any, error) { return c(r).Resolve(x, cv1.ResolveRequest{CredentialID: id}) }},
		{"svc.credential.v1.health", nil, healthReply("credential"),
			func(x ctx, r rq) (any, error) { return c(r).Health(x) }},

		// file
		{"svc.file.v1.upload_url", fv1.UploadURLRequest{FileName: "a.csv", FileSize: 3, FileType: "text/csv"},
			fv1.UploadURLReply{UploadURL: "http://s3/x", ObjectName: "users/u/raw/x.csv", ExpiresIn: 600},
			func(x ctx, r rq) (any, error) {
				return f(r).UploadURL(x, fv1.UploadURLRequest{FileName: "a.csv", FileSize: 3, FileType: "text/csv"})
			}},
		{"svc.file.v1.commit", fv1.CommitRequest{ObjectName: "users/u/raw/x.csv", FileName: "a.csv", FileSize: 3}, file,
			func(x ctx, r rq) (any, error) {
				return f(r).Commit(x, fv1.CommitRequest{ObjectName: "users/u/raw/x.csv", FileName: "a.csv", FileSize: 3})
			}},
		{"svc.file.v1.list", fv1.ListRequest{Cursor: "c"}, files,
			func(x ctx, r rq) (any, error) { return f(r).List(x, fv1.ListRequest{Cursor: "c"}) }},
		{"svc.file.v1.get", fv1.GetRequest{ID: id}, file,
			func(x ctx, r rq) (any, error) { return f(r).Get(x, fv1.GetRequest{ID: id}) }},
		{"svc.file.v1.search", fv1.SearchRequest{Q: "a"}, files,
			func(x ctx, r rq) (any, error) { return f(r).Search(x, fv1.SearchRequest{Q: "a"}) }},
		{"svc.file.v1.rename", fv1.RenameRequest{ID: id, NewName: "b"}, file,
			func(x ctx, r rq) (any, error) { return f(r).Rename(x, fv1.RenameRequest{ID: id, NewName: "b"}) }},
		{"svc.file.v1.delete", fv1.DeleteRequest{ID: id}, fv1.DeleteReply{FileID: id},
			func(x ctx, r rq) (any, error) { return f(r).Delete(x, fv1.DeleteRequest{ID: id}) }},
		{"svc.file.v1.batch_delete", fv1.BatchDeleteRequest{FileIDs: []string{id}}, fv1.BatchDeleteReply{Successful: []string{id}, Failed: []fv1.BatchFailure{}},
			func(x ctx, r rq) (any, error) {
				return f(r).BatchDelete(x, fv1.BatchDeleteRequest{FileIDs: []string{id}})
			}},
		{"svc.file.v1.stats", nil, fv1.StatsReply{TotalFiles: 1, FileTypes: map[string]int{"text": 1}},
			func(x ctx, r rq) (any, error) { return f(r).Stats(x) }},
		{"svc.file.v1.types", nil, fv1.TypesReply{Types: []string{"text/csv"}},
			func(x ctx, r rq) (any, error) { return f(r).Types(x) }},
		{"svc.file.v1.download_url", fv1.DownloadURLRequest{ID: id}, fv1.DownloadURLReply{URL: "http://s3/x", ExpiresIn: 3600},
			func(x ctx, r rq) (any, error) { return f(r).DownloadURL(x, fv1.DownloadURLRequest{ID: id}) }},
		{"svc.file.v1.allow_convert", fv1.ListRequest{}, files, func(x ctx, r rq) (any, error) { return f(r).AllowConvert(x, fv1.ListRequest{}) }},
		{"svc.file.v1.open", fv1.OpenRequest{FileID: id}, fv1.OpenReply{URL: "http://s3/x", File: file},
			func(x ctx, r rq) (any, error) { return f(r).Open(x, fv1.OpenRequest{FileID: id}) }},
		{"svc.file.v1.multipart_start", fv1.MultipartStartRequest{FileName: "x.csv"},
			fv1.MultipartStartReply{ObjectName: "users/u/raw/x.csv", UploadID: "up", PartSize: 8 << 20, MaxSize: 1 << 30, ExpiresIn: 3600},
			func(x ctx, r rq) (any, error) {
				return f(r).MultipartStart(x, fv1.MultipartStartRequest{FileName: "x.csv"})
			}},
		{"svc.file.v1.multipart_part_urls", fv1.MultipartPartURLsRequest{ObjectName: "users/u/raw/x.csv", UploadID: "up", FirstPart: 1, Count: 2},
			fv1.MultipartPartURLsReply{URLs: []string{"http://s3/1", "http://s3/2"}, ExpiresIn: 3600},
			func(x ctx, r rq) (any, error) {
				return f(r).MultipartPartURLs(x, fv1.MultipartPartURLsRequest{ObjectName: "users/u/raw/x.csv", UploadID: "up", FirstPart: 1, Count: 2})
			}},
		{"svc.file.v1.multipart_complete", fv1.MultipartCompleteRequest{ObjectName: "users/u/raw/x.csv", UploadID: "up", Parts: []fv1.UploadedPart{{PartNumber: 1, ETag: "e"}}},
			fv1.MultipartCompleteReply{ObjectName: "users/u/raw/x.csv", Size: 3},
			func(x ctx, r rq) (any, error) {
				return f(r).MultipartComplete(x, fv1.MultipartCompleteRequest{ObjectName: "users/u/raw/x.csv", UploadID: "up", Parts: []fv1.UploadedPart{{PartNumber: 1, ETag: "e"}}})
			}},
		{"svc.file.v1.abort_upload", fv1.AbortUploadRequest{ObjectName: "users/u/raw/x.csv", UploadID: "up"}, fv1.AbortUploadReply{ObjectName: "users/u/raw/x.csv"},
			func(x ctx, r rq) (any, error) {
				return f(r).AbortUpload(x, fv1.AbortUploadRequest{ObjectName: "users/u/raw/x.csv", UploadID: "up"})
			}},
		{"svc.file.v1.health", nil, healthReply("file"), func(x ctx, r rq) (any, error) { return f(r).Health(x) }},

		// dataset
		{"svc.dataset.v1.convert", dv1.ConvertRequest{FileID: id, DatasetName: "sales"}, dv1.ConvertReply{Dataset: &ds, DatasetID: id, Status: dv1.StatusReady},
			func(x ctx, r rq) (any, error) {
				return d(r).Convert(x, dv1.ConvertRequest{FileID: id, DatasetName: "sales"})
			}},
		{"svc.dataset.v1.create", dv1.CreateRequest{DatasetName: "sales", Schema: ds.DataSchema}, ds,
			func(x ctx, r rq) (any, error) {
				return d(r).Create(x, dv1.CreateRequest{DatasetName: "sales", Schema: ds.DataSchema})
			}},
		{"svc.dataset.v1.list", dv1.ListRequest{}, dv1.ListReply{Datasets: []dv1.Dataset{ds}, Total: 1},
			func(x ctx, r rq) (any, error) { return d(r).List(x, dv1.ListRequest{}) }},
		{"svc.dataset.v1.get", dv1.GetRequest{ID: id}, ds,
			func(x ctx, r rq) (any, error) { return d(r).Get(x, dv1.GetRequest{ID: id}) }},
		{"svc.dataset.v1.update", dv1.UpdateRequest{ID: id, Name: s("x")}, ds,
			func(x ctx, r rq) (any, error) { return d(r).Update(x, dv1.UpdateRequest{ID: id, Name: s("x")}) }},
		{"svc.dataset.v1.update_schema", dv1.UpdateSchemaRequest{ID: id, Descriptions: map[string]string{"a": "b"}}, ds,
			func(x ctx, r rq) (any, error) {
				return d(r).UpdateSchema(x, dv1.UpdateSchemaRequest{ID: id, Descriptions: map[string]string{"a": "b"}})
			}},
		{"svc.dataset.v1.delete", dv1.DeleteRequest{ID: id}, dv1.DeleteReply{DatasetID: id, Deleted: true},
			func(x ctx, r rq) (any, error) { return d(r).Delete(x, dv1.DeleteRequest{ID: id}) }},
		{"svc.dataset.v1.data", dv1.DataRequest{ID: id}, dv1.DataReply{Data: []dv1.Row{dv1.RowOf([]string{"a"}, "x")}, TotalRows: 1, Limit: 100},
			func(x ctx, r rq) (any, error) { return d(r).Data(x, dv1.DataRequest{ID: id}) }},
		{"svc.dataset.v1.rejects", dv1.RejectsRequest{ID: id}, dv1.RejectsReply{Rejects: []dv1.Reject{{Line: 4, Reason: "3 fields, the table has 2", Raw: "a,b,c"}}, Total: 1, Limit: 100},
			func(x ctx, r rq) (any, error) { return d(r).Rejects(x, dv1.RejectsRequest{ID: id}) }},
		{"svc.dataset.v1.file_columns", dv1.FileColumnsRequest{ID: id, FileID: id},
			dv1.FileColumnsReply{FileColumns: []string{"a"}, DatasetColumns: []dv1.DatasetColumn{{ColumnName: "a"}}},
			func(x ctx, r rq) (any, error) {
				return d(r).FileColumns(x, dv1.FileColumnsRequest{ID: id, FileID: id})
			}},
		{"svc.dataset.v1.insert", dv1.InsertRequest{ID: id, FileID: id}, dv1.InsertReply{InsertedRows: 7},
			func(x ctx, r rq) (any, error) { return d(r).Insert(x, dv1.InsertRequest{ID: id, FileID: id}) }},
		{"svc.dataset.v1.export", dv1.ExportRequest{ID: id, Format: dv1.FormatCSV}, dv1.ExportReply{URL: "http://s3/x.csv", ContentType: "text/csv"},
			func(x ctx, r rq) (any, error) {
				return d(r).Export(x, dv1.ExportRequest{ID: id, Format: dv1.FormatCSV})
			}},
		{"svc.dataset.v1.query", dv1.QueryRequest{Query: "SELECT 1"},
			dv1.QueryReply{Columns: []dv1.QueryColumn{{Name: "1", Type: "INTEGER"}}, Data: []dv1.Row{dv1.RowOf([]string{"1"}, 1)}, RowCount: 1},
			func(x ctx, r rq) (any, error) { return d(r).Query(x, dv1.QueryRequest{Query: "SELECT 1"}) }},
		{"svc.dataset.v1.duckdb_stats", nil, dv1.DuckDBStatsReply{TotalInstances: 2, ActiveInstances: 1, ExpiredInstances: 1},
			func(x ctx, r rq) (any, error) { return d(r).DuckDBStats(x) }},
		{"svc.dataset.v1.duckdb_cleanup", nil, dv1.CleanupReply{ClosedInstances: 1},
			func(x ctx, r rq) (any, error) { return d(r).DuckDBCleanup(x) }},
		{"svc.dataset.v1.health", nil, healthReply("dataset"), func(x ctx, r rq) (any, error) { return d(r).Health(x) }},
	}
}

func TestEachMethodSendsItsOp(t *testing.T) {
	ctx := context.WithValue(context.Background(), ctxKey{}, "request-ctx")
	for _, o := range ops() {
		t.Run(o.subject, func(t *testing.T) {
			reply, err := json.Marshal(o.reply)
			if err != nil {
				t.Fatal(err)
			}
			rec := &recorder{reply: reply}
			got, err := o.call(ctx, rec)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if rec.subject != o.subject {
				t.Errorf("sent to %q, want %q", rec.subject, o.subject)
			}
			wantBody := []byte("{}")
			if o.req != nil {
				wantBody, _ = json.Marshal(o.req)
			}
			if string(rec.body) != string(wantBody) {
				t.Errorf("sent %s, want %s", rec.body, wantBody)
			}
			if reflect.TypeOf(got) != reflect.TypeOf(o.reply) {
				t.Errorf("returns %T, want %T", got, o.reply)
			}
			if !reflect.DeepEqual(got, o.reply) {
				t.Errorf("returned %#v, want %#v", got, o.reply)
			}
		})
	}
}

// The client has a method for every op each service declares, and nothing
// else.
func TestEveryOpHasAMethod(t *testing.T) {
	var want []string
	for _, op := range cv1.Ops() {
		want = append(want, cv1.Subject(op))
	}
	for _, op := range fv1.Ops() {
		want = append(want, fv1.Subject(op))
	}
	for _, op := range dv1.Ops() {
		want = append(want, dv1.Subject(op))
	}
	var got []string
	for _, o := range ops() {
		got = append(got, o.subject)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("client covers\n%v\nservices declare\n%v", got, want)
	}
	methods := reflect.TypeFor[client.Credential]().NumMethod() +
		reflect.TypeFor[client.File]().NumMethod() + reflect.TypeFor[client.Dataset]().NumMethod()
	if methods != len(want) {
		t.Errorf("clients have %d methods for %d ops", methods, len(want))
	}
}

// A service error comes back as the *rpcerr.Error the Requester produced,
// named by subject, with a zero reply.
func TestErrorsKeepTheirCode(t *testing.T) {
	ctx := context.WithValue(context.Background(), ctxKey{}, "request-ctx")
	rec := &recorder{err: rpcerr.NotFoundf("dataset not found")}
	got, err := client.Dataset{R: rec}.Get(ctx, dv1.GetRequest{ID: "65f2a1b3c4d5e6f708192c01"})
	e, ok := rpcerr.As(err)
	if !ok || e.Code != rpcerr.NotFound || e.Message != "dataset not found" {
		t.Fatalf("error %v does not carry the rpcerr.Error", err)
	}
	if !strings.HasPrefix(err.Error(), "svc.dataset.v1.get: ") {
		t.Errorf("error %q does not name the subject", err)
	}
	if !reflect.DeepEqual(got, dv1.Dataset{}) {
		t.Errorf("reply on error is %+v, want zero", got)
	}
}

func healthReply(service string) healthv1.Reply {
	return healthv1.Reply{Service: service, Version: "1.0.0", Status: healthv1.StatusOK}
}
