package testkit

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// startWorkDir is the working directory the test binary started in (go
// test runs it in the package directory). It is read at package
// initialisation because starting S3 later moves the process elsewhere.
var startWorkDir, startWorkDirErr = os.Getwd()

// WorkDir returns the directory the test binary started in, i.e. the
// package directory under go test, even after S3 has changed the process
// working directory.
func WorkDir() string {
	if startWorkDirErr != nil {
		panic(fmt.Sprintf("testkit: working directory unknown: %v", startWorkDirErr))
	}
	return startWorkDir
}

// Testdata returns the absolute path of name under the package's testdata
// directory. Use it instead of a relative "testdata/..." path, which breaks
// once S3 has been started.
func Testdata(name string) string {
	return filepath.Join(WorkDir(), "testdata", name)
}

// tempDirForBinary makes a directory under os.TempDir() for a server that
// lives as long as the test binary. There is no hook that runs when the
// binary ends, so instead each new one removes what earlier, now dead, test
// binaries left behind: the owner's pid is part of the name.
func tempDirForBinary(kind string) (string, error) {
	prefix := "testkit-" + kind + "-"
	removeDeadBinaryDirs(prefix)
	return os.MkdirTemp("", prefix+strconv.Itoa(os.Getpid())+"-")
}

func removeDeadBinaryDirs(prefix string) {
	entries, err := os.ReadDir(os.TempDir())
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || !e.IsDir() {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid <= 0 || processAlive(pid) {
			continue
		}
		// Best effort: a directory that cannot be removed now is retried
		// by the next test binary.
		_ = os.RemoveAll(filepath.Join(os.TempDir(), e.Name()))
	}
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
