// Package duck runs users' SQL on DuckDB: one locked-down session per user
// with their datasets as views over locally cached Parquet, a guard that
// admits exactly one read-only statement (decided by DuckDB's parser), and
// results converted to JSON-safe values. It also converts, casts and exports
// files in private databases. The Manager is the datasets core's Engine.
package duck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nonefinity/backend/pkg/objstore"
	"github.com/nonefinity/backend/services/datasetquery/internal/datasets"
)

// Catalog lists a user's ready datasets; the database is the truth. With a
// ChangeFeed (TrackChanges) a session keeps its copy until an event says
// the user's datasets changed.
type Catalog interface {
	ReadyTables(ctx context.Context, ownerID string) ([]datasets.Table, error)
}

// Objects reads dataset objects from object storage.
type Objects interface {
	Get(ctx context.Context, key string) (io.ReadCloser, objstore.ObjectInfo, error)
	GetVersion(ctx context.Context, key, etag string) (io.ReadCloser, error)
}

// Stats describes this instance's sessions; Running counts the queries
// executing now.
type Stats struct {
	Total, Active, Expired, Running int
}

// Manager owns every session of this instance.
type Manager struct {
	cfg     Config
	catalog Catalog
	objects Objects
	log     *slog.Logger
	guard   *sqlGuard
	changes ChangeFeed
	spares  *sparePool
	// changeCount counts the changes applied from the feed (any user).
	changeCount atomic.Uint64

	mu       sync.Mutex
	sessions map[string]*session
	// opening holds the users whose session is being opened, each with a
	// channel closed when the opening ends. A session is opened outside
	// mu (creating a database and locking it down takes a while), so one
	// user's first query holds neither other users' queries nor the
	// sweeps; the same user's other requests wait for it.
	opening map[string]chan struct{}
	closed  bool
	// openHook, set by tests, runs as a session starts opening, outside mu.
	openHook func(userID string)
}

// NewManager prepares the session root. Call Run to sweep expired sessions
// and Close at shutdown.
func NewManager(cfg Config, catalog Catalog, objects Objects, log *slog.Logger) (*Manager, error) {
	cfg = cfg.withDefaults()
	if cfg.Root == "" {
		return nil, errors.New("duck: session root directory is empty")
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("duck: session root: %w", err)
	}
	cfg.Root = root
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("duck: create session root: %w", err)
	}
	guard, err := newSQLGuard()
	if err != nil {
		return nil, fmt.Errorf("duck: %w", err)
	}
	spares, err := newSparePool(cfg, filepath.Join(root, "_spare"), max(cfg.SpareSessions, 0), log)
	if err != nil {
		guard.close()
		return nil, fmt.Errorf("duck: %w", err)
	}
	return &Manager{cfg: cfg, catalog: catalog, objects: objects, log: log, guard: guard, spares: spares, sessions: map[string]*session{}, opening: map[string]chan struct{}{}}, nil
}

// Close closes every session; the manager refuses work afterwards.
func (m *Manager) Close() {
	m.mu.Lock()
	sessions := m.sessions
	m.sessions = map[string]*session{}
	m.closed = true
	var openings []chan struct{}
	for _, done := range m.opening {
		openings = append(openings, done)
	}
	m.mu.Unlock()
	// A session being opened closes itself when it finds the manager
	// closed, before its done channel closes; wait for that before the
	// spares go.
	for _, done := range openings {
		<-done
	}
	for _, s := range sessions {
		if err := s.close(false); err != nil {
			m.log.Warn("close DuckDB session", "error", err)
		}
	}
	m.spares.close()
	m.guard.close()
}

// Stats counts sessions; an expired one is past its TTL but not swept yet.
func (m *Manager) Stats() Stats {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	st := Stats{Total: len(m.sessions)}
	for _, s := range m.sessions {
		if s.expired(now, m.cfg.InstanceTTL) {
			st.Expired++
		}
		st.Running += int(s.querying.Load())
	}
	st.Active = st.Total - st.Expired
	return st
}

