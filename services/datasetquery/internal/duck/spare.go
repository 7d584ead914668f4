package duck

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// database is one DuckDB database file and its handle.
type database struct {
	db   *sql.DB
	path string
}

// openDatabase creates a database file at path with the session limits
// that do not depend on the user, spilling to path.tmp; lockDown adds the
// rest.
func openDatabase(ctx context.Context, cfg Config, path string) (*database, error) {
	for _, leftover := range []string{path, path + ".wal", path + ".tmp"} {
		if err := os.RemoveAll(leftover); err != nil {
			return nil, fmt.Errorf("remove stale session database: %w", err)
		}
	}
	connector, err := duckdb.NewConnector(path, nil)
	if err != nil {
		return nil, fmt.Errorf("open session database: %w", err)
	}
	d := &database{db: sql.OpenDB(connector), path: path}
	// One connection per query slot plus one for view maintenance.
	d.db.SetMaxOpenConns(cfg.MaxConcurrentQueries + 1)
	d.db.SetMaxIdleConns(cfg.MaxConcurrentQueries + 1)
	settings := fmt.Sprintf(`SET GLOBAL memory_limit = %s;
		SET GLOBAL threads = %d;
		SET GLOBAL temp_directory = %s;
		SET GLOBAL max_temp_directory_size = %s;
		SET GLOBAL autoinstall_known_extensions = false;
		SET GLOBAL autoload_known_extensions = false`,
		sqlString(cfg.MemoryLimit), cfg.Threads, sqlString(path+".tmp"), sqlString(cfg.MaxTempDirectorySize))
	if _, err := d.db.ExecContext(ctx, settings); err != nil {
		d.close()
		return nil, fmt.Errorf("configure session database: %w", err)
	}
	return d, nil
}

// close closes the handle (waiting for running statements) and removes the
// file and the spill directory.
func (d *database) close() error {
	err := d.db.Close()
	for _, f := range []string{d.path, d.path + ".wal"} {
		_ = os.Remove(f)
	}
	_ = os.RemoveAll(d.path + ".tmp")
	return err
}

// sparePool keeps databases opened ahead of need: creating a DuckDB
// database costs several milliseconds (far more than a warm query), which
// would otherwise be paid by the first query of every session. A spare is
// tied to a user only when taken (lockDown), so it holds nothing of
// anyone. Each spare has also run a small aggregate over a Parquet file of
// the service's own: a database's first Parquet scan costs more than the
// next ones (measured 0.3-0.5 ms of a 1M-row group-by).
type sparePool struct {
	cfg    Config
	dir    string
	warmup string // the Parquet file spares scan once
	log    *slog.Logger
	ready  chan *database
	want   chan struct{}
	stop   chan struct{}
	done   sync.WaitGroup
}

// newSparePool removes the spares a previous process left in dir and
// starts keeping size spares there; size 0 keeps none. The first spare is
// ready when it returns, so an instance serves its first new user as fast
// as the next ones.
func newSparePool(cfg Config, dir string, size int, log *slog.Logger) (*sparePool, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("remove old spare sessions: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create spare session directory: %w", err)
	}
	p := &sparePool{cfg: cfg, dir: dir, warmup: filepath.Join(dir, "warmup.parquet"), log: log,
		ready: make(chan *database, size), want: make(chan struct{}, 1), stop: make(chan struct{})}
	if size > 0 {
		d, err := p.open(true)
		if err != nil {
			return nil, err
		}
		p.ready <- d
		p.done.Add(1)
		go p.fill()
		p.wake()
	}
	return p, nil
}

// take returns a spare, or nil when none is ready.
func (p *sparePool) take() *database {
	select {
	case d := <-p.ready:
		return d
	default:
		return nil
	}
}

// wake asks for the pool to be refilled. Callers wake it after the query
// that took a spare, so the new database is not built while that query
// competes for the same cores.
func (p *sparePool) wake() {
	select {
	case p.want <- struct{}{}:
	default:
	}
}

func (p *sparePool) fill() {
	defer p.done.Done()
	for {
		select {
		case <-p.stop:
			return
		case <-p.want:
		}
		for len(p.ready) < cap(p.ready) {
			d, err := p.open(false)
			if err != nil {
				p.log.Warn("open spare DuckDB session", "error", err)
				break
			}
			select {
			case p.ready <- d:
			case <-p.stop:
				_ = d.close()
				return
			}
		}
	}
}

// open opens a spare and warms it up; the first one writes the warm-up
// file.
func (p *sparePool) open(first bool) (*database, error) {
	ctx := context.Background()
	d, err := openDatabase(ctx, p.cfg, filepath.Join(p.dir, randomName()+".duckdb"))
	if err != nil {
		return nil, err
	}
	var stmts []string
	if first {
		stmts = append(stmts, fmt.Sprintf(`COPY (SELECT i AS id, 'c' || (i %% 10)::VARCHAR AS category, i / 7.0 AS amount,
			TIMESTAMP '2024-01-01' + INTERVAL (i) MINUTE AS stamp FROM range(50000) t(i)) TO %s (%s)`, sqlString(p.warmup), partFormat))
	}
	stmts = append(stmts, fmt.Sprintf("SELECT category, sum(amount), max(stamp) FROM read_parquet(%s) GROUP BY category", sqlString(p.warmup)))
	for _, stmt := range stmts {
		if _, err := d.db.ExecContext(ctx, stmt); err != nil {
			_ = d.close()
			return nil, fmt.Errorf("warm up session database: %w", err)
		}
	}
	return d, nil
}

// close stops refilling and closes the spares.
func (p *sparePool) close() {
	close(p.stop)
	p.done.Wait()
	for {
		select {
		case d := <-p.ready:
			_ = d.close()
		default:
			_ = os.RemoveAll(p.dir)
			return
		}
	}
}

func randomName() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
