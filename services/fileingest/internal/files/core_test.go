package files_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nonefinity/backend/pkg/fielderr"
	"github.com/nonefinity/backend/services/fileingest/internal/files"
)

// The core's own tests: the real Service over memFiles, memObjects and
// published, no network. The app tests run the same rules against FerretDB
// and S3 over NATS.

const (
	alice = "65f2a1b3c4d5e6f708192a01"
	bob   = "65f2a1b3c4d5e6f708192a02"
)

type core struct {
	*files.Service
	store   *memFiles
	objects *memObjects
	events  *published
}

// newCore is a service with a 1,000-byte size limit and a 100-byte quota.
func newCore() *core {
	c := &core{store: newMemFiles(), objects: newMemObjects(), events: &published{}}
	c.Service = files.NewService(c.store, c.objects, c.events, files.Config{
		MaxFileSize: 1000, UserQuota: 100, UploadURLTTL: time.Hour, DownloadURLTTL: time.Hour, OpenURLTTL: time.Hour,
	}, nil)
	return c
}

// granted asks for an upload URL of size bytes and PUTs put bytes to it.
func (c *core) granted(t *testing.T, owner, name string, size, put int64) string {
	t.Helper()
	g, err := c.UploadURL(context.Background(), owner, files.UploadRequest{FileName: name, Size: size})
	if err != nil {
		t.Fatalf("UploadURL %s: %v", name, err)
	}
	c.objects.put(g.ObjectName, put)
	return g.ObjectName
}

// usage is what the owner's quota counts: stored files and reservations.
func (c *core) usage(t *testing.T, owner string) (stored, reserved int64) {
	t.Helper()
	stored, err := c.store.UsedBytes(context.Background(), owner)
	if err != nil {
		t.Fatal(err)
	}
	reserved, err = c.store.ReservedBytes(context.Background(), owner)
	if err != nil {
		t.Fatal(err)
	}
	return stored, reserved
}

func wantUsage(t *testing.T, c *core, owner string, stored, reserved int64) {
	t.Helper()
	if s, r := c.usage(t, owner); s != stored || r != reserved {
		t.Fatalf("%s stores %d and reserves %d bytes, want %d and %d", owner, s, r, stored, reserved)
	}
}

// wantFieldError fails unless err is a FieldError of field and kind.
func wantFieldError(t *testing.T, err error, field string, kind error) {
	t.Helper()
	fe, ok := fielderr.As(err)
	if !ok || fe.Field != field || !errors.Is(err, kind) {
		t.Fatalf("error %v, want a %v of %s", err, kind, field)
	}
}

