// Package scratch gives a process its own working directory under a root
// that other processes share: other instances on the same disk, and earlier
// runs of this one that died without cleaning up (kill -9, out of memory,
// power loss). It removes what such processes left behind, at start and
// periodically, and never what a live one is still using.
//
// Each process works in root/instance-<host>-<pid>-<random> and holds an
// exclusive flock on a lock file in it for as long as it runs. The kernel
// drops the lock when the process dies, however it dies, so a directory
// whose lock can be taken belongs to no running process. That proof is only
// as good as the file system's locks: across hosts (a DATA_DIR on NFS) a
// lock may not be visible to every host. So a directory is removed whole
// only when its lock is free and it was made on this host; a free directory
// of another host, or one where locks are not supported, loses only the
// entries older than the longest job (Options.JobTimeout plus a margin),
// which belong to no running job whatever the locks say. Per-instance directories
// rather than age alone let a restarted instance reclaim a crashed run's
// gigabytes at once instead of after the longest job's time.
package scratch

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultInterval is how often Run sweeps when Options.Interval is zero.
const DefaultInterval = 10 * time.Minute

// ageMargin is added to Options.JobTimeout: a job past its timeout still
// takes a moment to notice the cancellation and remove its entry.
const ageMargin = 10 * time.Minute

// Options configure Open.
type Options struct {
	// JobTimeout is the longest a job may run, and so keep an entry.
	// Entries older than this and a margin belong to no running job.
	// Required.
	JobTimeout time.Duration
	// Interval is the time between periodic sweeps; default
	// DefaultInterval.
	Interval time.Duration
	// Logger receives what was removed and what could not be; nil
	// discards it.
	Logger *slog.Logger
}

// Space is this process's directory under a shared root.
type Space struct {
	root string
	dir  string
	host string
	lock *os.File // nil where locks are not supported
	opts Options
	log  *slog.Logger

	stop      chan struct{}
	sweepDone chan struct{}
	closeOnce sync.Once
	closeErr  error
}

const (
	instancePrefix = "instance-"
	lockName       = ".lock"
)

// Open makes this process's directory under root, locks it and sweeps root
// once, so what a crashed earlier run left is gone before new work starts;
// then it sweeps every Options.Interval until Close.
func Open(root string, o Options) (*Space, error) {
	if o.JobTimeout <= 0 {
		return nil, errors.New("scratch: JobTimeout is required")
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("scratch: %w", err)
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("scratch: make %s: %w", root, err)
	}
	host := hostLabel()
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	dir := filepath.Join(root, instancePrefix+host+"-"+strconv.Itoa(os.Getpid())+"-"+hex.EncodeToString(suffix))
	// Locked under a name sweeps treat as an ordinary young entry, then
	// renamed: a sweep never sees this instance's directory unlocked.
	tmp, err := os.MkdirTemp(root, ".starting-")
	if err != nil {
		return nil, fmt.Errorf("scratch: make a directory in %s: %w", root, err)
	}
	lock, err := lockDir(tmp)
	if err == nil {
		err = os.Rename(tmp, dir)
	}
	if err != nil {
		if lock != nil {
			lock.Close()
		}
		_ = os.RemoveAll(tmp)
		return nil, fmt.Errorf("scratch: set up %s: %w", dir, err)
	}
	s := &Space{root: root, dir: dir, host: host, lock: lock, opts: o, log: log,
		stop: make(chan struct{}), sweepDone: make(chan struct{})}
	s.Sweep()
	go s.sweepPeriodically()
	return s, nil
}

// Dir is this process's directory; jobs make their own entries in it.
func (s *Space) Dir() string { return s.dir }

func (s *Space) sweepPeriodically() {
	defer close(s.sweepDone)
	tick := time.NewTicker(s.opts.Interval)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
			s.Sweep()
		}
	}
}

// Close stops the periodic sweeps, removes this process's directory and
// releases its lock. Call it once no job uses the directory any more;
// later calls do nothing.
func (s *Space) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.sweepDone
		s.closeErr = os.RemoveAll(s.dir)
		if s.lock != nil {
			s.closeErr = errors.Join(s.closeErr, s.lock.Close())
		}
	})
	return s.closeErr
}

// Sweep removes from root what no running job uses and reports how many
// entries it removed.
func (s *Space) Sweep() int {
	entries, err := os.ReadDir(s.root)
	if err != nil {
		s.log.Warn("scratch sweep: list directory", "dir", s.root, "error", err)
		return 0
	}
	cutoff := time.Now().Add(-s.opts.JobTimeout - ageMargin)
	removed := 0
	for _, e := range entries {
		path := filepath.Join(s.root, e.Name())
		switch {
		case path == s.dir:
			// A job whose own clean-up failed.
			removed += s.removeOlder(path, cutoff, "stale entry of this instance")
			// The directory must exist for the next job even if an
			// operator or another host's sweep removed it.
			_ = os.MkdirAll(s.dir, 0o700)
		case e.IsDir() && strings.HasPrefix(e.Name(), instancePrefix):
			removed += s.sweepInstance(path, e.Name(), cutoff)
		default:
			// Left by a version that worked in root directly.
			if stale(e, cutoff) {
				removed += s.remove(path, "stale entry")
			}
		}
	}
	if removed > 0 {
		s.log.Info("scratch swept", "dir", s.root, "removed", removed)
	}
	return removed
}

// sweepInstance handles another process's directory.
func (s *Space) sweepInstance(path, name string, cutoff time.Time) int {
	state, release := probeLock(filepath.Join(path, lockName))
	defer release()
	switch {
	case state == lockHeld:
		return 0
	case state == lockFree && strings.HasPrefix(name, instancePrefix+s.host+"-"):
		return s.remove(path, "directory of a process that is gone")
	}
	// Another host's directory, or no working locks: only age proves an
	// entry dead.
	n := s.removeOlder(path, cutoff, "stale entry of another instance")
	left, err := os.ReadDir(path)
	if err == nil && onlyLock(left) {
		if info, err := os.Stat(path); err == nil && info.ModTime().Before(cutoff) {
			// Not RemoveAll: an entry made meanwhile by a live owner makes
			// this fail instead of vanishing.
			_ = os.Remove(filepath.Join(path, lockName))
			if os.Remove(path) == nil {
				n++
			}
		}
	}
	return n
}

// removeOlder removes the entries of dir older than cutoff, except the
// lock file.
func (s *Space) removeOlder(dir string, cutoff time.Time, why string) int {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		if e.Name() != lockName && stale(e, cutoff) {
			n += s.remove(filepath.Join(dir, e.Name()), why)
		}
	}
	return n
}

func (s *Space) remove(path, why string) int {
	if err := os.RemoveAll(path); err != nil {
		s.log.Warn("scratch sweep: remove", "path", path, "reason", why, "error", err)
		return 0
	}
	s.log.Info("scratch sweep: removed", "path", path, "reason", why)
	return 1
}

// stale reports an entry last changed before cutoff. A directory's time
// moves whenever an entry in it is made or removed, so it is never earlier
// than the job that made it started.
func stale(e os.DirEntry, cutoff time.Time) bool {
	info, err := e.Info()
	return err == nil && info.ModTime().Before(cutoff)
}

func onlyLock(entries []os.DirEntry) bool {
	return len(entries) == 0 || len(entries) == 1 && entries[0].Name() == lockName
}

// hostLabel is the host name as it may appear in a directory name.
func hostLabel() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "unknown"
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_':
			return r
		}
		return '_'
	}, h)
}
