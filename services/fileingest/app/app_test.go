package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"
	xunicode "golang.org/x/text/encoding/unicode"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/filev1"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/fileingest/app"
)

const salesCSV = "id,name,amount\n1,alice,10.5\n2,bob,20\n"

// The web client's path: grant, PUT with a plain HTTP client, commit, then
// processing makes the file ready with hash and preview.
func TestPresignedUploadCommitAndProcess(t *testing.T) {
	h := start(t, nil)
	events := h.outcomes(alice)

	g, err := h.files.UploadURL(h.ctx(alice), filev1.UploadURLRequest{FileName: "Sales 2024.CSV", FileSize: int64(len(salesCSV)), FileType: "text/csv"})
	if err != nil {
		t.Fatalf("UploadURL: %v", err)
	}
	if !strings.HasPrefix(g.ObjectName, "users/"+alice+"/raw/") || !strings.HasSuffix(g.ObjectName, ".csv") ||
		g.ExpiresIn != 600 || g.MaxSize != 5<<30 || !strings.Contains(g.UploadURL, "X-Amz-Signature=") {
		t.Fatalf("grant = %+v", g)
	}
	put(t, g.UploadURL, []byte(salesCSV))
	commit := filev1.CommitRequest{ObjectName: g.ObjectName, FileName: "Sales 2024.CSV", FileSize: int64(len(salesCSV)), FileType: "text/csv"}
	f, err := h.files.Commit(h.ctx(alice), commit)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if f.ID == "" || f.OwnerID != alice || f.Bucket != h.bucket.Bucket || f.FilePath != g.ObjectName ||
		f.FileName != "Sales 2024" || f.FileExt != ".CSV" || f.FileType != "text/csv" || f.FileSize != int64(len(salesCSV)) ||
		f.Status != filev1.StatusUploaded || f.CreatedAt.IsZero() {
		t.Fatalf("committed file = %+v", f)
	}
	again, err := h.files.Commit(h.ctx(alice), commit)
	if err != nil || again.ID != f.ID {
		t.Fatalf("second commit = %+v, %v; want the same file %s", again, err, f.ID)
	}

	ready := h.waitOutcome(events, alice, f.ID)
	want := &filev1.Preview{
		Columns: []string{"id", "name", "amount"}, Encoding: "utf-8", Delimiter: ",", HasHeader: true,
		Rows: [][]string{{"1", "alice", "10.5"}, {"2", "bob", "20"}},
	}
	if ready.Status != filev1.StatusReady || ready.Category != filev1.CategorySpreadsheet || ready.DetectedType != "text/csv" ||
		ready.SHA256 != fmt.Sprintf("%x", sha256.Sum256([]byte(salesCSV))) ||
		!reflect.DeepEqual(ready.Preview, want) || ready.Error != "" {
		t.Fatalf("processed file = %+v (preview %+v)", ready, ready.Preview)
	}
	if n := h.countEvents(contracts.EventSubject(contracts.DomainFile, contracts.EventUploaded, alice)); n != 1 {
		t.Errorf("uploaded events = %d, want 1", n)
	}
	if n := h.countEvents(contracts.EventSubject(contracts.DomainFile, contracts.EventProcessed, alice)); n != 1 {
		t.Errorf("processed events = %d, want 1", n)
	}
	// A commit after processing still returns the file, now ready.
	if again, err := h.files.Commit(h.ctx(alice), commit); err != nil || again.ID != f.ID || again.Status != filev1.StatusReady {
		t.Fatalf("commit after processing = %+v, %v", again, err)
	}
}

