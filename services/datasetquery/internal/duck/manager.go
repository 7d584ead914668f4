// Package duck runs users' SQL on DuckDB: one locked-down session per user
// with their datasets as views over locally cached Parquet, a guard that
// admits exactly one read-only statement (decided by DuckDB's parser), and
// results converted to JSON-safe values. It also converts, casts and exports
// files in private databases. The Manager is the datasets core's Engine.
package duck

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/nonefinity/backend/pkg/demote"
	"github.com/nonefinity/backend/pkg/fairshare"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/pkg/objstore"
	"github.com/nonefinity/backend/services/datasetquery/internal/datasets"
)

// Config sets where sessions live and what they may use.
type Config struct {
	// Root holds one directory per user (DUCKDB_TEMP_FOLDER).
	Root string
	// InstanceTTL closes a session this long after its last use;
	// CleanupInterval is how often the sweep looks.
	InstanceTTL, CleanupInterval time.Duration
	// QueryTimeout interrupts a statement that runs longer.
	QueryTimeout time.Duration
	// MemoryLimit and MaxTempDirectorySize are DuckDB sizes ("1GB").
	MemoryLimit, MaxTempDirectorySize string
	// Threads per session (datasetquery turns DUCKDB_THREADS=0 into
	// DefaultThreads).
	Threads int
	// MaxConcurrentQueries per user; more at once are refused.
	MaxConcurrentQueries int
	// CPU shares the cores between users: every statement (and, through
	// the same pool, every conversion) runs as one of its units. Nil
	// gives a pool of its own (NewCPUPool).
	CPU *fairshare.Pool
	// MaxResultBytes caps the encoded rows of one reply; the result is cut
	// (Truncated) before it would exceed it.
	MaxResultBytes int
	// SpareSessions is how many databases are kept open ahead of new
	// sessions (negative: none).
	SpareSessions int
	// CacheTTL removes the Parquet cache of a user without a session on
	// this instance this long after the session closed, so a user who
	// does not come back does not keep disk space forever.
	CacheTTL time.Duration
	// CatalogMaxAge bounds how long a session trusts its copy of the
	// user's catalog with a live change feed: the safety net for a change
	// whose event was never published.
	CatalogMaxAge time.Duration
}

// withDefaults fills the tuning that no variable sets. Every other field
// comes from datasetquery's Settings, whose envDefault tags are the one
// place its defaults are written.
func (c Config) withDefaults() Config {
	if c.SpareSessions == 0 {
		c.SpareSessions = 1
	}
	if c.CatalogMaxAge <= 0 {
		c.CatalogMaxAge = 30 * time.Second
	}
	if c.CPU == nil {
		c.CPU = NewCPUPool(c.Threads)
	}
	return c
}

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
	closed   bool
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
	return &Manager{cfg: cfg, catalog: catalog, objects: objects, log: log, guard: guard, spares: spares, sessions: map[string]*session{}}, nil
}

// Config is the effective configuration (defaults applied).
func (m *Manager) Config() Config { return m.cfg }

// Run closes expired sessions every CleanupInterval until ctx is done.
func (m *Manager) Run(ctx context.Context) {
	t := time.NewTicker(m.cfg.CleanupInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n := m.CloseExpired(); n > 0 {
				m.log.Info("closed expired DuckDB sessions", "count", n)
			}
			if n := m.RemoveIdleCaches(); n > 0 {
				m.log.Info("removed Parquet caches of idle users", "count", n)
			}
		}
	}
}

