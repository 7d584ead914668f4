package all_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	fv1 "github.com/nonefinity/backend/contracts/filev1"
	fileingest "github.com/nonefinity/backend/services/fileingest/app"
)

// presignedPut sends data to an upload URL the way a browser would: a plain
// PUT, no credentials of ours.
func presignedPut(t testing.TB, uploadURL, contentType string, data []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, uploadURL, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT to the presigned URL: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("PUT to the presigned URL: %d %s", resp.StatusCode, b)
	}
}

// putObject asks for an upload URL and PUTs data to it, without committing.
func putObject(t testing.TB, u apiUser, name, contentType string, data []byte) fv1.UploadURLReply {
	t.Helper()
	var up fv1.UploadURLReply
	expect(t, u.json(t, http.MethodPost, "/file/upload-url", fv1.UploadURLRequest{
		FileName: name, FileSize: int64(len(data)), FileType: contentType,
	}), http.StatusOK, &up)
	if up.UploadURL == "" || up.ObjectName == "" || up.ExpiresIn <= 0 {
		t.Fatalf("upload-url = %+v", up)
	}
	presignedPut(t, up.UploadURL, contentType, data)
	return up
}

// uploadFile is the whole presigned flow: upload-url, PUT, commit (201).
func uploadFile(t testing.TB, u apiUser, name, contentType string, data []byte) fv1.File {
	t.Helper()
	up := putObject(t, u, name, contentType, data)
	var f fv1.File
	expect(t, u.json(t, http.MethodPost, "/file/upload", fv1.CommitRequest{
		ObjectName: up.ObjectName, FileName: name, FileSize: int64(len(data)), FileType: contentType,
	}), http.StatusCreated, &f)
	return f
}

// waitProcessed waits for the file.processed event of one file.
func waitProcessed(t testing.TB, frames <-chan sseFrame, fileID string) fv1.FileProcessed {
	t.Helper()
	var ev fv1.FileProcessed
	waitFrame(t, frames, func(f sseFrame) bool {
		if f.event != "file.processed" {
			return false
		}
		if err := json.Unmarshal(f.data, &ev); err != nil {
			t.Fatalf("file.processed data: %v: %s", err, f.data)
		}
		return ev.FileID == fileID
	})
	return ev
}

func fileIDs(files []fv1.File) []string {
	ids := make([]string, 0, len(files))
	for _, f := range files {
		ids = append(ids, f.ID)
	}
	slices.Sort(ids)
	return ids
}

