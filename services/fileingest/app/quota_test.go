package app_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nonefinity/backend/contracts/filev1"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/config"
	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/fileingest/app"
)

// One user fires 40 grants of 100 bytes and 10 commits of relayed 100-byte
// objects (granted nothing, reserved at commit) at once against a 1050-byte
// quota. Checking the quota and storing the reservation were two steps
// that raced; with quota tickets no more than 10 of the 50 get through,
// every granted upload commits, and what the losers reserved in passing is
// released: the quota left is exactly what the winners did not take.
func TestQuotaHoldsUnderConcurrentUploads(t *testing.T) {
	const (
		quota   = 1050
		size    = 100
		grants  = 40
		relayed = 10
	)
	h := start(t, func(c *app.Config) { c.UserQuotaBytes = quota })
	body := bytes.Repeat([]byte("q"), size)
	keys := make([]string, relayed)
	for i := range keys {
		keys[i] = fmt.Sprintf("users/%s/raw/01RELAYED%02d.bin", alice, i)
		if _, err := h.store.Put(context.Background(), keys[i], bytes.NewReader(body), size, ""); err != nil {
			t.Fatal(err)
		}
	}

	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		granted   []filev1.UploadURLReply
		committed atomic.Int64
		refused   atomic.Int64
	)
	judge := func(what string, err error) bool {
		if err == nil {
			return true
		}
		if re, ok := rpcerr.As(err); ok && (re.Code == rpcerr.TooLarge || re.Code == rpcerr.RateLimited) {
			refused.Add(1)
			return false
		}
		t.Errorf("%s: %v", what, err)
		return false
	}
	start := make(chan struct{})
	for i := range grants {
		wg.Go(func() {
			<-start
			g, err := h.files.UploadURL(h.ctx(alice), filev1.UploadURLRequest{FileName: fmt.Sprintf("g%d.bin", i), FileSize: size})
			if judge("grant", err) {
				mu.Lock()
				granted = append(granted, g)
				mu.Unlock()
			}
		})
	}
	for i, key := range keys {
		wg.Go(func() {
			<-start
			_, err := h.files.Commit(h.ctx(alice), filev1.CommitRequest{ObjectName: key, FileName: fmt.Sprintf("r%d.bin", i), FileSize: size})
			if judge("relayed commit", err) {
				committed.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()

	won := int64(len(granted)) + committed.Load()
	if won*size > quota {
		t.Fatalf("%d grants and %d relayed commits of %d bytes passed a %d-byte quota", len(granted), committed.Load(), size, quota)
	}
	if won+refused.Load() != grants+relayed {
		t.Fatalf("%d passed and %d refused of %d", won, refused.Load(), grants+relayed)
	}
	// Every grant is good for its upload.
	for i, g := range granted {
		put(t, g.UploadURL, body)
		if _, err := h.files.Commit(h.ctx(alice), filev1.CommitRequest{ObjectName: g.ObjectName, FileName: fmt.Sprintf("g%d.bin", i), FileSize: size}); err != nil {
			t.Fatalf("commit of a granted upload: %v", err)
		}
	}
	st, err := h.files.Stats(h.ctx(alice))
	if err != nil || st.TotalSize != won*size {
		t.Fatalf("stored %+v, %v; want %d bytes", st, err, won*size)
	}
	// Nothing the losers reserved is left behind: the rest of the quota
	// is grantable, and not a byte more.
	if left := quota - won*size; left > 0 {
		if _, err := h.files.UploadURL(h.ctx(alice), filev1.UploadURLRequest{FileName: "rest.bin", FileSize: left}); err != nil {
			t.Fatalf("grant of the %d bytes left: %v", left, err)
		}
	}
	_, err = h.files.UploadURL(h.ctx(alice), filev1.UploadURLRequest{FileName: "more.bin", FileSize: 1})
	testkit.WantField(t, err, rpcerr.TooLarge, "file_size")
	t.Logf("%d grants and %d relayed commits passed, %d refused", len(granted), committed.Load(), refused.Load())
}

// A URL that expired without a commit leaves an object nobody records;
// the sweep removes it once the grace after the URL (as long again) has
// passed, and gives the quota it held back. A committed upload is kept.
func TestUncommittedUploadsAreSwept(t *testing.T) {
	h := start(t, func(c *app.Config) {
		c.UserQuotaBytes = 100
		c.UploadURLTTL = config.Duration(time.Second)
		c.MultipartSweepInterval = config.Duration(20 * time.Millisecond)
	})
	body := bytes.Repeat([]byte("s"), 60)
	abandoned, err := h.files.UploadURL(h.ctx(alice), filev1.UploadURLRequest{FileName: "left.bin", FileSize: 60})
	if err != nil {
		t.Fatal(err)
	}
	put(t, abandoned.UploadURL, body)
	_, err = h.files.UploadURL(h.ctx(alice), filev1.UploadURLRequest{FileName: "more.bin", FileSize: 41})
	testkit.WantField(t, err, rpcerr.TooLarge, "file_size")
	kept := h.upload(alice, "kept.bin", "application/octet-stream", bytes.Repeat([]byte("k"), 40))

	testkit.Eventually(t, 30*time.Second, func() error {
		if h.objectExists(abandoned.ObjectName) {
			return errors.New("the uncommitted upload was not removed")
		}
		return nil
	})
	_, err = h.files.Commit(h.ctx(alice), filev1.CommitRequest{ObjectName: abandoned.ObjectName, FileName: "left.bin", FileSize: 60})
	testkit.WantCode(t, err, rpcerr.NotFound)
	if !h.objectExists(kept.FilePath) {
		t.Fatal("the sweep removed a committed upload")
	}
	if _, err := h.files.UploadURL(h.ctx(alice), filev1.UploadURLRequest{FileName: "again.bin", FileSize: 60}); err != nil {
		t.Fatalf("the swept upload's 60 bytes are not free again: %v", err)
	}
}