func TestCommitTurnsTheGrantIntoTheFile(t *testing.T) {
	ctx := context.Background()
	c := newCore()
	key := c.granted(t, alice, "Sales.CSV", 40, 40)
	wantUsage(t, c, alice, 0, 40)

	f, err := c.Commit(ctx, alice, files.CommitRequest{ObjectName: key, FileName: "Sales.CSV", Size: 40})
	if err != nil {
		t.Fatal(err)
	}
	if f.ID == "" || f.OwnerID != alice || f.FilePath != key || f.Bucket != "test-bucket" || f.FileName != "Sales" ||
		f.FileExt != ".CSV" || f.FileType != "text/csv" || f.FileSize != 40 || f.ETag == "" || f.Status != files.StatusUploaded {
		t.Fatalf("committed = %+v", f)
	}
	// The reservation became the file: the bytes count once.
	wantUsage(t, c, alice, 40, 0)
	if n := c.events.uploads(); n[f.ID] != 1 || len(n) != 1 {
		t.Fatalf("uploaded events = %v", n)
	}

	t.Run("a repeated commit answers the same file and announces it again while it waits", func(t *testing.T) {
		again, err := c.Commit(ctx, alice, files.CommitRequest{ObjectName: key, FileName: "other.csv", Size: 40})
		if err != nil || again.ID != f.ID || again.FileName != "Sales" {
			t.Fatalf("re-commit = %+v, %v", again, err)
		}
		wantUsage(t, c, alice, 40, 0)
		if n := c.events.uploads()[f.ID]; n != 2 {
			t.Fatalf("%d uploaded events, want 2", n)
		}
	})

	t.Run("a repeated commit of a processed file announces nothing", func(t *testing.T) {
		if _, started, err := c.store.StartProcessing(ctx, alice, f.ID, time.Now()); err != nil || !started {
			t.Fatal(started, err)
		}
		if _, _, err := c.store.FinishProcessing(ctx, alice, f.ID, files.Outcome{Status: files.StatusReady}, time.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Commit(ctx, alice, files.CommitRequest{ObjectName: key, FileName: "Sales.CSV", Size: 40}); err != nil {
			t.Fatal(err)
		}
		if n := c.events.uploads()[f.ID]; n != 2 {
			t.Fatalf("%d uploaded events, want still 2", n)
		}
	})
}

func TestCommitSizeMismatch(t *testing.T) {
	ctx := context.Background()
	c := newCore()

	// The object is not what was declared at commit.
	key := c.granted(t, alice, "a.bin", 10, 12)
	_, err := c.Commit(ctx, alice, files.CommitRequest{ObjectName: key, FileName: "a.bin", Size: 10})
	wantFieldError(t, err, "file_size", files.ErrSizeMismatch)
	if c.objects.has(key) {
		t.Fatal("the mismatched object was kept")
	}
	// Its reservation stays until the sweep: the URL could still PUT.
	wantUsage(t, c, alice, 0, 10)

	// The commit declares the object's real size, but the grant was for
	// another one.
	key = c.granted(t, alice, "b.bin", 10, 12)
	_, err = c.Commit(ctx, alice, files.CommitRequest{ObjectName: key, FileName: "b.bin", Size: 12})
	wantFieldError(t, err, "file_size", files.ErrSizeMismatch)
	if c.objects.has(key) {
		t.Fatal("the object larger than its grant was kept")
	}
	if n := c.events.uploads(); len(n) != 0 {
		t.Fatalf("uploaded events of refused commits: %v", n)
	}
}

func TestCommitQuota(t *testing.T) {
	ctx := context.Background()
	c := newCore()
	c.granted(t, alice, "held.bin", 60, 60)

	// A grant holds its bytes: 60 reserved leaves 40.
	_, err := c.UploadURL(ctx, alice, files.UploadRequest{FileName: "more.bin", Size: 41})
	wantFieldError(t, err, "file_size", files.ErrQuotaExceeded)

	// An object relayed without a grant is reserved at commit, for its
	// real size.
	relayed := "users/" + alice + "/raw/01RELAYED.bin"
	c.objects.put(relayed, 41)
	_, err = c.Commit(ctx, alice, files.CommitRequest{ObjectName: relayed, FileName: "r.bin", Size: 41})
	wantFieldError(t, err, "file_size", files.ErrQuotaExceeded)
	if c.objects.has(relayed) {
		t.Fatal("an object over the quota was kept")
	}
	c.objects.put(relayed, 40)
	f, err := c.Commit(ctx, alice, files.CommitRequest{ObjectName: relayed, FileName: "r.bin", Size: 40})
	if err != nil || f.FileSize != 40 {
		t.Fatalf("relayed commit within the quota = %+v, %v", f, err)
	}
	wantUsage(t, c, alice, 40, 60)

	// Over the size limit is refused whatever the quota.
	big := "users/" + bob + "/raw/01BIG.bin"
	c.objects.put(big, 1001)
	_, err = c.Commit(ctx, bob, files.CommitRequest{ObjectName: big, FileName: "big.bin", Size: 1001})
	wantFieldError(t, err, "file_size", files.ErrTooLarge)
	// Bob's quota is his own.
	wantUsage(t, c, bob, 0, 0)
	c.granted(t, bob, "all.bin", 100, 100)
}

func TestCommitRefusals(t *testing.T) {
	ctx := context.Background()
	c := newCore()
	bobs := c.granted(t, bob, "b.csv", 4, 4)
	for _, tc := range []struct {
		name  string
		owner string
		req   files.CommitRequest
		want  error
	}{
		{"no user", "", files.CommitRequest{ObjectName: bobs, FileName: "b.csv", Size: 4}, files.ErrNoUser},
		{"another user's object", alice, files.CommitRequest{ObjectName: bobs, FileName: "b.csv", Size: 4}, files.ErrNotFound},
		{"an object outside raw/", alice, files.CommitRequest{ObjectName: "users/" + alice + "/datasets/x.parquet", FileName: "x", Size: 4}, files.ErrNotFound},
		{"a missing object", alice, files.CommitRequest{ObjectName: "users/" + alice + "/raw/01GONE.csv", FileName: "x.csv", Size: 4}, files.ErrNotFound},
		{"a name with a path", bob, files.CommitRequest{ObjectName: bobs, FileName: "../b.csv", Size: 4}, files.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.Commit(ctx, tc.owner, tc.req); !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
	if !c.objects.has(bobs) {
		t.Fatal("a refused commit touched bob's object")
	}

	t.Run("object storage down", func(t *testing.T) {
		c.objects.down = true
		defer func() { c.objects.down = false }()
		if _, err := c.Commit(ctx, bob, files.CommitRequest{ObjectName: bobs, FileName: "b.csv", Size: 4}); !errors.Is(err, files.ErrStorageUnavailable) {
			t.Fatalf("error %v, want ErrStorageUnavailable", err)
		}
	})

	t.Run("an announcement that fails is made by the next commit", func(t *testing.T) {
		c.events.fail = true
		_, err := c.Commit(ctx, bob, files.CommitRequest{ObjectName: bobs, FileName: "b.csv", Size: 4})
		c.events.fail = false
		if err == nil {
			t.Fatal("a commit whose event was not published succeeded")
		}
		f, err := c.Commit(ctx, bob, files.CommitRequest{ObjectName: bobs, FileName: "b.csv", Size: 4})
		if err != nil || c.events.uploads()[f.ID] != 1 {
			t.Fatalf("re-commit = %+v, %v; events %v", f, err, c.events.uploads())
		}
		wantUsage(t, c, bob, 4, 0)
	})
}

// The sweep may release an upload's reservation while its commit runs
// (the URL expired a grace period ago): the commit then withdraws the file
// and the object, and says to upload again.
func TestCommitOfAnUploadSweptMeanwhile(t *testing.T) {
	ctx := context.Background()
	c := newCore()
	key := c.granted(t, alice, "late.csv", 8, 8)
	c.store.beforeInsert = func() {
		r, err := c.store.ReservationFor(ctx, alice, key)
		if err != nil {
			t.Error(err)
			return
		}
		if released, err := c.store.Release(ctx, alice, r.ID); err != nil || !released {
			t.Errorf("sweep release = %v, %v", released, err)
		}
	}
	_, err := c.Commit(ctx, alice, files.CommitRequest{ObjectName: key, FileName: "late.csv", Size: 8})
	if !errors.Is(err, files.ErrUploadExpired) {
		t.Fatalf("error %v, want ErrUploadExpired", err)
	}
	if _, err := c.store.GetByPath(ctx, alice, key); !errors.Is(err, files.ErrNotFound) || c.objects.has(key) {
		t.Fatalf("the swept upload left its file (%v) or its object (%v)", err, c.objects.has(key))
	}
	wantUsage(t, c, alice, 0, 0)
	if n := c.events.uploads(); len(n) != 0 {
		t.Fatalf("uploaded events of a withdrawn file: %v", n)
	}
}

func TestAbortUpload(t *testing.T) {
	ctx := context.Background()
	c := newCore()

	t.Run("a relayed upload cut short goes with its parts", func(t *testing.T) {
		g, err := c.StartMultipart(ctx, alice, "big.csv", "text/csv")
		if err != nil {
			t.Fatal(err)
		}
		c.objects.put(g.ObjectName, 5)
		if err := c.AbortUpload(ctx, alice, g.ObjectName, g.UploadID); err != nil {
			t.Fatal(err)
		}
		if c.objects.has(g.ObjectName) || len(c.objects.uploads) != 0 {
			t.Fatal("the aborted upload left its object or its parts")
		}
		// A retried abort finds nothing left, which is fine.
		if err := c.AbortUpload(ctx, alice, g.ObjectName, g.UploadID); err != nil {
			t.Fatalf("second abort: %v", err)
		}
		if _, err := c.CompleteMultipart(ctx, alice, g.ObjectName, g.UploadID, []files.Part{{Number: 1, ETag: "p1"}}); !errors.Is(err, files.ErrNotFound) {
			t.Fatalf("completing an aborted upload: %v, want ErrNotFound", err)
		}
	})

	t.Run("an object without a file goes; a missing one is fine", func(t *testing.T) {
		key := c.granted(t, alice, "gone.csv", 4, 4)
		for range 2 {
			if err := c.AbortUpload(ctx, alice, key, ""); err != nil {
				t.Fatal(err)
			}
		}
		if c.objects.has(key) {
			t.Fatal("the aborted object is still there")
		}
	})

	t.Run("an object that has its file stays", func(t *testing.T) {
		key := c.granted(t, alice, "kept.csv", 4, 4)
		if _, err := c.Commit(ctx, alice, files.CommitRequest{ObjectName: key, FileName: "kept.csv", Size: 4}); err != nil {
			t.Fatal(err)
		}
		if err := c.AbortUpload(ctx, alice, key, ""); err != nil || !c.objects.has(key) {
			t.Fatalf("abort of a committed object: %v, kept %v", err, c.objects.has(key))
		}
	})

	t.Run("refusals", func(t *testing.T) {
		bobs := c.granted(t, bob, "b.csv", 4, 4)
		if err := c.AbortUpload(ctx, "", bobs, ""); !errors.Is(err, files.ErrNoUser) {
			t.Errorf("no user: %v", err)
		}
		if err := c.AbortUpload(ctx, alice, bobs, ""); !errors.Is(err, files.ErrNotFound) || !c.objects.has(bobs) {
			t.Errorf("another user's object: %v, kept %v", err, c.objects.has(bobs))
		}
		c.objects.down = true
		defer func() { c.objects.down = false }()
		if err := c.AbortUpload(ctx, bob, bobs, ""); !errors.Is(err, files.ErrStorageUnavailable) {
			t.Errorf("object storage down: %v", err)
		}
	})
}
