package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// FerretOptions configures StartFerretDB.
type FerretOptions struct {
	// Dir holds the SQLite files, one per database. It must be absolute;
	// it is created if missing.
	Dir string
	// Addr is the listen address; default 127.0.0.1:0 (a free port).
	Addr string
	// Logger receives FerretDB's errors. Only ERROR and above are passed
	// on: lower levels dump whole wire messages. Nil discards everything.
	Logger *slog.Logger
	// PostgreSQLURL, when set, stores the documents in that PostgreSQL
	// database instead of SQLite files under Dir. FerretDB's SQLite
	// backend answers every filter but a bare {_id} by decoding each
	// document of the collection in Go, so there every user's lookups
	// slow down with all users' data; its PostgreSQL backend pushes
	// field equality down to SQL, as MongoDB answers it from indexes.
	PostgreSQLURL string
}

// FerretDB is a running in-process FerretDB speaking the MongoDB wire
// protocol over SQLite files.
type FerretDB struct {
	uri    string
	cancel context.CancelFunc
	done   chan error
}

// StartFerretDB starts FerretDB with the SQLite handler and returns once its
// port accepts connections. It runs until ctx is cancelled or Close is
// called.
func StartFerretDB(ctx context.Context, opts FerretOptions) (*FerretDB, error) {
	if opts.Dir == "" || !filepath.IsAbs(opts.Dir) {
		return nil, fmt.Errorf("start ferretdb: data dir %q must be an absolute path", opts.Dir)
	}
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("start ferretdb: create data dir: %w", err)
	}
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	// FerretDB tells clients its own address in hello replies, so give it
	// the real port rather than ":0".
	addr, err := freeTCPAddr(addr)
	if err != nil {
		return nil, fmt.Errorf("start ferretdb: %w", err)
	}
	logger := slog.New(slog.DiscardHandler)
	if opts.Logger != nil {
		logger = slog.New(minLevelHandler{next: opts.Logger.Handler(), min: slog.LevelError})
	}
	fcfg := &ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: addr},
		Handler:  "sqlite",
		// FerretDB needs a directory URI ending in a slash.
		SQLiteURL: "file:" + filepath.ToSlash(opts.Dir) + "/",
		Logger:    logger,
	}
	if opts.PostgreSQLURL != "" {
		fcfg.Handler, fcfg.SQLiteURL, fcfg.PostgreSQLURL = "postgresql", "", opts.PostgreSQLURL
	}
	fdb, err := ferretdb.New(fcfg)
	if err != nil {
		return nil, fmt.Errorf("start ferretdb on %s: %w", addr, err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	f := &FerretDB{uri: fdb.MongoDBURI(), cancel: cancel, done: make(chan error, 1)}
	go func() {
		err := fdb.Run(runCtx)
		if err == nil {
			err = errors.New("ferretdb stopped")
		}
		f.done <- err
		close(f.done)
	}()
	if err := waitTCP(addr, 10*time.Second, f.done); err != nil {
		f.Close()
		return nil, fmt.Errorf("start ferretdb: %w", err)
	}
	return f, nil
}

// URI is the MongoDB connection string, mongodb://127.0.0.1:port/.
func (f *FerretDB) URI() string { return f.uri }

// Close stops FerretDB and waits until its listener, connections and
// SQLite files are closed. FerretDB lets connections that are still open
// finish for up to 3 seconds, so disconnect clients first for a fast stop.
// It is safe to call more than once.
func (f *FerretDB) Close() {
	f.cancel()
	for range f.done {
	}
}

// minLevelHandler drops records below min before they reach next.
type minLevelHandler struct {
	next slog.Handler
	min  slog.Level
}

func (h minLevelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.next.Enabled(ctx, l)
}

func (h minLevelHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.next.Handle(ctx, r)
}

func (h minLevelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevelHandler{next: h.next.WithAttrs(attrs), min: h.min}
}

func (h minLevelHandler) WithGroup(name string) slog.Handler {
	return minLevelHandler{next: h.next.WithGroup(name), min: h.min}
}