// Close closes every session; the manager refuses work afterwards.
func (m *Manager) Close() {
	m.mu.Lock()
	sessions := m.sessions
	m.sessions = map[string]*session{}
	m.closed = true
	m.mu.Unlock()
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

// CloseExpired closes the sessions past their TTL that run nothing and
// returns how many it closed.
func (m *Manager) CloseExpired() int {
	now := time.Now()
	var victims []*session
	m.mu.Lock()
	for id, s := range m.sessions {
		if s.running.Load() == 0 && s.expired(now, m.cfg.InstanceTTL) {
			victims = append(victims, s)
			delete(m.sessions, id)
		}
	}
	m.mu.Unlock()
	for _, s := range victims {
		if err := s.close(false); err != nil {
			m.log.Warn("close expired DuckDB session", "user_id", s.userID, "error", err)
		}
	}
	return len(victims)
}

// RemoveIdleCaches removes the directories (Parquet cache) of users who
// have had no session on this instance for CacheTTL and returns how many it
// removed. A closing session sets its directory's modification time to the
// moment it closed.
func (m *Manager) RemoveIdleCaches() int {
	entries, err := os.ReadDir(m.cfg.Root)
	if err != nil {
		m.log.Warn("list DuckDB session directories", "error", err)
		return 0
	}
	cutoff := time.Now().Add(-m.cfg.CacheTTL)
	var idle []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, "_removing-") { // left by a crash mid-removal
			_ = os.RemoveAll(filepath.Join(m.cfg.Root, name))
			continue
		}
		if !e.IsDir() || checkUserID(name) != nil || name[0] == '_' {
			continue // _scratch and other service directories
		}
		if info, err := e.Info(); err == nil && !info.ModTime().After(cutoff) {
			idle = append(idle, name)
		}
	}
	// Moved aside under the lock, so a session opening now starts from an
	// empty directory rather than one being deleted under it.
	var trash []string
	m.mu.Lock()
	open := make(map[string]bool, len(m.sessions))
	for _, s := range m.sessions {
		open[filepath.Base(s.dir)] = true
	}
	for _, name := range idle {
		if open[name] {
			continue
		}
		t := filepath.Join(m.cfg.Root, "_removing-"+name)
		if err := os.Rename(filepath.Join(m.cfg.Root, name), t); err != nil {
			m.log.Warn("remove idle Parquet cache", "directory", name, "error", err)
			continue
		}
		trash = append(trash, t)
	}
	m.mu.Unlock()
	removed := 0
	for _, t := range trash {
		if err := os.RemoveAll(t); err != nil {
			m.log.Warn("remove idle Parquet cache", "directory", filepath.Base(t), "error", err)
			continue
		}
		removed++
	}
	return removed
}

// DropUser closes the user's session (waiting for its running statements)
// and removes its database and Parquet cache.
func (m *Manager) DropUser(userID string) error {
	if err := checkUserID(userID); err != nil {
		return err
	}
	m.mu.Lock()
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
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, nil, errors.New("duck: manager is closed")
	}
	s := m.sessions[userID]
	opened := false
	if s == nil {
		spare := m.spares.take()
		opened = true
		var err error
		s, err = openSession(ctx, m.cfg, userID, spare)
		if err != nil {
			return nil, nil, err
		}
		m.sessions[userID] = s
	}
	s.running.Add(1)
	s.touch()
	return s, func() {
		s.touch()
		s.running.Add(-1)
		if opened {
			m.spares.wake()
		}
	}, nil
}

// Query runs one read-only statement for userID and returns at most limit
// rows, with the errors datasets.Engine names (DuckDB's message, paths
// removed, in a *datasets.QueryError).
func (m *Manager) Query(ctx context.Context, userID, query string, limit int) (datasets.Result, error) {
	started := time.Now()
	v, err := m.guard.inspect(ctx, query)
	if err != nil {
		return datasets.Result{}, m.queryError(err)
	}

	var pre *prefetch
	if !m.hasSession(userID) {
		// The query needs the catalog and its datasets' parts: fetch them
		// while the session opens.
		pre = m.startPrefetch(ctx, userID, v.names)
	}
	s, release, err := m.acquire(ctx, userID)
	if err != nil {
		return datasets.Result{}, err
	}
	defer release()
	select {
	case s.slots <- struct{}{}:
		s.querying.Add(1)
		defer func() { s.querying.Add(-1); <-s.slots }()
	default:
		return datasets.Result{}, datasets.ErrTooManyQueries
	}

	ctx, cancel, timeout := m.statementContext(ctx)
	defer cancel()
	// Waiting for a share of the cores counts against the statement's
	// time: a user who keeps the machine busy waits for their own work.
	cpu, err := m.cfg.CPU.Acquire(ctx, userID)
	if err != nil {
		return datasets.Result{}, m.runError(ctx, timeout, err)
	}
	defer cpu()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return datasets.Result{}, m.runError(ctx, timeout, err)
	}
	defer conn.Close()

	if err := m.syncViews(ctx, s, v.names, false, pre); err != nil {
		return datasets.Result{}, m.runError(ctx, timeout, err)
	}

	var res datasets.Result
	runOnce := func() error {
		return conn.Raw(func(dc any) error {
			var rerr error
			res, rerr = m.run(ctx, dc.(*duckdb.Conn), query, v.statements, limit)
			return rerr
		})
	}
	err = demote.After(demoteAfter, runOnce)
	if missing := missingTable(err); missing != "" {
		// The name extraction missed a reference (DESCRIBE t, SUMMARIZE t),
		// or the dataset is newer than the session's catalog copy: if it is
		// one of the user's datasets, load it and try once more.
		if serr := m.syncViews(ctx, s, []string{missing}, true, nil); serr != nil {
			return datasets.Result{}, m.runError(ctx, timeout, serr)
		}
		if _, ok := s.viewFor(missing); ok {
			err = demote.After(demoteAfter, runOnce)
		}
	}
	if err != nil {
		return datasets.Result{}, m.runError(ctx, timeout, err)
	}
	res.Elapsed = time.Since(started)
	return res, nil
}

