package events_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/services/fileingest/internal/files"
)

// presignedPut sends body to an upload URL as a browser would.
func presignedPut(t *testing.T, url string, body []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, url, bytes.NewReader(body))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.Body.Close() != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT to the upload URL: %v %v", resp, err)
	}
}

// A committed file's upload URL stays valid until it expires: PUT through
// it again (same size: the length is signed) and the object the pipeline
// would read is no longer the one committed. Processing reads the ETag
// recorded at commit only, so the replaced file fails with a message that
// says why, and nothing of the new bytes is inspected.
func TestProcessingRefusesAnObjectReplacedAfterCommit(t *testing.T) {
	r := newRig(t)
	core := r.core(r.js, r.objects)
	ctx := testCtx(t)
	committed := []byte("id,name\n1,ann\n2,bob\n")
	replaced := []byte("id,evil\n1,<x>\n2,<y>\n")

	upload := func(name string) (files.Grant, files.File) {
		g, err := core.UploadURL(ctx, alice, files.UploadRequest{FileName: name, Size: int64(len(committed)), Type: "text/csv"})
		if err != nil {
			t.Fatal(err)
		}
		presignedPut(t, g.URL, committed)
		f, err := core.Commit(ctx, alice, files.CommitRequest{ObjectName: g.ObjectName, FileName: name, Size: int64(len(committed)), Type: "text/csv"})
		if err != nil || f.ETag == "" {
			t.Fatalf("Commit = %+v, %v", f, err)
		}
		return g, f
	}
	g, f := upload("replaced.csv")
	presignedPut(t, g.URL, replaced)
	failed := r.subscribe(contracts.EventFailed, alice)
	if err := core.Process(ctx, alice, f.ID); err != nil {
		t.Fatalf("Process: %v", err)
	}
	got := r.get(alice, f.ID)
	if got.Status != files.StatusFailed || got.Error != files.ChangedObjectMessage || got.Preview != nil || got.SHA256 != "" {
		t.Fatalf("processed replaced file = %+v", got)
	}
	if _, err := failed.NextMsg(10e9); err != nil {
		t.Fatalf("no failed event: %v", err)
	}

	// The same steps without the second PUT make a ready file.
	_, kept := upload("kept.csv")
	if err := core.Process(ctx, alice, kept.ID); err != nil {
		t.Fatal(err)
	}
	if got := r.get(alice, kept.ID); got.Status != files.StatusReady || got.Preview == nil || got.Preview.Columns[1] != "name" {
		t.Fatalf("processed kept file = %+v", got)
	}
}
