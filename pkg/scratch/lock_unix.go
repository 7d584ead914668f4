//go:build unix

package scratch

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
)

type lockState int

const (
	lockUnknown lockState = iota
	lockHeld
	lockFree
)

// lockDir creates dir's lock file and holds an exclusive lock on it until
// the returned file is closed or the process ends.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// probeLock tries to take the lock at path. A free lock stays taken until
// release, so two sweepers never both decide a directory is dead while its
// owner could still be starting.
func probeLock(path string) (lockState, func()) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		// No lock file: a directory being set up, or one this package did
		// not make.
		return lockUnknown, func() {}
	}
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	switch {
	case err == nil:
		return lockFree, func() { f.Close() }
	case errors.Is(err, syscall.EWOULDBLOCK):
		f.Close()
		return lockHeld, func() {}
	}
	f.Close()
	return lockUnknown, func() {}
}