func TestUploadURLRejects(t *testing.T) {
	h := start(t, func(c *app.Config) { c.MaxFileSize = 1000; c.UserQuotaBytes = 100 })
	for _, tc := range []struct {
		what  string
		req   filev1.UploadURLRequest
		code  rpcerr.Code
		field string
	}{
		{"path separator", filev1.UploadURLRequest{FileName: "../x.csv", FileSize: 1}, rpcerr.Validation, "file_name"},
		{"control character", filev1.UploadURLRequest{FileName: "a\nb.csv", FileSize: 1}, rpcerr.Validation, "file_name"},
		{"256 bytes", filev1.UploadURLRequest{FileName: strings.Repeat("n", 252) + ".csv", FileSize: 1}, rpcerr.Validation, "file_name"},
		{"empty name", filev1.UploadURLRequest{FileSize: 1}, rpcerr.Validation, "file_name"},
		{"zero size", filev1.UploadURLRequest{FileName: "a.csv"}, rpcerr.Validation, "file_size"},
		{"negative size", filev1.UploadURLRequest{FileName: "a.csv", FileSize: -5}, rpcerr.Validation, "file_size"},
		{"over the limit", filev1.UploadURLRequest{FileName: "a.csv", FileSize: 1001}, rpcerr.TooLarge, "file_size"},
		{"over the quota", filev1.UploadURLRequest{FileName: "a.csv", FileSize: 101}, rpcerr.TooLarge, "file_size"},
	} {
		t.Run(tc.what, func(t *testing.T) {
			_, err := h.files.UploadURL(h.ctx(alice), tc.req)
			testkit.WantField(t, err, tc.code, tc.field)
		})
	}
	_, err := h.files.UploadURL(h.ctx(""), filev1.UploadURLRequest{FileName: "a.csv", FileSize: 1})
	testkit.WantCode(t, err, rpcerr.Unauthorized)

	// Quota counts what is stored: 60 of 100 bytes used leaves 40.
	h.upload(alice, "a.txt", "text/plain", bytes.Repeat([]byte("a"), 60))
	_, err = h.files.UploadURL(h.ctx(alice), filev1.UploadURLRequest{FileName: "b.txt", FileSize: 41})
	testkit.WantField(t, err, rpcerr.TooLarge, "file_size")
	// A relayed stream learns what is left.
	m, err := h.files.MultipartStart(h.ctx(alice), filev1.MultipartStartRequest{FileName: "c.bin"})
	if err != nil || m.MaxSize != 40 || m.PartSize != 8<<20 || m.UploadID == "" {
		t.Fatalf("multipart grant = %+v, %v", m, err)
	}
	g, err := h.files.UploadURL(h.ctx(alice), filev1.UploadURLRequest{FileName: "b.txt", FileSize: 40})
	if err != nil || g.MaxSize != 40 {
		t.Fatalf("grant within quota = %+v, %v", g, err)
	}
	// A grant holds its bytes until it is committed or swept: nothing is
	// left, for a grant or a relayed stream.
	_, err = h.files.UploadURL(h.ctx(alice), filev1.UploadURLRequest{FileName: "d.txt", FileSize: 1})
	testkit.WantField(t, err, rpcerr.TooLarge, "file_size")
	_, err = h.files.MultipartStart(h.ctx(alice), filev1.MultipartStartRequest{FileName: "c.bin"})
	testkit.WantField(t, err, rpcerr.TooLarge, "file_size")
	// Bob's quota is his own.
	if _, err := h.files.UploadURL(h.ctx(bob), filev1.UploadURLRequest{FileName: "b.txt", FileSize: 100}); err != nil {
		t.Fatalf("bob's grant: %v", err)
	}
}

// A right-to-left override makes "report\u202Excs.exe" show as
// "reportexe.csv"; every operation that names a file refuses bidi controls
// with a 422 naming the field.
func TestBidiControlsInNamesAreRefused(t *testing.T) {
	h := start(t, nil)
	f := h.upload(alice, "plain.csv", "text/csv", []byte(salesCSV))
	for _, name := range []string{"report\u202Excs.exe", "a\u202Ab.csv", "a\u2066b.csv", "a\u2069b.csv", "a\u200Fb.csv", "a\u061Cb.csv"} {
		t.Run(fmt.Sprintf("%q", name), func(t *testing.T) {
			_, err := h.files.UploadURL(h.ctx(alice), filev1.UploadURLRequest{FileName: name, FileSize: 4, FileType: "text/csv"})
			testkit.WantField(t, err, rpcerr.Validation, "file_name")
			_, err = h.files.MultipartStart(h.ctx(alice), filev1.MultipartStartRequest{FileName: name, FileType: "text/csv"})
			testkit.WantField(t, err, rpcerr.Validation, "file_name")
			_, err = h.files.Commit(h.ctx(alice), filev1.CommitRequest{ObjectName: f.FilePath, FileName: name, FileSize: f.FileSize})
			testkit.WantField(t, err, rpcerr.Validation, "file_name")
			_, err = h.files.Rename(h.ctx(alice), filev1.RenameRequest{ID: f.ID, NewName: name})
			testkit.WantField(t, err, rpcerr.Validation, "new_name")
		})
	}
	if got, err := h.files.Get(h.ctx(alice), filev1.GetRequest{ID: f.ID}); err != nil || got.FileName != "plain" {
		t.Fatalf("file after refused renames = %+v, %v", got, err)
	}
}

