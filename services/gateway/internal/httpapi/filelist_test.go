package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	fv1 "github.com/nonefinity/backend/contracts/filev1"
	"github.com/nonefinity/backend/contracts/rpcerr"
)

// pagedFiles answers a list operation in pages of size files from all,
// with the cursor "after-<index of the page's last file>"; failAt, when
// positive, is the page that fails.
func pagedFiles(all []fv1.File, size, failAt int) responder {
	return func(_ context.Context, body json.RawMessage) (any, error) {
		var req fv1.ListRequest
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, err
		}
		start := 0
		if req.Cursor != "" {
			if _, err := fmt.Sscanf(req.Cursor, "after-%d", &start); err != nil {
				return nil, rpcerr.Field(rpcerr.Validation, "cursor", "bad cursor")
			}
			start++
		}
		if failAt > 0 && start/size+1 == failAt {
			return nil, rpcerr.New(rpcerr.Unavailable, "database unavailable")
		}
		end := min(start+size, len(all))
		reply := fv1.ListReply{Files: all[start:end]}
		if end < len(all) {
			reply.Next = fmt.Sprintf("after-%d", end-1)
		}
		return reply, nil
	}
}

func manyFiles(n int) []fv1.File {
	out := make([]fv1.File, n)
	for i := range out {
		f := sampleFile()
		f.ID = fmt.Sprintf("65f2a1b3c4d5e6f70819%04x", i)
		f.FileName = fmt.Sprintf("file <%d>", i)
		out[i] = f
	}
	return out
}

// The unpaged routes of API.md stay unpaged for the client: the gateway
// follows fileingest's pages (each one NATS message) and writes one
// envelope holding every file, exactly as one reply would have been
// written.
func TestFileListsFollowEveryPage(t *testing.T) {
	h := newHarness(t, allServices)
	all := manyFiles(25)
	for path, op := range map[string]string{"/api/v1/file/list": fv1.OpList, "/api/v1/file/allow-convert": fv1.OpAllowConvert} {
		h.stubs.answer(fv1.Subject(op), pagedFiles(all, 10, 0))
		rec := h.do(request{method: "GET", path: path, token: userToken})
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", path, rec.Code, rec.Body.String())
		}
		want := mustJSON(map[string]any{"success": true, "message": "files", "data": all})
		if !jsonEqual(t, rec.Body.Bytes(), want) {
			t.Fatalf("%s body:\n%s\nwant\n%s", path, rec.Body.String(), want)
		}
		if n := h.stubs.count(fv1.Subject(op)); n != 3 {
			t.Errorf("%s: %d pages asked, want 3", path, n)
		}
		if last := h.stubs.lastCall(t, fv1.Subject(op)); string(last.Body) != `{"cursor":"after-19"}` {
			t.Errorf("%s: last page asked with %s", path, last.Body)
		}
	}

	// No files is an empty list, not null.
	h.stubs.answer(fv1.Subject(fv1.OpList), pagedFiles(nil, 10, 0))
	rec := h.do(request{method: "GET", path: "/api/v1/file/list", token: userToken})
	if !jsonEqual(t, rec.Body.Bytes(), `{"success":true,"message":"files","data":[]}`) {
		t.Fatalf("empty list: %s", rec.Body.String())
	}
}

// A first page that fails is the usual error envelope; a later one cuts
// the response short, so the client cannot take part of the list for all
// of it.
func TestFileListPageFailure(t *testing.T) {
	h := newHarness(t, allServices)
	all := manyFiles(25)
	h.stubs.answer(fv1.Subject(fv1.OpList), pagedFiles(all, 10, 1))
	expectError(t, h.do(request{method: "GET", path: "/api/v1/file/list", token: userToken}), http.StatusServiceUnavailable, rpcerr.Unavailable, "")

	// Once the status line is out, a failed page aborts the response:
	// net/http resets the connection, so no client mistakes the cut body
	// for a shorter list.
	h.stubs.answer(fv1.Subject(fv1.OpList), pagedFiles(all, 10, 2))
	req := httptest.NewRequest(http.MethodGet, "/api/v1/file/list", nil)
	req.Header.Set("Authorization", "Bearer "+userToken)
	rec := httptest.NewRecorder()
	aborted := func() (p any) {
		defer func() { p = recover() }()
		h.handler.ServeHTTP(rec, req)
		return nil
	}()
	if aborted != http.ErrAbortHandler {
		t.Fatalf("a list whose second page failed was not aborted (%v): %s", aborted, rec.Body.String())
	}
	var v any
	if json.Unmarshal(rec.Body.Bytes(), &v) == nil {
		t.Fatalf("a list whose second page failed wrote a complete JSON body: %s", rec.Body.String())
	}
}
