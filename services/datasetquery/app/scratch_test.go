package app_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A conversion killed mid-run leaves its work directory (the full source
// copy) under _scratch. The next start removes what no running job can
// still use: here entries older than the longest conversion
// (DATASET_CONVERT_TIMEOUT) left by an older version and by an instance of
// another host; the directory of a killed instance of this host goes at
// once (pkg/scratch's tests kill one for real).
func TestStartRemovesScratchNoRunningConversionUses(t *testing.T) {
	in := newInfra(t)
	dir := t.TempDir()
	scratch := filepath.Join(dir, "_scratch")
	old := time.Now().Add(-2 * time.Hour)
	leave := func(path string, mtime time.Time) string {
		t.Helper()
		if err := os.MkdirAll(path, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(path, "source.csv"), make([]byte, 64<<10), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return path
	}
	olderVersion := leave(filepath.Join(scratch, "convert-ds1-1234"), old)
	otherHost := leave(filepath.Join(scratch, "instance-otherhost-77-0badc0de", "convert-ds2-5678"), old)
	running := leave(filepath.Join(scratch, "convert-ds3-9999"), time.Now())

	in.run(t, dir)
	e := in.env(t)
	waitInstances(t, e.nc, 1)

	for _, gone := range []string{olderVersion, otherHost} {
		if _, err := os.Stat(gone); !os.IsNotExist(err) {
			t.Errorf("leftover %s: %v, want it removed at start", gone, err)
		}
	}
	if _, err := os.Stat(running); err != nil {
		t.Errorf("young work directory (maybe a running job of an older instance): %v", err)
	}
}