// answerMargin keeps, of the caller's remaining time, a quarter and at most
// a second for the interrupted statement to stop and the reply to travel.
var answerMargin = natsx.Margin{Divisor: 4, Max: time.Second}

// statementContext bounds a statement by QueryTimeout and, sooner, by the
// caller's deadline less answerMargin (natsx.Budget). It returns the bound
// it applied.
func (m *Manager) statementContext(ctx context.Context) (context.Context, context.CancelFunc, time.Duration) {
	return natsx.WithBudget(ctx, m.cfg.QueryTimeout, answerMargin)
}

// run prepares the statement, checks its type and reads up to limit rows
// under the byte budget (see readBounded). statements is the guard's count
// for the text.
func (m *Manager) run(ctx context.Context, conn *duckdb.Conn, query string, statements, limit int) (datasets.Result, error) {
	prepared, err := conn.PrepareContext(ctx, query)
	if err != nil {
		return datasets.Result{}, err
	}
	stmt := prepared.(*duckdb.Stmt)
	defer stmt.Close()
	typ, err := stmt.StatementType()
	if err != nil {
		return datasets.Result{}, err
	}
	if !readOnlyStatement(typ) {
		return datasets.Result{}, datasets.ErrNotReadOnly
	}
	if stmt.NumInput() > 0 {
		return datasets.Result{}, &datasets.QueryError{Message: "query parameters ($1, ?) are not supported"}
	}
	if typ == duckdb.STATEMENT_TYPE_EXPLAIN {
		// A plan cannot be wrapped in a query; it is a few lines of text
		// about the statement, not rows of data.
		drows, err := stmt.QueryContext(ctx, nil)
		if err != nil {
			return datasets.Result{}, err
		}
		defer drows.Close()
		return m.readRows(drows, nil, limit, false)
	}
	cols, err := describeColumns(stmt)
	if err != nil {
		return datasets.Result{}, err
	}
	return m.readBounded(ctx, conn, query, cols, statements, limit)
}

// uniqueNames makes result column names usable as object keys: a repeated
// name gets a suffix ("a", "a_2").
func uniqueNames(cols []string) []string {
	seen := make(map[string]bool, len(cols))
	out := make([]string, len(cols))
	for i, c := range cols {
		name := c
		for k := 2; seen[name]; k++ {
			name = c + "_" + strconv.Itoa(k)
		}
		seen[name] = true
		out[i] = name
	}
	return out
}

var missingTablePattern = regexp.MustCompile(`Table with name ([A-Za-z_][A-Za-z0-9_]*) does not exist`)

// missingTable is the table name of a DuckDB "does not exist" error, or "".
func missingTable(err error) string {
	var de *duckdb.Error
	if err == nil || !errors.As(err, &de) {
		return ""
	}
	if m := missingTablePattern.FindStringSubmatch(de.Msg); m != nil {
		return m[1]
	}
	return ""
}

// runError classifies a failure while running a statement that was
// bounded by timeout.
func (m *Manager) runError(ctx context.Context, timeout time.Duration, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w after %s s", datasets.ErrQueryTimeout, strconv.FormatFloat(timeout.Round(100*time.Millisecond).Seconds(), 'f', -1, 64))
	}
	return m.queryError(err)
}

// queryError turns a DuckDB error into a *QueryError with paths removed;
// other errors pass unchanged.
func (m *Manager) queryError(err error) error {
	var qe *datasets.QueryError
	if errors.As(err, &qe) {
		return &datasets.QueryError{Message: datasets.ScrubPaths(qe.Message)}
	}
	var de *duckdb.Error
	if errors.As(err, &de) {
		return &datasets.QueryError{Message: datasets.ScrubPaths(de.Msg)}
	}
	if errors.Is(err, sql.ErrConnDone) {
		return fmt.Errorf("session closed: %w", err)
	}
	return err
}

// NewCPUPool is the pool statements and conversions share: CPUUnits
// capacity, and one user holds at most half of it (at least one unit), so
// another user's next statement or conversion finds a core free instead of
// competing with that user's for the same ones (running work cannot be
// taken back).
func NewCPUPool(threads int) *fairshare.Pool {
	units := CPUUnits(threads)
	return fairshare.New(units, fairshare.PerKey(max(1, units/2)))
}

// CPUUnits is how many statements of threads each the cores run at once
// (at least one): the capacity of the CPU pool.
func CPUUnits(threads int) int {
	return max(1, runtime.GOMAXPROCS(0)/max(threads, 1))
}

// DefaultThreads is a statement's share of the machine when none is
// configured: half its cores, at least one, so one user's statement never
// takes every core from the others.
func DefaultThreads() int { return max(1, runtime.GOMAXPROCS(0)/2) }