// DropUser closes the user's session (waiting for its running statements)
// and removes its database and Parquet cache.
func (m *Manager) DropUser(userID string) error {
	if err := checkUserID(userID); err != nil {
		return err
	}
	m.mu.Lock()
	// A session being opened is waited for, so that its directory is
	// not removed under it.
	for wait := m.opening[userID]; wait != nil; wait = m.opening[userID] {
		m.mu.Unlock()
		<-wait
		m.mu.Lock()
	}
	s := m.sessions[userID]
	delete(m.sessions, userID)
	m.mu.Unlock()
	var err error
	if s != nil {
		err = s.close(true)
	}
	dirs := []string{userDir(m.cfg.Root, userID)}
	if userID[0] != '_' {
		// Named after the user id by earlier versions.
		dirs = append(dirs, filepath.Join(m.cfg.Root, userID))
	}
	for _, d := range dirs {
		if rerr := os.RemoveAll(d); rerr != nil {
			err = errors.Join(err, fmt.Errorf("remove session directory: %w", rerr))
		}
	}
	return err
}

// ForgetDataset drops the cached copy of a dataset in the user's session on
// this instance (deleted or rewritten); the next query re-reads the catalog.
func (m *Manager) ForgetDataset(userID, datasetID string) {
	if checkUserID(userID) != nil {
		return
	}
	m.mu.Lock()
	s := m.sessions[userID]
	m.mu.Unlock()
	if s == nil {
		_ = os.RemoveAll(filepath.Join(userDir(m.cfg.Root, userID), "cache", safeName(datasetID)))
		return
	}
	s.catalog.invalidate()
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	// Views over the removed files would fail; drop them so the next query
	// recreates them from the catalog.
	for name := range s.views {
		_ = s.exec(context.Background(), "DROP VIEW IF EXISTS "+sqlIdent(name))
		delete(s.views, name)
	}
	_ = os.RemoveAll(filepath.Join(s.cacheDir, safeName(datasetID)))
}

var userIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// checkUserID keeps the user id usable as a directory name: it comes from a
// header, and must never walk out of the session root.
func checkUserID(id string) error {
	if !userIDPattern.MatchString(id) {
		return errors.New("duck: invalid user id")
	}
	return nil
}

// hasSession reports whether userID has a session on this instance now.
func (m *Manager) hasSession(userID string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sessions[userID] != nil
}

// acquire returns the user's session, opened if needed, counted as running
// so the sweep leaves it alone until release.
func (m *Manager) acquire(ctx context.Context, userID string) (*session, func(), error) {
	if err := checkUserID(userID); err != nil {
		return nil, nil, err
	}
	s, opened, err := m.sessionFor(ctx, userID)
	if err != nil {
		return nil, nil, err
	}
	return s, func() {
		s.touch()
		s.running.Add(-1)
		if opened {
			m.spares.wake()
		}
	}, nil
}

var errClosed = errors.New("duck: manager is closed")

// sessionFor returns the user's session counted as running, opening it if
// there is none, and whether this call opened it.
func (m *Manager) sessionFor(ctx context.Context, userID string) (*session, bool, error) {
	for {
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return nil, false, errClosed
		}
		if s := m.sessions[userID]; s != nil {
			s.running.Add(1)
			s.touch()
			m.mu.Unlock()
			return s, false, nil
		}
		wait := m.opening[userID]
		if wait == nil {
			done := make(chan struct{})
			m.opening[userID] = done
			m.mu.Unlock()
			s, err := m.open(ctx, userID, done)
			return s, err == nil, err
		}
		m.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
}

// open opens the user's session outside mu and adds it, counted as
// running; done is closed when it is added, has failed, or was closed
// again because the manager closed meanwhile.
func (m *Manager) open(ctx context.Context, userID string, done chan struct{}) (*session, error) {
	defer close(done)
	if m.openHook != nil {
		m.openHook(userID)
	}
	s, err := openSession(ctx, m.cfg, userID, m.spares.take())
	m.mu.Lock()
	delete(m.opening, userID)
	closed := m.closed
	if err == nil && !closed {
		m.sessions[userID] = s
		s.running.Add(1)
		s.touch()
	}
	m.mu.Unlock()
	switch {
	case err != nil:
		return nil, err
	case closed:
		if cerr := s.close(false); cerr != nil {
			m.log.Warn("close DuckDB session opened during shutdown", "error", cerr)
		}
		return nil, errClosed
	}
	return s, nil
}
