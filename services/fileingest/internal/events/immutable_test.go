package events_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/pkg/objstore"
	"github.com/nonefinity/backend/services/fileingest/internal/events"
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
	core := r.core(r.js, r.bucket, 0)
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

// sweepOnInsert is the real store with one interleaving forced: the
// sweep runs right after a commit stored its file and before the commit
// released the upload's reservation.
type sweepOnInsert struct {
	files.Store
	sweep func()
}

func (s sweepOnInsert) Insert(ctx context.Context, f files.File) (files.File, error) {
	out, err := s.Store.Insert(ctx, f)
	s.sweep()
	return out, err
}

// A commit that comes as the sweep takes its expired upload: the sweep
// releases the reservation first, so the object is the sweep's to remove
// and the commit withdraws its file and says the upload expired. Nothing
// is left: no file, no object, no reservation.
func TestCommitRacingTheSweepLeavesNothing(t *testing.T) {
	r := newRig(t)
	ctx := testCtx(t)
	var offset atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	var core *files.Service
	st := sweepOnInsert{Store: r.store, sweep: func() {
		offset.Store(int64(time.Hour))
		if n, err := core.SweepUncommitted(ctx); err != nil || n != 1 {
			t.Errorf("SweepUncommitted = %d, %v", n, err)
		}
	}}
	core = files.NewService(st, r.bucket, events.NewPublisher(r.js), files.Config{
		MaxFileSize: 1 << 20, UserQuota: 100, UploadURLTTL: time.Minute, Now: clock,
	}, testLog())
	body := []byte("id\n1\n")
	g, err := core.UploadURL(ctx, alice, files.UploadRequest{FileName: "late.csv", Size: int64(len(body))})
	if err != nil {
		t.Fatal(err)
	}
	presignedPut(t, g.URL, body)
	_, err = core.Commit(ctx, alice, files.CommitRequest{ObjectName: g.ObjectName, FileName: "late.csv", Size: int64(len(body))})
	if !errors.Is(err, files.ErrUploadExpired) {
		t.Fatalf("Commit = %v, want ErrUploadExpired", err)
	}
	if _, err := r.store.GetByPath(ctx, alice, g.ObjectName); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("the file of an expired upload stayed: %v", err)
	}
	if _, err := r.objects.Stat(ctx, g.ObjectName); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("the object of an expired upload stayed: %v", err)
	}
	if n, err := r.store.ReservedBytes(ctx, alice); err != nil || n != 0 {
		t.Fatalf("reserved after the sweep = %d, %v", n, err)
	}
}
