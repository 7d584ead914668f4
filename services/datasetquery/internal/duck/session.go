package duck

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// session is one user's DuckDB database on this instance: an on-disk
// database file under the user's directory (userDir), the Parquet cache next to it, and
// the views that name the user's datasets. Nothing outside the cache
// directory is readable from SQL once it is open.
type session struct {
	userID   string
	dir      string
	cacheDir string
	db       *sql.DB
	file     *database // db's file: a spare's under the root, or in dir
	slots    chan struct{}

	lastUsed atomic.Int64 // unix nanoseconds
	running  atomic.Int32 // requests using the session (the sweep waits)
	querying atomic.Int32 // queries holding a slot

	syncMu sync.Mutex        // one view sync at a time
	views  map[string]string // lower-case table name → files the view reads

	catalog catalogEntry // the user's ready tables, while the change feed vouches for them
}

// openSession ties a database to userID, a spare when one is ready (else
// one opened now in the user's directory), and locks it down. The user's
// directory holds the Parquet cache and the spill files.
func openSession(ctx context.Context, cfg Config, userID string, spare *database) (*session, error) {
	dir := userDir(cfg.Root, userID)
	s := &session{
		userID:   userID,
		dir:      dir,
		cacheDir: filepath.Join(dir, "cache"),
		slots:    make(chan struct{}, cfg.MaxConcurrentQueries),
		views:    map[string]string{},
		file:     spare,
	}
	fail := func(err error) (*session, error) {
		if s.file != nil {
			_ = s.file.close()
		}
		return nil, err
	}
	if err := os.MkdirAll(s.cacheDir, 0o700); err != nil {
		return fail(fmt.Errorf("create session directory: %w", err))
	}
	if s.file == nil {
		f, err := openDatabase(ctx, cfg, filepath.Join(dir, "session.duckdb"))
		if err != nil {
			return nil, err
		}
		s.file = f
	}
	s.db = s.file.db
	if err := s.lockDown(ctx); err != nil {
		return fail(err)
	}
	s.touch()
	return s, nil
}

// userDir is the user's directory under root. Its name is a hash of the
// user id, not the id itself: DuckDB names the directory in settings,
// plans and messages, and a user id is not something to show.
func userDir(root, userID string) string {
	sum := sha256.Sum256([]byte("nonefinity duckdb session\x00" + userID))
	return filepath.Join(root, hex.EncodeToString(sum[:16]))
}

// lockDown closes every door to the outside: no file outside the user's
// cache directory, and lock_configuration so SQL cannot undo any of it
// (the limits and the spill directory were set when the database was
// opened). Order matters: allowed_directories must be set before external
// access is disabled.
func (s *session) lockDown(ctx context.Context) error {
	settings := fmt.Sprintf(`SET GLOBAL allowed_directories = [%s];
		SET GLOBAL enable_external_access = false;
		SET GLOBAL lock_configuration = true`,
		sqlString(s.cacheDir+string(filepath.Separator)))
	if _, err := s.db.ExecContext(ctx, settings); err != nil {
		return fmt.Errorf("lock down session: %w", err)
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
	err := s.file.close()
	if !purge {
		// RemoveIdleCaches counts the cache's idle time from here.
		now := time.Now()
		_ = os.Chtimes(s.dir, now, now)
	}
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
