package objects_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/nonefinity/backend/pkg/objstore"
	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/fileingest/internal/files"
	"github.com/nonefinity/backend/services/fileingest/internal/objects"
)

// The upload sweeper's tests live with the adapter: what they check is
// how the sweep meets a real S3 server (upload times in whole seconds,
// listing by prefix, an unreachable server), which the files core's fakes
// cannot tell.

func sweepCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newBucket(t *testing.T) *objstore.Store {
	t.Helper()
	b := testkit.S3(t)
	s, err := objstore.New(objstore.Config{Endpoint: b.Endpoint, AccessKey: b.AccessKey, SecretKey: b.SecretKey, Bucket: b.Bucket})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// uploads lists the bucket's unfinished uploads as "key id" lines.
func uploads(t *testing.T, s *objstore.Store) []string {
	t.Helper()
	var got []string
	for u, err := range s.IncompleteUploads(sweepCtx(t), "") {
		if err != nil {
			t.Fatalf("IncompleteUploads: %v", err)
		}
		got = append(got, u.Key+" "+u.UploadID)
	}
	slices.Sort(got)
	return got
}

// startUpload starts a multipart upload of key and returns it as listed,
// with the time the server says it began.
func startUpload(t *testing.T, s *objstore.Store, key string) objstore.IncompleteUpload {
	t.Helper()
	ctx := sweepCtx(t)
	id, err := s.NewMultipartUpload(ctx, key, "text/csv")
	if err != nil {
		t.Fatalf("NewMultipartUpload(%s): %v", key, err)
	}
	for u, err := range s.IncompleteUploads(ctx, key) {
		if err != nil {
			t.Fatal(err)
		}
		if u.UploadID == id {
			return u
		}
	}
	t.Fatalf("upload %s of %s is not listed", id, key)
	return objstore.IncompleteUpload{}
}

func line(u objstore.IncompleteUpload) string { return u.Key + " " + u.UploadID }

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}

func TestUploadSweeperAbortsOnlyOldUploads(t *testing.T) {
	ctx := sweepCtx(t)
	s := newBucket(t)
	old := startUpload(t, s, "users/65f2a1b3c4d5e6f708192a3b/raw/01OLD.csv")
	outside := startUpload(t, s, "elsewhere/01OLD.bin")
	// The server reports whole seconds: the fresh upload must begin in a
	// later one for the two to be told apart. Its clock is the file
	// system's, which may lag time.Now, so try until the second is over.
	var fresh objstore.IncompleteUpload
	testkit.Eventually(t, 30*time.Second, func() error {
		fresh = startUpload(t, s, "users/65f2a1b3c4d5e6f708192a3c/raw/01NEW.csv")
		if fresh.Initiated.After(old.Initiated) {
			return nil
		}
		if err := s.AbortMultipartUpload(ctx, fresh.Key, fresh.UploadID); err != nil {
			t.Fatal(err)
		}
		return fmt.Errorf("uploads keep beginning at %v", old.Initiated)
	})

	sweep := func(now time.Time) int {
		t.Helper()
		n, err := files.UploadSweeper{Store: objects.New(s), MaxAge: 24 * time.Hour, Now: func() time.Time { return now }}.Sweep(ctx)
		if err != nil {
			t.Fatalf("Sweep at %v: %v", now, err)
		}
		return n
	}
	if n := sweep(time.Now()); n != 0 {
		t.Errorf("sweep now aborted %d, want 0", n)
	}
	if got, want := uploads(t, s), sorted(line(old), line(fresh), line(outside)); !slices.Equal(got, want) {
		t.Fatalf("after sweeping now: %q, want %q", got, want)
	}
	// Exactly MaxAge after the fresh upload began: it is not older than
	// that, the old one is.
	if n := sweep(fresh.Initiated.Add(24 * time.Hour)); n != 1 {
		t.Errorf("sweep a day after the fresh upload aborted %d, want 1", n)
	}
	if got, want := uploads(t, s), sorted(line(fresh), line(outside)); !slices.Equal(got, want) {
		t.Fatalf("after sweeping a day after the fresh upload: %q, want %q", got, want)
	}
	if n := sweep(time.Now().Add(48 * time.Hour)); n != 1 {
		t.Errorf("sweep two days later aborted %d, want 1", n)
	}
	// Only users/ is swept.
	if got, want := uploads(t, s), []string{line(outside)}; !slices.Equal(got, want) {
		t.Fatalf("after sweeping two days later: %q, want %q", got, want)
	}
}

func TestUploadSweeperStorageDown(t *testing.T) {
	n, err := files.UploadSweeper{Store: objects.New(testkit.UnreachableStore(t))}.Sweep(sweepCtx(t))
	if n != 0 || !objstore.IsUnavailable(err) {
		t.Fatalf("Sweep of an unreachable store = %d, %v; want 0 and an unavailable error", n, err)
	}
}

// recordSink hands log records to the test; records that find it full
// are dropped.
type recordSink chan slog.Record

func (c recordSink) Enabled(context.Context, slog.Level) bool { return true }
func (c recordSink) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c recordSink) WithGroup(string) slog.Handler            { return c }
func (c recordSink) Handle(_ context.Context, r slog.Record) error {
	select {
	case c <- r:
	default:
	}
	return nil
}

// nextRecord waits for a record at level.
func nextRecord(t *testing.T, sink recordSink, level slog.Level) slog.Record {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case r := <-sink:
			if r.Level == level {
				return r
			}
		case <-timeout:
			t.Fatalf("no %s record logged", level)
		}
	}
}

// runSweeper runs w until the test ends or stop is called, and fails the
// test if Run does not return once its context ends.
func runSweeper(t *testing.T, w files.UploadSweeper, interval time.Duration) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx, interval)
	}()
	stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("Run did not return after its context ended")
		}
	}
	t.Cleanup(cancel)
	return stop
}

func TestUploadSweeperRun(t *testing.T) {
	t.Run("aborts and says how many", func(t *testing.T) {
		s := newBucket(t)
		startUpload(t, s, "users/65f2a1b3c4d5e6f708192a3b/raw/01A.csv")
		startUpload(t, s, "users/65f2a1b3c4d5e6f708192a3b/raw/01B.csv")
		sink := make(recordSink, 16)
		later := func() time.Time { return time.Now().Add(48 * time.Hour) }
		stop := runSweeper(t, files.UploadSweeper{Store: objects.New(s), Now: later, Log: slog.New(sink)}, time.Hour)
		r := nextRecord(t, sink, slog.LevelInfo)
		var removed int64 = -1
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "removed" {
				removed = a.Value.Int64()
			}
			return true
		})
		stop()
		if removed != 2 {
			t.Errorf("logged %q with removed=%d, want 2", r.Message, removed)
		}
		if got := uploads(t, s); len(got) != 0 {
			t.Errorf("left %q", got)
		}
	})
	t.Run("keeps trying while storage is down", func(t *testing.T) {
		sink := make(recordSink, 16)
		stop := runSweeper(t, files.UploadSweeper{Store: objects.New(testkit.UnreachableStore(t)), Log: slog.New(sink)}, time.Millisecond)
		nextRecord(t, sink, slog.LevelWarn)
		nextRecord(t, sink, slog.LevelWarn)
		stop()
	})
}
