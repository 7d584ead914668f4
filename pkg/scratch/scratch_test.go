package scratch

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const helperRootEnv = "SCRATCH_TEST_HELPER_ROOT"

// TestHelperProcess is not a test: run as a subprocess, it opens a Space
// under the given root, starts a "conversion" in it and waits to be killed.
func TestHelperProcess(t *testing.T) {
	root := os.Getenv(helperRootEnv)
	if root == "" {
		return
	}
	s, err := Open(root, Options{JobTimeout: 15 * time.Minute})
	if err != nil {
		os.Exit(2)
	}
	job, err := os.MkdirTemp(s.Dir(), "convert-ds1-")
	if err != nil {
		os.Exit(3)
	}
	if err := os.WriteFile(filepath.Join(job, "source.xlsx"), make([]byte, 1<<20), 0o600); err != nil {
		os.Exit(4)
	}
	os.Stdout.WriteString(job + "\n")
	select {}
}

// startKilledConversion runs a process that works in root, kills it with
// SIGKILL mid-job and returns the job directory it left.
func startKilledConversion(t *testing.T, root string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperRootEnv+"="+root)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		t.Fatalf("helper process: %v", err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	return strings.TrimSpace(line)
}

func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return err == nil
}

// The issue #11 leak: kill -9 during a conversion leaves the source copy.
// The next start removes it at once, while another live instance sharing
// the root keeps its running job.
func TestOpenRemovesWhatAKilledProcessLeftAndKeepsLiveWork(t *testing.T) {
	root := t.TempDir()
	live, err := Open(root, Options{JobTimeout: 15 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	liveJob, err := os.MkdirTemp(live.Dir(), "convert-ds2-")
	if err != nil {
		t.Fatal(err)
	}

	leftover := startKilledConversion(t, root)
	if !exists(t, filepath.Join(leftover, "source.xlsx")) {
		t.Fatalf("the killed process left no source copy in %s", leftover)
	}

	restarted, err := Open(root, Options{JobTimeout: 15 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer restarted.Close()
	if exists(t, filepath.Dir(leftover)) {
		t.Fatalf("the killed process's directory %s survived the next start", filepath.Dir(leftover))
	}
	if !exists(t, liveJob) {
		t.Fatalf("the live instance's running job %s was removed", liveJob)
	}

	// A periodic sweep of either instance leaves the other alone too.
	if n := live.Sweep(); n != 0 || !exists(t, restarted.Dir()) {
		t.Fatalf("sweep removed %d entries; restarted instance's directory kept: %v", n, exists(t, restarted.Dir()))
	}
	if err := restarted.Close(); err != nil || exists(t, restarted.Dir()) {
		t.Fatalf("close: %v; directory kept: %v", err, exists(t, restarted.Dir()))
	}
}

// What no lock can vouch for goes by age: entries of an older version in
// the root, stale entries of this instance, and those of another host's
// instance (whose lock may not be visible here) are removed once older than
// the longest job, younger ones are kept.
func TestSweepRemovesByAgeWhatNoLockCovers(t *testing.T) {
	root := t.TempDir()
	old := time.Now().Add(-2 * time.Hour)
	mk := func(path string, mtime time.Time) string {
		t.Helper()
		if err := os.MkdirAll(path, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(path, "part.parquet"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return path
	}
	legacyOld := mk(filepath.Join(root, "convert-ds3-111"), old)
	legacyNew := mk(filepath.Join(root, "convert-ds4-222"), time.Now())
	legacyFile := filepath.Join(root, "ds5-empty.parquet")
	if err := os.WriteFile(legacyFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(legacyFile, old, old); err != nil {
		t.Fatal(err)
	}
	// Another host's instance, its lock free as seen from here.
	other := filepath.Join(root, instancePrefix+"otherhost-1-abcd")
	otherOld := mk(filepath.Join(other, "convert-ds6-333"), old)
	otherNew := mk(filepath.Join(other, "convert-ds7-444"), time.Now())
	if err := os.WriteFile(filepath.Join(other, lockName), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// Another host's instance that has been idle and empty for long.
	idle := filepath.Join(root, instancePrefix+"otherhost-2-ef01")
	if err := os.MkdirAll(idle, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(idle, lockName), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(idle, old, old); err != nil {
		t.Fatal(err)
	}

	s, err := Open(root, Options{JobTimeout: 15 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, gone := range []string{legacyOld, legacyFile, otherOld, idle} {
		if exists(t, gone) {
			t.Errorf("%s survived the start sweep", gone)
		}
	}
	for _, kept := range []string{legacyNew, otherNew} {
		if !exists(t, kept) {
			t.Errorf("young entry %s was removed", kept)
		}
	}

	// This instance's own leak (a job whose clean-up failed) goes by age
	// in the periodic sweep.
	ownOld := mk(filepath.Join(s.Dir(), "export-ds8-555"), old)
	ownNew := mk(filepath.Join(s.Dir(), "export-ds9-666"), time.Now())
	if n := s.Sweep(); n != 1 || exists(t, ownOld) || !exists(t, ownNew) {
		t.Fatalf("sweep removed %d; old kept %v, young kept %v", n, exists(t, ownOld), exists(t, ownNew))
	}
}

func TestOpenRequiresJobTimeout(t *testing.T) {
	if _, err := Open(t.TempDir(), Options{}); err == nil {
		t.Fatal("Open without JobTimeout succeeded")
	}
}
