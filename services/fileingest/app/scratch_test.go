package app_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nonefinity/backend/contracts/filev1"
	"github.com/nonefinity/backend/services/fileingest/app"
)

// leaveScratch writes a spooled workbook into another instance's scratch
// directory under root, as a killed instance leaves it, last changed at
// mtime.
func leaveScratch(t *testing.T, root, instance string, mtime time.Time) string {
	t.Helper()
	dir := filepath.Join(root, instance)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".lock"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "fileingest-spool-123.zip")
	if err := os.WriteFile(path, make([]byte, 64<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	return path
}

// Spooled workbooks of a killed instance do not stay in FILE_TMP_DIR for
// good: the next start removes those older than the longest processing run
// (FILE_PROCESS_TIMEOUT); younger ones may belong to a live instance on
// another host and stay.
func TestStartRemovesSpoolFilesNoRunningJobUses(t *testing.T) {
	tmp := t.TempDir()
	root := filepath.Join(tmp, "nonefinity-fileingest")
	stale := leaveScratch(t, root, "instance-otherhost-4242-0badc0de", time.Now().Add(-2*time.Hour))
	young := leaveScratch(t, root, "instance-otherhost-4243-00c0ffee", time.Now())

	h := start(t, func(c *app.Config) { c.TempDir = tmp })

	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale spool file %s: %v, want it removed at start", stale, err)
	}
	if _, err := os.Stat(young); err != nil {
		t.Fatalf("young spool file of a possibly live instance: %v", err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 {
		t.Fatalf("scratch root holds %d entries, want the two others' and this instance's", len(entries))
	}

	// A workbook is processed in this instance's directory and leaves
	// nothing behind there.
	sub := h.outcomes(alice)
	f := h.upload(alice, "book.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", twoSheets(t))
	if got := h.waitOutcome(sub, alice, f.ID); got.Status != filev1.StatusReady {
		t.Fatalf("processed workbook: %s %q", got.Status, got.Error)
	}
	for _, e := range entries {
		if e.Name() == filepath.Base(filepath.Dir(stale)) || e.Name() == filepath.Base(filepath.Dir(young)) {
			continue
		}
		left, err := os.ReadDir(filepath.Join(root, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if len(left) != 1 || left[0].Name() != ".lock" {
			t.Fatalf("this instance's scratch directory after processing holds %v", left)
		}
	}
}
