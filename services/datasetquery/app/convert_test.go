package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/nonefinity/backend/contracts"
	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	fv1 "github.com/nonefinity/backend/contracts/filev1"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/pkg/objstore"
	"github.com/nonefinity/backend/pkg/reqctx"
	"github.com/nonefinity/backend/pkg/testkit"
)

// fileService is a small fileingest peer on the test's NATS: it answers
// svc.file.v1.get/open for the files the test stored, only to their owner,
// with presigned GETs from the test's object storage.
type fileService struct {
	store *objstore.Store
	mu    sync.Mutex
	next  int
	files map[string]fv1.File
	urls  map[string]string // file id → download URL instead of a presigned GET
}

func startFileService(t testing.TB, e env) *fileService {
	t.Helper()
	fs := &fileService{store: e.store, files: map[string]fv1.File{}, urls: map[string]string{}}
	svc, err := natsx.NewService(e.nc, natsx.ServiceConfig{Name: "fileingest", Version: "0.0.1"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	if err := natsx.Handle(svc, fv1.Subject(fv1.OpOpen), func(ctx context.Context, req fv1.OpenRequest) (fv1.OpenReply, error) {
		f, err := fs.lookup(ctx, req.FileID)
		if err != nil {
			return fv1.OpenReply{}, err
		}
		fs.mu.Lock()
		url, ok := fs.urls[f.ID]
		fs.mu.Unlock()
		if ok {
			return fv1.OpenReply{URL: url, ExpiresIn: 900, File: f}, nil
		}
		u, err := fs.store.PresignGet(ctx, f.FilePath, 15*time.Minute, "")
		if err != nil {
			return fv1.OpenReply{}, err
		}
		return fv1.OpenReply{URL: u.String(), ExpiresIn: 900, File: f}, nil
	}, natsx.WithDescription("stub open")); err != nil {
		t.Fatal(err)
	}
	if err := natsx.Handle(svc, fv1.Subject(fv1.OpGet), func(ctx context.Context, req fv1.GetRequest) (fv1.File, error) {
		return fs.lookup(ctx, req.ID)
	}, natsx.WithDescription("stub get")); err != nil {
		t.Fatal(err)
	}
	return fs
}

func (fs *fileService) lookup(ctx context.Context, id string) (fv1.File, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f, ok := fs.files[id]
	if !ok || f.OwnerID != reqctx.From(ctx).UserID {
		return fv1.File{}, rpcerr.NotFoundf("file not found")
	}
	return f, nil
}

// add stores body as one of owner's files, ready, with its preview.
func (fs *fileService) add(t testing.TB, owner, name, contentType string, body []byte, p *fv1.Preview) string {
	t.Helper()
	fs.mu.Lock()
	fs.next++
	id := fmt.Sprintf("%024x", 0xf000+fs.next)
	fs.mu.Unlock()
	key := "users/" + owner + "/files/" + id
	if _, err := fs.store.Put(context.Background(), key, bytes.NewReader(body), int64(len(body)), contentType); err != nil {
		t.Fatal(err)
	}
	f := fv1.File{ID: id, OwnerID: owner, FilePath: key, FileName: name, FileType: contentType, DetectedType: contentType,
		FileSize: int64(len(body)), Status: fv1.StatusReady, Preview: p}
	fs.mu.Lock()
	fs.files[id] = f
	fs.mu.Unlock()
	return id
}

// setURL makes open hand out url for the file instead of a presigned GET.
func (fs *fileService) setURL(id, url string) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.urls[id] = url
}

func csvPreview(delim string, cols ...string) *fv1.Preview {
	return &fv1.Preview{Columns: cols, Encoding: "utf-8", Delimiter: delim, HasHeader: true}
}

func convert(t *testing.T, e env, user, fileID, name string, o dv1.ConvertOptions) dv1.Dataset {
	t.Helper()
	r, err := e.ds.Convert(as(user), dv1.ConvertRequest{FileID: fileID, DatasetName: name, ConvertOptions: o})
	if err != nil {
		t.Fatalf("convert %s: %v", name, err)
	}
	if r.Accepted || r.Dataset == nil || r.Status != dv1.StatusReady {
		t.Fatalf("convert %s: %+v", name, r)
	}
	return *r.Dataset
}

// mustGetByName finds one of alice's datasets by name.
func mustGetByName(t *testing.T, e env, name string) dv1.Dataset {
	t.Helper()
	l, err := e.ds.List(as(alice), dv1.ListRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range l.Datasets {
		if d.Name == name {
			return d
		}
	}
	t.Fatalf("no dataset %s", name)
	return dv1.Dataset{}
}

func types(d dv1.Dataset) string {
	var out []string
	for _, c := range d.DataSchema {
		out = append(out, c.ColumnName+":"+c.ColumnType)
	}
	return strings.Join(out, ",")
}

func queryOne(t *testing.T, e env, user, sql string) map[string]any {
	t.Helper()
	q, err := e.ds.Query(as(user), dv1.QueryRequest{Query: sql})
	if err != nil || len(q.Data) != 1 {
		t.Fatalf("%s: %v %+v", sql, err, q)
	}
	return q.Data[0].Map()
}

func TestConvertCSV(t *testing.T) {
	e := start(t)
	fs := startFileService(t, e)

	// 201: typed schema, row count, queryable under its name.
	sales := "id,category,amount,sold_at\n1,books,12.5,2024-01-02 10:00:00\n2,toys,7.25,2024-01-03 11:30:00\n3,books,1,2024-02-29 23:59:59\n"
	fid := fs.add(t, alice, "sales", "text/csv", []byte(sales), csvPreview(",", "id", "category", "amount", "sold_at"))
	d := convert(t, e, alice, fid, "sales", dv1.ConvertOptions{})
	if d.RowCount != 3 || types(d) != "id:bigint,category:string,amount:double,sold_at:timestamp" || d.Error != "" {
		t.Fatalf("converted %+v (%s)", d, types(d))
	}
	if row := queryOne(t, e, alice, "SELECT count(*) AS n, sum(amount) AS s FROM sales WHERE category = 'books'"); row["n"] != float64(2) || row["s"] != 13.5 {
		t.Fatalf("query %+v", row)
	}
	if got, err := e.ds.Get(as(alice), dv1.GetRequest{ID: d.ID}); err != nil || got.Status != dv1.StatusReady || got.RowCount != 3 {
		t.Fatalf("get %v %+v", err, got)
	}

	// A column that turns from integers to text after row 30,000 keeps
	// every row: the column widens to text.
	var b strings.Builder
	b.WriteString("n,code\n")
	for i := 1; i <= 40000; i++ {
		code := fmt.Sprint(i)
		if i > 30000 {
			code = fmt.Sprintf("X-%d", i)
		}
		fmt.Fprintf(&b, "%d,%s\n", i, code)
	}
	fid = fs.add(t, alice, "codes", "text/csv", []byte(b.String()), csvPreview(",", "n", "code"))
	d = convert(t, e, alice, fid, "codes", dv1.ConvertOptions{})
	if d.RowCount != 40000 || types(d) != "n:bigint,code:string" {
		t.Fatalf("widened %+v (%s)", d, types(d))
	}
	if row := queryOne(t, e, alice, "SELECT count(*) AS n, count(*) FILTER (WHERE code LIKE 'X-%') AS text_codes, max(n) AS last FROM codes"); row["n"] != float64(40000) || row["text_codes"] != float64(10000) || row["last"] != float64(40000) {
		t.Fatalf("widened rows %+v", row)
	}

	// ';'-delimited, dialect from the preview; and from the request when
	// the preview has none.
	semi := "city;pop\nParis;2100000\nLyon;520000\n"
	fid = fs.add(t, alice, "cities", "text/csv", []byte(semi), csvPreview(";", "city", "pop"))
	d = convert(t, e, alice, fid, "cities", dv1.ConvertOptions{})
	if d.RowCount != 2 || types(d) != "city:string,pop:bigint" {
		t.Fatalf("semicolon %+v (%s)", d, types(d))
	}
	fid = fs.add(t, alice, "cities2", "text/csv", []byte("a|b\n1|x\n"), nil)
	d = convert(t, e, alice, fid, "pipes", dv1.ConvertOptions{Delimiter: "|", Header: ptr(true)})
	if d.RowCount != 1 || types(d) != "a:bigint,b:string" {
		t.Fatalf("request dialect %+v (%s)", d, types(d))
	}

	// UTF-16 (little-endian with BOM), transcoded while downloading.
	u16 := []byte{0xFF, 0xFE}
	for _, r := range "city;note\nZürich;größer\nMalmö;ñ\n" {
		u16 = append(u16, byte(r), byte(r>>8))
	}
	p := csvPreview(";", "city", "note")
	p.Encoding = "utf-16le"
	fid = fs.add(t, alice, "utf16", "text/csv", u16, p)
	d = convert(t, e, alice, fid, "utf16", dv1.ConvertOptions{})
	if d.RowCount != 2 || types(d) != "city:string,note:string" {
		t.Fatalf("utf-16 %+v (%s)", d, types(d))
	}
	if row := queryOne(t, e, alice, "SELECT note FROM utf16 WHERE city = 'Zürich'"); row["note"] != "größer" {
		t.Fatalf("utf-16 value %+v", row)
	}

	// Malformed rows: a short row is padded with NULL, a row with more
	// fields than the table is set aside, counted and retrievable with its
	// line and text; the dataset is ready with warnings. With
	// ignore_errors off the conversion fails and says where.
	bad := "id,name\n1,a\n2,b\n3,c,extra\n4,d\n5\n6,f\n"
	fid = fs.add(t, alice, "bad", "text/csv", []byte(bad), csvPreview(",", "id", "name"))
	d = convert(t, e, alice, fid, "bad", dv1.ConvertOptions{})
	if d.RowCount != 5 || *d.RowsRead != 6 || *d.RowsRejected != 1 || len(d.Warnings) != 2 ||
		d.Warnings[0].Code != dv1.WarningRowsRejected || !slices.Equal(d.Warnings[0].Lines, []int64{4}) ||
		d.Warnings[1].Code != dv1.WarningRowsPadded || !slices.Equal(d.Warnings[1].Lines, []int64{6}) {
		t.Fatalf("malformed report %+v", d)
	}
	rj, err := e.ds.Rejects(as(alice), dv1.RejectsRequest{ID: d.ID})
	if err != nil || rj.Total != 1 || len(rj.Rejects) != 1 || rj.Rejects[0] != (dv1.Reject{Line: 4, Reason: "3 fields, the table has 2", Raw: "3,c,extra"}) {
		t.Fatalf("rejects %v %+v", err, rj)
	}
	if row := queryOne(t, e, alice, "SELECT count(*) AS n, count(name) AS named FROM bad"); row["n"] != float64(5) || row["named"] != float64(4) {
		t.Fatalf("padded rows %+v", row)
	}
	_, err = e.ds.Rejects(as(bob), dv1.RejectsRequest{ID: d.ID})
	testkit.WantCode(t, err, rpcerr.NotFound)
	_, err = e.ds.Convert(as(alice), dv1.ConvertRequest{FileID: fid, DatasetName: "bad_strict", ConvertOptions: dv1.ConvertOptions{IgnoreErrors: ptr(false)}})
	testkit.WantCode(t, err, rpcerr.Validation)
	if !strings.Contains(err.Error(), "line 4") {
		t.Fatalf("strict failure %v", err)
	}
	// The failed dataset gave its name up: the retry with the same name
	// (and errors ignored) takes it.
	d = convert(t, e, alice, fid, "bad_strict", dv1.ConvertOptions{})
	if d.RowCount != 5 || *d.RowsRejected != 1 {
		t.Fatalf("retry after failure %+v", d)
	}
	// A clean file has no warnings and an empty rejects page.
	if rj, err := e.ds.Rejects(as(alice), dv1.RejectsRequest{ID: mustGetByName(t, e, "sales").ID}); err != nil || rj.Total != 0 || len(rj.Rejects) != 0 {
		t.Fatalf("clean rejects %v %+v", err, rj)
	}

	// 202 with async, then the converted event.
	events := make(chan dv1.DatasetConverted, 4)
	sub, err := e.nc.Subscribe(contracts.EventSubject(contracts.DomainDataset, contracts.EventConverted, alice), func(m *nats.Msg) {
		var ev dv1.DatasetConverted
		if json.Unmarshal(m.Data, &ev) == nil {
			events <- ev
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := e.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	fid = fs.add(t, alice, "later", "text/csv", []byte(sales), csvPreview(",", "id", "category", "amount", "sold_at"))
	r, err := e.ds.Convert(as(alice), dv1.ConvertRequest{FileID: fid, DatasetName: "later", Async: true})
	if err != nil || !r.Accepted || r.Status != dv1.StatusProcessing || r.DatasetID == "" || r.Dataset != nil {
		t.Fatalf("async %v %+v", err, r)
	}
	timeout := time.After(30 * time.Second)
	for done := false; !done; {
		select {
		case ev := <-events:
			done = ev.DatasetID == r.DatasetID
			if done && (ev.RowCount != 3 || ev.FileID != fid || ev.Name != "later") {
				t.Fatalf("event %+v", ev)
			}
		case <-timeout:
			t.Fatal("no converted event")
		}
	}
	if got, err := e.ds.Get(as(alice), dv1.GetRequest{ID: r.DatasetID}); err != nil || got.Status != dv1.StatusReady {
		t.Fatalf("after event %v %+v", err, got)
	}

	// 4xx: another user's file, not a spreadsheet, not ready, duplicate
	// name, bad name, bad option.
	bobs := fs.add(t, bob, "bobs", "text/csv", []byte(sales), csvPreview(",", "id"))
	_, err = e.ds.Convert(as(alice), dv1.ConvertRequest{FileID: bobs, DatasetName: "stolen"})
	testkit.WantCode(t, err, rpcerr.NotFound)
	png := fs.add(t, alice, "pic", "image/png", []byte("\x89PNG\r\n\x1a\n"), nil)
	_, err = e.ds.Convert(as(alice), dv1.ConvertRequest{FileID: png, DatasetName: "pic"})
	testkit.WantCode(t, err, rpcerr.UnsupportedMediaType)
	pending := fs.add(t, alice, "pending", "text/csv", []byte(sales), nil)
	fs.mu.Lock()
	f := fs.files[pending]
	f.Status = fv1.StatusProcessing
	fs.files[pending] = f
	fs.mu.Unlock()
	_, err = e.ds.Convert(as(alice), dv1.ConvertRequest{FileID: pending, DatasetName: "pending"})
	testkit.WantCode(t, err, rpcerr.UnsupportedMediaType)
	_, err = e.ds.Convert(as(alice), dv1.ConvertRequest{FileID: fid, DatasetName: "sales"})
	testkit.WantCode(t, err, rpcerr.Conflict)
	_, err = e.ds.Convert(as(alice), dv1.ConvertRequest{FileID: fid, DatasetName: "select"})
	testkit.WantCode(t, err, rpcerr.Validation)
	_, err = e.ds.Convert(as(alice), dv1.ConvertRequest{FileID: fid, DatasetName: "enc", ConvertOptions: dv1.ConvertOptions{Encoding: "ebcdic"}})
	testkit.WantCode(t, err, rpcerr.Validation)
	// Nothing was stored for the refused conversions.
	if _, err := e.ds.Query(as(alice), dv1.QueryRequest{Query: "SELECT * FROM stolen"}); err == nil {
		t.Fatal("a refused conversion left a dataset")
	}
}

func TestInsertFileColumnsExport(t *testing.T) {
	e := start(t)
	fs := startFileService(t, e)
	base := "id,category,amount\n1,books,12.5\n2,toys,7.25\n"
	fid := fs.add(t, alice, "base", "text/csv", []byte(base), csvPreview(",", "id", "category", "amount"))
	d := convert(t, e, alice, fid, "sales", dv1.ConvertOptions{})

	// file_columns: the file's columns from its preview and the dataset's.
	more := "AMOUNT,Category,ID,ignored\n3.5,games,3,x\n4,books,4,y\n5,toys,5,z\n"
	moreID := fs.add(t, alice, "more", "text/csv", []byte(more), csvPreview(",", "AMOUNT", "Category", "ID", "ignored"))
	fc, err := e.ds.FileColumns(as(alice), dv1.FileColumnsRequest{ID: d.ID, FileID: moreID})
	if err != nil || strings.Join(fc.FileColumns, ",") != "AMOUNT,Category,ID,ignored" || len(fc.DatasetColumns) != 3 ||
		fc.DatasetColumns[2].ColumnType != "double" || fc.FileInfo.FileID != moreID || fc.DatasetInfo.DatasetName != "sales" {
		t.Fatalf("file columns %v %+v", err, fc)
	}

	// Insert: matched by name case-insensitively, cast, appended.
	ins, err := e.ds.Insert(as(alice), dv1.InsertRequest{ID: d.ID, FileID: moreID})
	if err != nil || ins.InsertedRows != 3 {
		t.Fatalf("insert %v %+v", err, ins)
	}
	if got, err := e.ds.Get(as(alice), dv1.GetRequest{ID: d.ID}); err != nil || got.RowCount != 5 {
		t.Fatalf("after insert %v %+v", err, got)
	}
	if row := queryOne(t, e, alice, "SELECT count(*) AS n, sum(amount) AS s, max(id) AS m FROM sales"); row["n"] != float64(5) || row["s"] != 32.25 || row["m"] != float64(5) {
		t.Fatalf("after insert %+v", row)
	}

	// 422 naming the column: missing, or a value that does not cast; no
	// row of either file becomes visible.
	missing := fs.add(t, alice, "missing", "text/csv", []byte("id,category\n6,x\n"), csvPreview(",", "id", "category"))
	_, err = e.ds.Insert(as(alice), dv1.InsertRequest{ID: d.ID, FileID: missing})
	testkit.WantCode(t, err, rpcerr.Validation)
	if re, _ := rpcerr.As(err); re.Field != "amount" {
		t.Fatalf("missing column error names %q: %v", re.Field, err)
	}
	uncast := fs.add(t, alice, "uncast", "text/csv", []byte("id,category,amount\n6,x,1.5\n7,y,lots\n"), csvPreview(",", "id", "category", "amount"))
	_, err = e.ds.Insert(as(alice), dv1.InsertRequest{ID: d.ID, FileID: uncast})
	testkit.WantCode(t, err, rpcerr.Validation)
	if re, _ := rpcerr.As(err); re.Field != "amount" {
		t.Fatalf("uncastable column error names %q: %v", re.Field, err)
	}
	if row := queryOne(t, e, alice, "SELECT count(*) AS n FROM sales"); row["n"] != float64(5) {
		t.Fatalf("a failed insert became visible: %+v", row)
	}
	_, err = e.ds.Insert(as(bob), dv1.InsertRequest{ID: d.ID, FileID: moreID})
	testkit.WantCode(t, err, rpcerr.NotFound)

	// Export: a presigned URL whose body has the rows.
	x, err := e.ds.Export(as(alice), dv1.ExportRequest{ID: d.ID, Format: dv1.FormatCSV})
	if err != nil || x.FileName != "sales.csv" || x.ContentType != "text/csv" || x.ExpiresIn <= 0 {
		t.Fatalf("export %v %+v", err, x)
	}
	body := httpGet(t, x.URL)
	lines := strings.Split(strings.TrimSpace(body), "\n")
	if len(lines) != 6 || lines[0] != "id,category,amount" || lines[1] != "1,books,12.5" || lines[5] != "5,toys,5.0" {
		t.Fatalf("csv export %q", body)
	}
	x, err = e.ds.Export(as(alice), dv1.ExportRequest{ID: d.ID, Format: dv1.FormatJSON})
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(httpGet(t, x.URL)), &rows); err != nil || len(rows) != 5 || rows[2]["category"] != "games" {
		t.Fatalf("json export %v %+v", err, rows)
	}
	_, err = e.ds.Export(as(alice), dv1.ExportRequest{ID: d.ID, Format: "xml"})
	testkit.WantCode(t, err, rpcerr.Validation)
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET export: %v %s %s", err, resp.Status, b)
	}
	return string(b)
}
