package duck

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// session is one user's DuckDB database on this instance: an on-disk
// database file under <root>/<user_id>/, the Parquet cache next to it, and
// the views that name the user's datasets. Nothing outside the cache
// directory is readable from SQL once it is open.
type session struct {
	userID   string
	dir      string
	cacheDir string
	db       *sql.DB
	slots    chan struct{}

	lastUsed atomic.Int64 // unix nanoseconds
	running  atomic.Int32 // requests using the session (the sweep waits)
	querying atomic.Int32 // queries holding a slot

	syncMu sync.Mutex        // one view sync at a time
	views  map[string]string // lower-case table name → files the view reads

	catalog catalogEntry // the user's ready tables, while the change feed vouches for them
}

// openSession creates a fresh database for userID (a previous one left by
// a crash is removed: views are rebuilt from the catalog anyway) and locks
// it down.
func openSession(ctx context.Context, cfg Config, userID string) (*session, error) {
	dir := filepath.Join(cfg.Root, userID)
	s := &session{
		userID:   userID,
		dir:      dir,
		cacheDir: filepath.Join(dir, "cache"),
		slots:    make(chan struct{}, cfg.MaxConcurrentQueries),
		views:    map[string]string{},
	}
	for _, d := range []string{s.cacheDir, filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create session directory: %w", err)
		}
	}
	dbPath := filepath.Join(dir, "session.duckdb")
	for _, leftover := range []string{dbPath, dbPath + ".wal"} {
		if err := os.Remove(leftover); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("remove stale session database: %w", err)
		}
	}
	connector, err := duckdb.NewConnector(dbPath, nil)
	if err != nil {
		return nil, fmt.Errorf("open session database: %w", err)
	}
	s.db = sql.OpenDB(connector)
	// One connection per query slot plus one for view maintenance.
	s.db.SetMaxOpenConns(cfg.MaxConcurrentQueries + 1)
	s.db.SetMaxIdleConns(cfg.MaxConcurrentQueries + 1)
	if err := s.lockDown(ctx, cfg); err != nil {
		_ = s.db.Close()
		return nil, err
	}
	s.touch()
	return s, nil
}

// lockDown applies the limits and closes every door to the outside: no
// file outside the cache directory, no extension install or autoload, and
// lock_configuration so SQL cannot undo any of it. Order matters:
// allowed_directories must be set before external access is disabled.
func (s *session) lockDown(ctx context.Context, cfg Config) error {
	settings := []string{
		fmt.Sprintf("SET GLOBAL memory_limit = %s", sqlString(cfg.MemoryLimit)),
		fmt.Sprintf("SET GLOBAL threads = %d", cfg.Threads),
		fmt.Sprintf("SET GLOBAL temp_directory = %s", sqlString(filepath.Join(s.dir, "tmp"))),
		fmt.Sprintf("SET GLOBAL max_temp_directory_size = %s", sqlString(cfg.MaxTempDirectorySize)),
		"SET GLOBAL autoinstall_known_extensions = false",
		"SET GLOBAL autoload_known_extensions = false",
		fmt.Sprintf("SET GLOBAL allowed_directories = [%s]", sqlString(s.cacheDir+string(filepath.Separator))),
		"SET GLOBAL enable_external_access = false",
		"SET GLOBAL lock_configuration = true",
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect session database: %w", err)
	}
	defer conn.Close()
	for _, stmt := range settings {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("configure session (%s): %w", strings.SplitN(stmt, "=", 2)[0], err)
		}
	}
	return nil
}

func (s *session) touch() { s.lastUsed.Store(time.Now().UnixNano()) }

func (s *session) expired(now time.Time, ttl time.Duration) bool {
	return now.Sub(time.Unix(0, s.lastUsed.Load())) > ttl
}

// close closes the database (waiting for running statements) and removes
// its files; the Parquet cache stays for the next session unless purge.
func (s *session) close(purge bool) error {
	err := s.db.Close()
	for _, f := range []string{"session.duckdb", "session.duckdb.wal"} {
		_ = os.Remove(filepath.Join(s.dir, f))
	}
	_ = os.RemoveAll(filepath.Join(s.dir, "tmp"))
	if purge {
		if rerr := os.RemoveAll(s.dir); rerr != nil {
			err = errors.Join(err, fmt.Errorf("remove session directory: %w", rerr))
		}
	}
	return err
}

// sqlString quotes s as a SQL string literal.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// sqlIdent quotes s as a SQL identifier.
func sqlIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// viewFor reports whether the session has a view for a table name.
func (s *session) viewFor(name string) (string, bool) {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	files, ok := s.views[strings.ToLower(name)]
	return files, ok
}