func TestCommitRejects(t *testing.T) {
	h := start(t, func(c *app.Config) { c.UserQuotaBytes = 50 })
	// An object under bob's prefix cannot be committed by alice.
	gb, err := h.files.UploadURL(h.ctx(bob), filev1.UploadURLRequest{FileName: "b.csv", FileSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	put(t, gb.UploadURL, []byte("a,b\n"))
	for _, tc := range []struct {
		what   string
		object string
	}{
		{"bob's object", gb.ObjectName},
		{"missing object", "users/" + alice + "/raw/01JNOTTHERE.csv"},
		{"outside raw", "users/" + alice + "/datasets/x.parquet"},
		{"traversal", "users/" + alice + "/raw/../../" + bob + "/raw/x.csv"},
		{"nested", "users/" + alice + "/raw/a/b.csv"},
	} {
		t.Run(tc.what, func(t *testing.T) {
			_, err := h.files.Commit(h.ctx(alice), filev1.CommitRequest{ObjectName: tc.object, FileName: "x.csv", FileSize: 4})
			testkit.WantCode(t, err, rpcerr.NotFound)
		})
	}
	if !h.objectExists(gb.ObjectName) {
		t.Fatal("bob's object was touched by alice's commit")
	}

	// The grant is bound to the declared size: object storage refuses a
	// PUT of any other length, so a 10-byte grant cannot store 13 bytes.
	g, err := h.files.UploadURL(h.ctx(alice), filev1.UploadURLRequest{FileName: "a.csv", FileSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	if status := putStatus(t, g.UploadURL, []byte("0123456789abc")); status != http.StatusForbidden {
		t.Fatalf("PUT of 13 bytes to a 10-byte grant: %d, want 403", status)
	}
	if h.objectExists(g.ObjectName) {
		t.Fatal("a refused PUT stored an object")
	}

	// Commit still compares the stored object with the declaration, for a
	// storage server that would not check the signed length: a mismatch is
	// 400 and the object is removed.
	if _, err := h.store.Put(context.Background(), g.ObjectName, strings.NewReader("0123456789abc"), 13, ""); err != nil {
		t.Fatal(err)
	}
	_, err = h.files.Commit(h.ctx(alice), filev1.CommitRequest{ObjectName: g.ObjectName, FileName: "a.csv", FileSize: 10})
	testkit.WantField(t, err, rpcerr.BadRequest, "file_size")
	if h.objectExists(g.ObjectName) {
		t.Fatal("object of a size mismatch was kept")
	}

	// An object that differs from its grant is refused too, whatever the
	// commit declares.
	g, err = h.files.UploadURL(h.ctx(alice), filev1.UploadURLRequest{FileName: "big.csv", FileSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), 30)
	if _, err := h.store.Put(context.Background(), g.ObjectName, bytes.NewReader(big), 30, ""); err != nil {
		t.Fatal(err)
	}
	_, err = h.files.Commit(h.ctx(alice), filev1.CommitRequest{ObjectName: g.ObjectName, FileName: "big.csv", FileSize: 30})
	testkit.WantField(t, err, rpcerr.BadRequest, "file_size")
	if h.objectExists(g.ObjectName) {
		t.Fatal("object larger than its grant was kept")
	}

	// Quota at commit: an object granted nothing (a relayed stream) is
	// reserved when it is committed, and one larger than the quota allows
	// is refused and removed.
	relayed := "users/" + alice + "/raw/01RELAYED.csv"
	if _, err := h.store.Put(context.Background(), relayed, bytes.NewReader(bytes.Repeat([]byte("x"), 60)), 60, ""); err != nil {
		t.Fatal(err)
	}
	_, err = h.files.Commit(h.ctx(alice), filev1.CommitRequest{ObjectName: relayed, FileName: "big.csv", FileSize: 60})
	testkit.WantField(t, err, rpcerr.TooLarge, "file_size")
	if h.objectExists(relayed) {
		t.Fatal("object over the quota was kept")
	}
	if list, _ := h.files.List(h.ctx(alice), filev1.ListRequest{}); len(list.Files) != 0 {
		t.Fatalf("rejected commits left documents: %+v", list.Files)
	}
}

// Another user's id is 404 for every operation that takes one, and bob's
// lists never show alice's files.
func TestOtherUsersFilesAreNotFound(t *testing.T) {
	h := start(t, nil)
	f := h.upload(alice, "secret.csv", "text/csv", []byte(salesCSV))
	b := h.ctx(bob)
	var err error
	_, err = h.files.Get(b, filev1.GetRequest{ID: f.ID})
	testkit.WantCode(t, err, rpcerr.NotFound)
	_, err = h.files.Rename(b, filev1.RenameRequest{ID: f.ID, NewName: "mine"})
	testkit.WantCode(t, err, rpcerr.NotFound)
	_, err = h.files.Delete(b, filev1.DeleteRequest{ID: f.ID})
	testkit.WantCode(t, err, rpcerr.NotFound)
	_, err = h.files.DownloadURL(b, filev1.DownloadURLRequest{ID: f.ID})
	testkit.WantCode(t, err, rpcerr.NotFound)
	_, err = h.files.Open(b, filev1.OpenRequest{FileID: f.ID})
	testkit.WantCode(t, err, rpcerr.NotFound)
	_, err = h.files.AbortUpload(b, filev1.AbortUploadRequest{ObjectName: f.FilePath})
	testkit.WantCode(t, err, rpcerr.NotFound)
	_, err = h.files.Get(h.ctx(alice), filev1.GetRequest{ID: "not-an-id"})
	testkit.WantCode(t, err, rpcerr.NotFound)

	res, err := h.files.BatchDelete(b, filev1.BatchDeleteRequest{FileIDs: []string{f.ID}})
	if err != nil || len(res.Successful) != 0 || len(res.Failed) != 1 || res.Failed[0] != (filev1.BatchFailure{FileID: f.ID, Error: "file not found"}) {
		t.Fatalf("bob's batch delete = %+v, %v", res, err)
	}
	for what, call := range map[string]func() (filev1.ListReply, error){
		"list":          func() (filev1.ListReply, error) { return h.files.List(b, filev1.ListRequest{}) },
		"search":        func() (filev1.ListReply, error) { return h.files.Search(b, filev1.SearchRequest{Q: "secret"}) },
		"allow_convert": func() (filev1.ListReply, error) { return h.files.AllowConvert(b, filev1.ListRequest{}) },
	} {
		if got, err := call(); err != nil || len(got.Files) != 0 {
			t.Errorf("bob's %s = %+v, %v", what, got, err)
		}
	}
	if st, err := h.files.Stats(b); err != nil || st.TotalFiles != 0 {
		t.Errorf("bob's stats = %+v, %v", st, err)
	}
	if got, err := h.files.Get(h.ctx(alice), filev1.GetRequest{ID: f.ID}); err != nil || got.FileName != "secret" || !h.objectExists(f.FilePath) {
		t.Fatalf("alice's file after bob's attempts = %+v, %v", got, err)
	}
}

// The gateway's relay of a stream: start, part URLs, parts, complete,
// commit; the file is then processed like any other.
func TestMultipartRelay(t *testing.T) {
	h := start(t, nil)
	events := h.outcomes(alice)
	ctx := h.ctx(alice)
	var content bytes.Buffer
	content.WriteString("n,word\n")
	for i := 0; content.Len() < 9<<20; i++ {
		fmt.Fprintf(&content, "%d,word%d\n", i, i)
	}
	body := content.Bytes()

	m, err := h.files.MultipartStart(ctx, filev1.MultipartStartRequest{FileName: "big.csv", FileType: "application/octet-stream"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.files.MultipartPartURLs(h.ctx(bob), filev1.MultipartPartURLsRequest{ObjectName: m.ObjectName, UploadID: m.UploadID, FirstPart: 1, Count: 2})
	testkit.WantCode(t, err, rpcerr.NotFound)
	for _, bad := range []filev1.MultipartPartURLsRequest{
		{ObjectName: m.ObjectName, UploadID: m.UploadID, FirstPart: 0, Count: 1},
		{ObjectName: m.ObjectName, UploadID: m.UploadID, FirstPart: 1, Count: 101},
		{ObjectName: m.ObjectName, UploadID: m.UploadID, FirstPart: 10000, Count: 2},
	} {
		t.Run(fmt.Sprintf("part %d count %d", bad.FirstPart, bad.Count), func(t *testing.T) {
			_, err := h.files.MultipartPartURLs(ctx, bad)
			testkit.WantCode(t, err, rpcerr.Validation)
		})
	}
	urls, err := h.files.MultipartPartURLs(ctx, filev1.MultipartPartURLsRequest{ObjectName: m.ObjectName, UploadID: m.UploadID, FirstPart: 1, Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	var parts []filev1.UploadedPart
	for i, chunk := range [][]byte{body[:m.PartSize], body[m.PartSize:]} {
		parts = append(parts, filev1.UploadedPart{PartNumber: i + 1, ETag: putPart(t, urls.URLs[i], chunk)})
	}
	done, err := h.files.MultipartComplete(ctx, filev1.MultipartCompleteRequest{ObjectName: m.ObjectName, UploadID: m.UploadID, Parts: parts})
	if err != nil || done.Size != int64(len(body)) {
		t.Fatalf("MultipartComplete = %+v, %v", done, err)
	}
	f, err := h.files.Commit(ctx, filev1.CommitRequest{ObjectName: m.ObjectName, FileName: "big.csv", FileSize: done.Size, FileType: "application/octet-stream"})
	if err != nil || f.FileType != "text/csv" {
		t.Fatalf("Commit = %+v, %v", f, err)
	}
	ready := h.waitOutcome(events, alice, f.ID)
	if ready.Status != filev1.StatusReady || ready.SHA256 != fmt.Sprintf("%x", sha256.Sum256(body)) || len(ready.Preview.Rows) != 20 {
		t.Fatalf("processed = %+v", ready)
	}
}

// putPart PUTs one part and returns its ETag.
func putPart(t *testing.T, url string, body []byte) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT part: %d", resp.StatusCode)
	}
	return resp.Header.Get("ETag")
}

func pngBytes(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 8, 8))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestManagement(t *testing.T) {
	h := start(t, nil)
	events := h.outcomes(alice)
	csv := h.upload(alice, "Sales (2024).csv", "text/csv", []byte(salesCSV))
	img := h.upload(alice, "photo.png", "image/png", pngBytes(t))
	doc := h.upload(alice, "notes.TXT", "application/octet-stream", []byte("plain notes\n"))
	for _, f := range []filev1.File{csv, img, doc} {
		h.waitOutcome(events, alice, f.ID)
	}
	ctx := h.ctx(alice)

	list, err := h.files.List(ctx, filev1.ListRequest{})
	if err != nil || len(list.Files) != 3 || list.Files[0].ID != doc.ID || list.Files[2].ID != csv.ID {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if doc.FileType != "text/plain" {
		t.Errorf("octet-stream .TXT recorded as %q, want text/plain", doc.FileType)
	}

	search := func(q filev1.SearchRequest) []string {
		t.Helper()
		got, err := h.files.Search(ctx, q)
		if err != nil {
			t.Fatalf("Search(%+v): %v", q, err)
		}
		var names []string
		for _, f := range got.Files {
			names = append(names, f.FileName)
		}
		return names
	}
	for _, tc := range []struct {
		q    filev1.SearchRequest
		want []string
	}{
		{filev1.SearchRequest{Q: "(2024)"}, []string{"Sales (2024)"}},
		{filev1.SearchRequest{Q: "SALES"}, []string{"Sales (2024)"}},
		{filev1.SearchRequest{Q: ".*"}, nil},
		{filev1.SearchRequest{Q: "o", FileType: "image/"}, []string{"photo"}},
		{filev1.SearchRequest{FileType: "text"}, []string{"notes", "Sales (2024)"}},
		{filev1.SearchRequest{Limit: 1}, []string{"notes"}},
	} {
		if got := search(tc.q); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Search(%+v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	for _, limit := range []int{-1, 101} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			_, err := h.files.Search(ctx, filev1.SearchRequest{Q: "a", Limit: limit})
			testkit.WantField(t, err, rpcerr.Validation, "limit")
		})
	}

	renamed, err := h.files.Rename(ctx, filev1.RenameRequest{ID: csv.ID, NewName: "sales-final"})
	if err != nil || renamed.FileName != "sales-final" || renamed.FileExt != ".csv" || renamed.FilePath != csv.FilePath {
		t.Fatalf("Rename = %+v, %v", renamed, err)
	}
	_, err = h.files.Rename(ctx, filev1.RenameRequest{ID: csv.ID, NewName: "a/b"})
	testkit.WantField(t, err, rpcerr.Validation, "new_name")

	st, err := h.files.Stats(ctx)
	wantSize := int64(len(salesCSV)) + img.FileSize + doc.FileSize
	if err != nil || st.TotalFiles != 3 || st.TotalSize != wantSize || !reflect.DeepEqual(st.FileTypes, map[string]int{"text": 2, "image": 1}) {
		t.Fatalf("Stats = %+v, %v", st, err)
	}
	types, err := h.files.Types(ctx)
	if err != nil || !reflect.DeepEqual(types.Types, []string{"image/png", "text/csv", "text/plain"}) {
		t.Fatalf("Types = %+v, %v", types, err)
	}

	conv, err := h.files.AllowConvert(ctx, filev1.ListRequest{})
	if err != nil || len(conv.Files) != 1 || conv.Files[0].ID != csv.ID {
		t.Fatalf("AllowConvert = %+v, %v", conv, err)
	}

	dl, err := h.files.DownloadURL(ctx, filev1.DownloadURLRequest{ID: csv.ID})
	if err != nil || dl.ExpiresIn != 3600 {
		t.Fatalf("DownloadURL = %+v, %v", dl, err)
	}
	resp, err := http.Get(dl.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != salesCSV ||
		resp.Header.Get("Content-Disposition") != `attachment; filename="sales-final.csv"; filename*=UTF-8''sales-final.csv` {
		t.Fatalf("GET download: %d %q, Content-Disposition %q", resp.StatusCode, body, resp.Header.Get("Content-Disposition"))
	}
	open, err := h.files.Open(ctx, filev1.OpenRequest{FileID: csv.ID})
	if err != nil || open.File.ID != csv.ID || open.File.Preview == nil || open.ExpiresIn != 900 {
		t.Fatalf("Open = %+v, %v", open, err)
	}
	if resp, err := http.Get(open.URL); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET open URL: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	// Delete: object, then document, then the deleted event.
	deleted, err := h.nc.SubscribeSync(contracts.EventSubject(contracts.DomainFile, contracts.EventDeleted, alice))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if rep, err := h.files.Delete(ctx, filev1.DeleteRequest{ID: img.ID}); err != nil || rep.FileID != img.ID {
		t.Fatalf("Delete = %+v, %v", rep, err)
	}
	if h.objectExists(img.FilePath) {
		t.Fatal("deleted file's object remains")
	}
	_, err = h.files.Get(ctx, filev1.GetRequest{ID: img.ID})
	testkit.WantCode(t, err, rpcerr.NotFound)
	if msg, err := deleted.NextMsg(10e9); err != nil || !strings.Contains(string(msg.Data), img.ID) {
		t.Fatalf("deleted event: %v", err)
	}
	// A file whose object is already gone is still deleted.
	if err := h.store.Delete(context.Background(), doc.FilePath); err != nil {
		t.Fatal(err)
	}
	res, err := h.files.BatchDelete(ctx, filev1.BatchDeleteRequest{FileIDs: []string{doc.ID, img.ID, "nope"}})
	if err != nil || !reflect.DeepEqual(res.Successful, []string{doc.ID}) || len(res.Failed) != 2 ||
		res.Failed[0].FileID != img.ID || res.Failed[1].Error != "file not found" {
		t.Fatalf("BatchDelete = %+v, %v", res, err)
	}
	if list, _ := h.files.List(ctx, filev1.ListRequest{}); len(list.Files) != 1 || list.Files[0].ID != csv.ID {
		t.Fatalf("after deletes: %+v", list.Files)
	}
	// Abort drops an unfinished multipart upload but never a committed file.
	m, err := h.files.MultipartStart(ctx, filev1.MultipartStartRequest{FileName: "x.bin"})
	if err != nil {
		t.Fatal(err)
	}
	urls, err := h.files.MultipartPartURLs(ctx, filev1.MultipartPartURLsRequest{ObjectName: m.ObjectName, UploadID: m.UploadID, FirstPart: 1, Count: 1})
	if err != nil || len(urls.URLs) != 1 {
		t.Fatalf("MultipartPartURLs = %+v, %v", urls, err)
	}
	etag := putPart(t, urls.URLs[0], []byte("partial"))
	if _, err := h.files.AbortUpload(ctx, filev1.AbortUploadRequest{ObjectName: m.ObjectName, UploadID: m.UploadID}); err != nil || h.objectExists(m.ObjectName) {
		t.Fatalf("AbortUpload: %v", err)
	}
	_, err = h.files.MultipartComplete(ctx, filev1.MultipartCompleteRequest{ObjectName: m.ObjectName, UploadID: m.UploadID,
		Parts: []filev1.UploadedPart{{PartNumber: 1, ETag: etag}}})
	testkit.WantCode(t, err, rpcerr.NotFound)
	if _, err := h.files.AbortUpload(ctx, filev1.AbortUploadRequest{ObjectName: csv.FilePath}); err != nil || !h.objectExists(csv.FilePath) {
		t.Fatalf("AbortUpload of a committed object: %v", err)
	}
}

// With object storage down, operations that need it answer 503 and change
// nothing; presigning needs no server and still works.
func TestObjectStorageDown(t *testing.T) {
	h := start(t, nil)
	f := h.upload(alice, "keep.csv", "text/csv", []byte(salesCSV))

	dead := h.sibling(testkit.UnreachableStore(t))

	_, err := dead.files.Commit(dead.ctx(alice), filev1.CommitRequest{ObjectName: "users/" + alice + "/raw/01JX.csv", FileName: "x.csv", FileSize: 4})
	testkit.WantCode(t, err, rpcerr.Unavailable)
	_, err = dead.files.Delete(dead.ctx(alice), filev1.DeleteRequest{ID: f.ID})
	testkit.WantCode(t, err, rpcerr.Unavailable)
	if got, err := dead.files.Get(dead.ctx(alice), filev1.GetRequest{ID: f.ID}); err != nil || got.ID != f.ID {
		t.Fatalf("file after a failed delete = %+v, %v", got, err)
	}
	res, err := dead.files.BatchDelete(dead.ctx(alice), filev1.BatchDeleteRequest{FileIDs: []string{f.ID}})
	if err != nil || len(res.Failed) != 1 || res.Failed[0].Error != "object storage unavailable" {
		t.Fatalf("batch delete with storage down = %+v, %v", res, err)
	}
	if _, err := dead.files.UploadURL(dead.ctx(alice), filev1.UploadURLRequest{FileName: "a.csv", FileSize: 3}); err != nil {
		t.Fatalf("presigning with storage down: %v", err)
	}
	if list, _ := h.files.List(h.ctx(alice), filev1.ListRequest{}); len(list.Files) != 1 {
		t.Fatalf("documents after the outage: %+v", list.Files)
	}
}

func TestProcessingContent(t *testing.T) {
	h := start(t, func(c *app.Config) { c.XLSXMaxUncompressed = 8 << 20 })
	events := h.outcomes(alice)

	utf16, err := xunicode.UTF16(xunicode.LittleEndian, xunicode.UseBOM).NewEncoder().Bytes([]byte("stadt\tzahl\nMünchen\t1\nKöln\t2\n"))
	if err != nil {
		t.Fatal(err)
	}
	cp1252, err := charmap.Windows1252.NewEncoder().Bytes([]byte("id;city;amount\n1;Zürich;12,50\n2;Köln;\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, typ string
		body      []byte
		status    filev1.Status
		category  string
		detected  string
		preview   *filev1.Preview
		errText   string
	}{
		{"utf8.csv", "text/csv", []byte(salesCSV), filev1.StatusReady, "spreadsheet", "text/csv", &filev1.Preview{
			Columns: []string{"id", "name", "amount"}, Encoding: "utf-8", Delimiter: ",", HasHeader: true,
			Rows: [][]string{{"1", "alice", "10.5"}, {"2", "bob", "20"}}}, ""},
		{"utf16.csv", "text/csv", utf16, filev1.StatusReady, "spreadsheet", "text/csv", &filev1.Preview{
			Columns: []string{"stadt", "zahl"}, Encoding: "utf-16le", Delimiter: "\t", HasHeader: true,
			Rows: [][]string{{"München", "1"}, {"Köln", "2"}}}, ""},
		{"cp1252.csv", "application/vnd.ms-excel", cp1252, filev1.StatusReady, "spreadsheet", "text/csv", &filev1.Preview{
			Columns: []string{"id", "city", "amount"}, Encoding: "windows-1252", Delimiter: ";", HasHeader: true,
			Rows: [][]string{{"1", "Zürich", "12,50"}, {"2", "Köln", ""}}}, ""},
		{"book.xlsx", "application/octet-stream", twoSheets(t), filev1.StatusReady, "spreadsheet",
			"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", &filev1.Preview{
				Columns: []string{"region", "q1"}, HasHeader: true, Rows: [][]string{{"EU", "10"}, {"US", "20"}},
				Sheets: []string{"Summary", "Raw"}, Sheet: "Summary"}, ""},
		{"photo.csv", "text/csv", pngBytes(t), filev1.StatusFailed, "image", "image/png", nil, "content is image/png, not text/csv"},
		{"bomb.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", bomb(t, 24<<20), filev1.StatusFailed, "spreadsheet",
			"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", nil, "xlsx: the workbook expands to more than 8 MiB uncompressed"},
		// A tiny sheet beside a zero-filled picture: every entry counts.
		{"media.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", twoSheetsWithMedia(t, 24<<20), filev1.StatusFailed, "spreadsheet",
			"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", nil, "xlsx: the workbook expands to more than 8 MiB uncompressed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := h.upload(alice, tc.name, tc.typ, tc.body)
			got := h.waitOutcome(events, alice, f.ID)
			if got.Status != tc.status || got.Category != tc.category || got.DetectedType != tc.detected || got.Error != tc.errText ||
				!reflect.DeepEqual(got.Preview, tc.preview) || len(got.SHA256) != 64 {
				t.Fatalf("processed = %+v\npreview %+v", got, got.Preview)
			}
			event := contracts.EventProcessed
			if tc.status == filev1.StatusFailed {
				event = contracts.EventFailed
			}
			if n := h.countEvents(contracts.EventSubject(contracts.DomainFile, event, alice)); n == 0 {
				t.Fatalf("no %s event", event)
			}
		})
	}
	conv, err := h.files.AllowConvert(h.ctx(alice), filev1.ListRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range conv.Files {
		names = append(names, f.FileName)
	}
	slices.Sort(names)
	if !reflect.DeepEqual(names, []string{"book", "cp1252", "utf16", "utf8"}) {
		t.Fatalf("convertible = %v", names)
	}
}

func twoSheets(t *testing.T) []byte {
	t.Helper()
	return twoSheetsWithMedia(t, 0)
}

// twoSheetsWithMedia is twoSheets plus, when mediaBytes > 0, an
// xl/media/image1.bin of that many zero bytes, which deflates to almost
// nothing.
func twoSheetsWithMedia(t *testing.T, mediaBytes int) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", "Summary"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.NewSheet("Raw"); err != nil {
		t.Fatal(err)
	}
	for i, row := range [][]any{{"region", "q1"}, {"EU", 10}, {"US", 20}} {
		if err := f.SetSheetRow("Summary", fmt.Sprintf("A%d", i+1), &row); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.SetCellValue("Raw", "A1", "other"); err != nil {
		t.Fatal(err)
	}
	if mediaBytes > 0 {
		f.Pkg.Store("xl/media/image1.bin", make([]byte, mediaBytes))
	}
	buf, err := f.WriteToBuffer()
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