func sorted(ids ...string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

func TestE2EFiles(t *testing.T) {
	const (
		maxSize = 1 << 20
		quota   = 3 << 19 // 1.5 MiB
	)
	s := startE2E(t, e2eOptions{Files: func(s *fileingest.Settings) { s.MaxFileSize, s.UserQuotaBytes = maxSize, quota }})
	a := s.user(t, "e2e_files_a", "")
	b := s.user(t, "e2e_files_b", "")
	events := a.subscribeEvents(t)

	csvData := []byte("name,age\nann,31\nbob,42\n")
	txtData := []byte("hello from the e2e test\n")
	var csv, txt fv1.File

	t.Run("presigned upload, commit 201, processed", func(t *testing.T) {
		csv = uploadFile(t, a, "report (v1.2)+[x].csv", "text/csv", csvData)
		if csv.ID == "" || csv.FileName != "report (v1.2)+[x]" || csv.FileExt != ".csv" || csv.FileSize != int64(len(csvData)) ||
			csv.FileType != "text/csv" || csv.Status != fv1.StatusUploaded {
			t.Fatalf("committed = %+v", csv)
		}
		ev := waitProcessed(t, events, csv.ID)
		if ev.Status != fv1.StatusReady || ev.Size != int64(len(csvData)) {
			t.Fatalf("file.processed = %+v", ev)
		}
		var got fv1.File
		expect(t, a.get(t, "/file/"+csv.ID), http.StatusOK, &got)
		if got.Status != fv1.StatusReady || got.SHA256 != ev.SHA256 || got.Preview == nil ||
			!slices.Equal(got.Preview.Columns, []string{"name", "age"}) || len(got.Preview.Rows) != 2 {
			t.Fatalf("ready file = %+v (preview %+v)", got, got.Preview)
		}
		txt = uploadFile(t, a, "Notes.txt", "text/plain", txtData)
		waitProcessed(t, events, txt.ID)
	})

	t.Run("list, stats, types", func(t *testing.T) {
		var list []fv1.File
		expect(t, a.get(t, "/file/list"), http.StatusOK, &list)
		if got := fileIDs(list); !slices.Equal(got, sorted(csv.ID, txt.ID)) {
			t.Fatalf("list = %v", got)
		}
		var stats fv1.StatsReply
		expect(t, a.get(t, "/file/stats"), http.StatusOK, &stats)
		if stats.TotalFiles != 2 || stats.TotalSize != int64(len(csvData)+len(txtData)) || stats.FileTypes["text"] != 2 {
			t.Fatalf("stats = %+v", stats)
		}
		var types []string
		expect(t, a.get(t, "/file/types"), http.StatusOK, &types)
		if !slices.Equal(types, []string{"text/csv", "text/plain"}) {
			t.Fatalf("types = %v", types)
		}
		var none []fv1.File
		expect(t, b.get(t, "/file/list"), http.StatusOK, &none)
		if len(none) != 0 {
			t.Fatalf("B lists %d files", len(none))
		}
	})

	t.Run("search is literal and case-insensitive", func(t *testing.T) {
		for q, want := range map[string][]string{
			"(v1.2)+[": {csv.ID},
			".*":       {},
			"notes":    {txt.ID},
			"REPORT":   {csv.ID},
		} {
			var found []fv1.File
			expect(t, a.get(t, "/file/search?q="+url.QueryEscape(q)), http.StatusOK, &found)
			if got := fileIDs(found); !slices.Equal(got, sorted(want...)) {
				t.Errorf("search %q = %v, want %v", q, got, want)
			}
		}
		var limited []fv1.File
		expect(t, a.get(t, "/file/search?q=e&limit=1"), http.StatusOK, &limited)
		if len(limited) != 1 {
			t.Errorf("limit=1 found %d", len(limited))
		}
		for _, bad := range []string{"-1", "101"} {
			r := a.get(t, "/file/search?q=e&limit="+bad)
			if r.status != http.StatusBadRequest && r.status != http.StatusUnprocessableEntity {
				t.Errorf("limit=%s: %d %s", bad, r.status, r.body)
			}
		}
	})

	t.Run("allow-convert lists the ready CSV", func(t *testing.T) {
		var files []fv1.File
		expect(t, a.get(t, "/file/allow-convert"), http.StatusOK, &files)
		if !slices.Contains(fileIDs(files), csv.ID) {
			t.Fatalf("allow-convert = %v, want %s among them", fileIDs(files), csv.ID)
		}
	})

	t.Run("rename", func(t *testing.T) {
		var got fv1.File
		expect(t, a.do(t, http.MethodPut, "/file/rename/"+csv.ID+"?new_name="+url.QueryEscape("quarterly"), nil, ""), http.StatusOK, &got)
		if got.FileName != "quarterly" || got.ID != csv.ID {
			t.Fatalf("renamed = %+v", got)
		}
		expect(t, a.get(t, "/file/"+csv.ID), http.StatusOK, &got)
		if got.FileName != "quarterly" {
			t.Fatalf("after rename = %+v", got)
		}
		r := a.do(t, http.MethodPut, "/file/rename/"+csv.ID+"?new_name=", nil, "")
		if r.status != http.StatusBadRequest && r.status != http.StatusUnprocessableEntity {
			t.Fatalf("empty new_name: %d %s", r.status, r.body)
		}
	})

	t.Run("download URL works with plain HTTP", func(t *testing.T) {
		var link string
		expect(t, a.get(t, "/file/download/"+csv.ID), http.StatusOK, &link)
		resp, err := http.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, csvData) {
			t.Fatalf("GET download URL: %d %q", resp.StatusCode, body)
		}
		if cd := resp.Header.Get("Content-Disposition"); !strings.Contains(cd, "attachment") || !strings.Contains(cd, "quarterly") {
			t.Fatalf("Content-Disposition = %q", cd)
		}
	})

	t.Run("B gets 404 on A's files", func(t *testing.T) {
		for _, id := range []string{csv.ID, txt.ID} {
			expect(t, b.get(t, "/file/"+id), http.StatusNotFound, nil)
			expect(t, b.do(t, http.MethodPut, "/file/rename/"+id+"?new_name=mine", nil, ""), http.StatusNotFound, nil)
			expect(t, b.get(t, "/file/download/"+id), http.StatusNotFound, nil)
			expect(t, b.do(t, http.MethodDelete, "/file/"+id, nil, ""), http.StatusNotFound, nil)
		}
		var batch fv1.BatchDeleteReply
		expect(t, b.json(t, http.MethodPost, "/file/batch/delete", fv1.BatchDeleteRequest{FileIDs: []string{csv.ID}}), http.StatusOK, &batch)
		if len(batch.Successful) != 0 || len(batch.Failed) != 1 {
			t.Fatalf("B batch delete of A's file = %+v", batch)
		}
		up := putObject(t, a, "pending.csv", "text/csv", csvData)
		commit := fv1.CommitRequest{ObjectName: up.ObjectName, FileName: "pending.csv", FileSize: int64(len(csvData)), FileType: "text/csv"}
		expect(t, b.json(t, http.MethodPost, "/file/upload", commit), http.StatusNotFound, nil)
		var mine fv1.File
		expect(t, a.json(t, http.MethodPost, "/file/upload", commit), http.StatusCreated, &mine)
		waitProcessed(t, events, mine.ID)
		expect(t, a.do(t, http.MethodDelete, "/file/"+mine.ID, nil, ""), http.StatusOK, nil)
		var got fv1.File
		expect(t, a.get(t, "/file/"+csv.ID), http.StatusOK, &got)
		if got.FileName != "quarterly" {
			t.Fatalf("B changed A's file: %+v", got)
		}
	})

	t.Run("malformed id 404", func(t *testing.T) {
		for _, id := range []string{"not-an-id", "zzzzzzzzzzzzzzzzzzzzzzzz"} {
			expect(t, a.get(t, "/file/"+id), http.StatusNotFound, nil)
			expect(t, a.get(t, "/file/download/"+id), http.StatusNotFound, nil)
			expect(t, a.do(t, http.MethodDelete, "/file/"+id, nil, ""), http.StatusNotFound, nil)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		for name, req := range map[string]fv1.UploadURLRequest{
			"empty name":    {FileName: "", FileSize: 10, FileType: "text/csv"},
			"dot name":      {FileName: "..", FileSize: 10, FileType: "text/csv"},
			"size 0":        {FileName: "a.csv", FileSize: 0, FileType: "text/csv"},
			"negative size": {FileName: "a.csv", FileSize: -5, FileType: "text/csv"},
		} {
			r := a.json(t, http.MethodPost, "/file/upload-url", req)
			if r.status != http.StatusBadRequest && r.status != http.StatusUnprocessableEntity {
				t.Errorf("%s: %d %s", name, r.status, r.body)
			}
		}
		// Commit checks the caller owns the object first (404 otherwise), then
		// the input, then the stored size against the declared one.
		up := putObject(t, a, "pending.csv", "text/csv", csvData)
		for name, req := range map[string]fv1.CommitRequest{
			"empty name": {ObjectName: up.ObjectName, FileName: "", FileSize: int64(len(csvData)), FileType: "text/csv"},
			"size 0":     {ObjectName: up.ObjectName, FileName: "pending.csv", FileSize: 0, FileType: "text/csv"},
		} {
			r := a.json(t, http.MethodPost, "/file/upload", req)
			if r.status != http.StatusBadRequest && r.status != http.StatusUnprocessableEntity {
				t.Errorf("commit with %s: %d %s", name, r.status, r.body)
			}
		}
		expect(t, a.json(t, http.MethodPost, "/file/upload", fv1.CommitRequest{
			ObjectName: "users/someone-else/raw/a.csv", FileName: "a.csv", FileSize: 3, FileType: "text/csv",
		}), http.StatusNotFound, nil)
		var list []fv1.File
		expect(t, a.get(t, "/file/list"), http.StatusOK, &list)
		if len(list) != 2 {
			t.Errorf("rejected commits left files: %v", fileIDs(list))
		}
		r := a.do(t, http.MethodPost, "/file/upload-url", strings.NewReader("{not json"), "application/json")
		if r.status != http.StatusBadRequest && r.status != http.StatusUnprocessableEntity {
			t.Errorf("malformed JSON: %d %s", r.status, r.body)
		}
	})

	t.Run("413 size and quota", func(t *testing.T) {
		env := expect(t, a.json(t, http.MethodPost, "/file/upload-url", fv1.UploadURLRequest{
			FileName: "big.bin", FileSize: maxSize + 1, FileType: "application/octet-stream",
		}), http.StatusRequestEntityTooLarge, nil)
		if len(env.Errors) == 0 {
			t.Fatalf("no error detail for size")
		}
		big := uploadFile(t, a, "big.bin", "application/octet-stream", bytes.Repeat([]byte{7}, maxSize))
		waitProcessed(t, events, big.ID)
		expect(t, a.json(t, http.MethodPost, "/file/upload-url", fv1.UploadURLRequest{
			FileName: "more.bin", FileSize: quota - maxSize, FileType: "application/octet-stream",
		}), http.StatusRequestEntityTooLarge, nil)
		expect(t, a.do(t, http.MethodDelete, "/file/"+big.ID, nil, ""), http.StatusOK, nil)
		var up fv1.UploadURLReply
		expect(t, a.json(t, http.MethodPost, "/file/upload-url", fv1.UploadURLRequest{
			FileName: "more.bin", FileSize: quota - maxSize, FileType: "application/octet-stream",
		}), http.StatusOK, &up)
	})

	t.Run("batch delete partial success, delete", func(t *testing.T) {
		missing := "000000000000000000000000"
		var reply fv1.BatchDeleteReply
		expect(t, a.json(t, http.MethodPost, "/file/batch/delete", fv1.BatchDeleteRequest{FileIDs: []string{txt.ID, missing, "garbage"}}), http.StatusOK, &reply)
		if !slices.Equal(reply.Successful, []string{txt.ID}) || len(reply.Failed) != 2 {
			t.Fatalf("batch delete = %+v", reply)
		}
		for _, f := range reply.Failed {
			if f.FileID != missing && f.FileID != "garbage" || f.Error == "" {
				t.Fatalf("failure = %+v", f)
			}
		}
		expect(t, a.get(t, "/file/"+txt.ID), http.StatusNotFound, nil)

		var link string
		expect(t, a.get(t, "/file/download/"+csv.ID), http.StatusOK, &link)
		var del fv1.DeleteReply
		expect(t, a.do(t, http.MethodDelete, "/file/"+csv.ID, nil, ""), http.StatusOK, &del)
		if del.FileID != csv.ID {
			t.Fatalf("delete = %+v", del)
		}
		expect(t, a.get(t, "/file/"+csv.ID), http.StatusNotFound, nil)
		expect(t, a.do(t, http.MethodDelete, "/file/"+csv.ID, nil, ""), http.StatusNotFound, nil)
		resp, err := http.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("object still downloadable after delete: %d", resp.StatusCode)
		}
		var list []fv1.File
		expect(t, a.get(t, "/file/list"), http.StatusOK, &list)
		if len(list) != 0 {
			t.Fatalf("left after deletes: %v", fileIDs(list))
		}
	})

	t.Run("401 without a token", func(t *testing.T) {
		expect(t, s.anonymous().get(t, "/file/list"), http.StatusUnauthorized, nil)
	})

	t.Run("service stopped 503", func(t *testing.T) {
		s.stopFiles()
		env := expect(t, a.get(t, "/file/list"), http.StatusServiceUnavailable, nil)
		if len(env.Errors) == 0 || env.Errors[0].Code != "unavailable" {
			t.Fatalf("errors = %+v", env.Errors)
		}
		expect(t, a.json(t, http.MethodPost, "/file/upload-url", fv1.UploadURLRequest{
			FileName: "a.csv", FileSize: 3, FileType: "text/csv",
		}), http.StatusServiceUnavailable, nil)
	})
}
