package duck_test

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/nonefinity/backend/pkg/fairshare"
	"github.com/nonefinity/backend/pkg/logx"
	"github.com/nonefinity/backend/pkg/objstore"
	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/datasetquery/app"
	"github.com/nonefinity/backend/services/datasetquery/internal/datasets"
	"github.com/nonefinity/backend/services/datasetquery/internal/duck"
)

const (
	alice = "65f2a1b3c4d5e6f708192a01"
	bob   = "65f2a1b3c4d5e6f708192a02"
)

// catalog is a fixed list of ready tables per user, standing in for the
// datasets collection (tested in the store and component tests).
type catalog struct {
	mu     sync.Mutex
	tables map[string][]datasets.Table
	reads  map[string]int
}

func (c *catalog) ReadyTables(_ context.Context, owner string) ([]datasets.Table, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads[owner]++
	return append([]datasets.Table(nil), c.tables[owner]...), nil
}

func (c *catalog) readsOf(owner string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads[owner]
}

func (c *catalog) set(owner string, tables ...datasets.Table) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tables[owner] = tables
}

type env struct {
	m     *duck.Manager
	cat   *catalog
	store *objstore.Store
	root  string
}

func newEnv(t *testing.T, cfg duck.Config) env {
	t.Helper()
	b := testkit.S3(t)
	st, err := objstore.New(objstore.Config{Endpoint: b.Endpoint, AccessKey: b.AccessKey, SecretKey: b.SecretKey, Bucket: b.Bucket})
	if err != nil {
		t.Fatal(err)
	}
	cat := &catalog{tables: map[string][]datasets.Table{}, reads: map[string]int{}}
	cfg = withServiceDefaults(cfg)
	cfg.Root = t.TempDir()
	m, err := duck.NewManager(cfg, cat, st, logx.Discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return env{m: m, cat: cat, store: st, root: cfg.Root}
}

// withServiceDefaults fills the fields a test leaves zero as datasetquery
// does from an empty environment (its Settings' envDefault tags).
func withServiceDefaults(cfg duck.Config) duck.Config {
	d := app.Config{Settings: app.DefaultSettings()}.Sessions()
	cfg.InstanceTTL = cmp.Or(cfg.InstanceTTL, d.InstanceTTL)
	cfg.CleanupInterval = cmp.Or(cfg.CleanupInterval, d.CleanupInterval)
	cfg.QueryTimeout = cmp.Or(cfg.QueryTimeout, d.QueryTimeout)
	cfg.MemoryLimit = cmp.Or(cfg.MemoryLimit, d.MemoryLimit)
	cfg.MaxTempDirectorySize = cmp.Or(cfg.MaxTempDirectorySize, d.MaxTempDirectorySize)
	cfg.Threads = cmp.Or(cfg.Threads, d.Threads)
	cfg.MaxConcurrentQueries = cmp.Or(cfg.MaxConcurrentQueries, d.MaxConcurrentQueries)
	cfg.MaxResultBytes = cmp.Or(cfg.MaxResultBytes, d.MaxResultBytes)
	cfg.CacheTTL = cmp.Or(cfg.CacheTTL, d.CacheTTL)
	return cfg
}

// putParquet writes the rows of a SELECT as Parquet with a plain DuckDB and
// stores it under key; it returns the part.
func (e env) putParquet(t *testing.T, key, selectSQL string) datasets.Part {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	path := filepath.Join(t.TempDir(), "part.parquet")
	if _, err := db.Exec("COPY (" + selectSQL + ") TO '" + path + "' (FORMAT parquet, COMPRESSION zstd)"); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	info, err := e.store.Put(context.Background(), key, f, fi.Size(), "application/vnd.apache.parquet")
	if err != nil {
		t.Fatal(err)
	}
	return datasets.Part{Key: key, ETag: info.ETag, Size: fi.Size()}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestQueryReadsUsersDatasetsWithJSONSafeValues(t *testing.T) {
	e := newEnv(t, duck.Config{})
	part := e.putParquet(t, "users/"+alice+"/datasets/d1/part-0.parquet", `
		SELECT i AS id, ['books','toys'][1 + i % 2] AS category, i * 1.5 AS amount,
		       TIMESTAMP '2024-02-29 23:59:59' + INTERVAL (i) SECOND AS sold_at
		FROM range(1000) t(i)`)
	e.cat.set(alice, datasets.Table{Name: "sales", DatasetID: "d1", Parts: []datasets.Part{part}})
	ctx := ctxT(t)

	res, err := e.m.Query(ctx, alice, "SELECT category, sum(amount) AS total, count(*) AS n FROM Sales GROUP BY 1 ORDER BY 1", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 2 || cell(t, res, 0, "category") != "books" || res.Truncated {
		t.Fatalf("rows %+v truncated %v", res.Rows, res.Truncated)
	}
	if res.Columns[1].Type != "DECIMAL(38,1)" || cell(t, res, 0, "total") != "374250.0" {
		t.Errorf("decimal sum: %+v %v", res.Columns[1], cell(t, res, 0, "total"))
	}

	res, err = e.m.Query(ctx, alice, `SELECT sold_at, DATE '2024-02-29' AS d, 170141183460469231731687303715884105727::HUGEINT AS h,
		'\x00\x01\x02'::BLOB AS raw, 'nan'::DOUBLE AS nan, 'inf'::FLOAT AS inf, 0.10::DECIMAL(4,2) AS dec, [DATE '2024-01-02'] AS dl
		FROM sales ORDER BY id LIMIT 1`, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"sold_at": "2024-02-29T23:59:59", "d": "2024-02-29", "h": "170141183460469231731687303715884105727",
		"raw": "AAEC", "nan": nil, "inf": nil, "dec": "0.10"}
	for k, v := range want {
		if got := cell(t, res, 0, k); got != v {
			t.Errorf("%s = %#v, want %#v", k, got, v)
		}
	}
	for _, q := range []string{
		"WITH c AS (SELECT category FROM sales) SELECT count(*) FROM c",
		"VALUES (1, 'a')",
		"FROM sales LIMIT 1",
		"PIVOT sales ON category IN ('books', 'toys') USING sum(amount)",
		"DESCRIBE sales",
		"SUMMARIZE sales",
		"SHOW TABLES",
		"-- a comment\n(SELECT 1)",
	} {
		if r, err := e.m.Query(ctx, alice, q, 10); err != nil || len(r.Rows) == 0 {
			t.Errorf("%q: %v, %d rows", q, err, len(r.Rows))
		}
	}
	if dl, ok := cell(t, res, 0, "dl").([]any); !ok || len(dl) != 1 || dl[0] != "2024-01-02" {
		t.Errorf("date list %#v", cell(t, res, 0, "dl"))
	}
}

func TestRowCapAndByteCapTruncate(t *testing.T) {
	e := newEnv(t, duck.Config{MaxResultBytes: 10_000})
	ctx := ctxT(t)
	res, err := e.m.Query(ctx, alice, "SELECT * FROM range(50)", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 10 || !res.Truncated {
		t.Fatalf("row cap: %d rows truncated %v", len(res.Rows), res.Truncated)
	}
	res, err = e.m.Query(ctx, alice, "SELECT * FROM range(5)", 10)
	if err != nil || len(res.Rows) != 5 || res.Truncated {
		t.Fatalf("under cap: %v %d %v", err, len(res.Rows), res.Truncated)
	}
	res, err = e.m.Query(ctx, alice, "SELECT repeat('x', 1000) AS s FROM range(100)", 100)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Truncated || len(res.Rows) == 0 || len(res.Rows) >= 10 {
		t.Fatalf("byte cap: %d rows truncated %v", len(res.Rows), res.Truncated)
	}
}

// Every way out of the sandbox is refused with a client error, and the
// session keeps working afterwards.
func TestIsolation(t *testing.T) {
	e := newEnv(t, duck.Config{QueryTimeout: 2 * time.Second, MemoryLimit: "64MB", MaxTempDirectorySize: "32MB", Threads: 1})
	ctx := ctxT(t)
	alicePart := e.putParquet(t, "users/"+alice+"/datasets/da/part-0.parquet", "SELECT 1 AS secret")
	bobPart := e.putParquet(t, "users/"+bob+"/datasets/db/part-0.parquet", "SELECT 42 AS bobs_secret")
	e.cat.set(alice, datasets.Table{Name: "mine", DatasetID: "da", Parts: []datasets.Part{alicePart}})
	e.cat.set(bob, datasets.Table{Name: "bobs", DatasetID: "db", Parts: []datasets.Part{bobPart}})
	// Bob's session caches his Parquet under the same root.
	if _, err := e.m.Query(ctx, bob, "SELECT * FROM bobs", 10); err != nil {
		t.Fatal(err)
	}
	var bobFile string
	_ = filepath.WalkDir(filepath.Join(duck.UserDir(e.root, bob), "cache"), func(p string, d os.DirEntry, _ error) error {
		if d != nil && !d.IsDir() && strings.HasSuffix(p, ".parquet") {
			bobFile = p
		}
		return nil
	})
	if bobFile == "" {
		t.Fatal("bob's cache file not found")
	}

	for _, tc := range []struct {
		name, sql string
		want      error // nil: any *QueryError
	}{
		{"read_csv of a system file", "SELECT * FROM read_csv('/etc/passwd')", nil},
		{"read_text of a system file", "SELECT * FROM read_text('/etc/hostname')", nil},
		{"another user's cache file", "SELECT * FROM read_parquet('" + bobFile + "')", nil},
		{"another user's dataset", "SELECT * FROM bobs", nil},
		{"attach", "ATTACH '/tmp/x.duckdb' AS x", datasets.ErrNotReadOnly},
		{"install", "INSTALL httpfs", datasets.ErrNotReadOnly},
		{"load", "LOAD httpfs", datasets.ErrNotReadOnly},
		{"set", "SET enable_external_access = true", datasets.ErrNotReadOnly},
		{"reset", "RESET lock_configuration", datasets.ErrNotReadOnly},
		{"copy to", "COPY (SELECT 1) TO '/tmp/out.csv'", datasets.ErrNotReadOnly},
		{"export", "EXPORT DATABASE '/tmp/exp'", datasets.ErrNotReadOnly},
		{"pragma", "PRAGMA database_list", datasets.ErrNotReadOnly},
		{"pragma in a comment's shadow", "/* SELECT */ PRAGMA show_tables", datasets.ErrNotReadOnly},
		{"create", "CREATE TABLE t AS SELECT 1", datasets.ErrNotReadOnly},
		{"insert", "INSERT INTO mine VALUES (2)", datasets.ErrNotReadOnly},
		{"update", "UPDATE mine SET secret = 2", datasets.ErrNotReadOnly},
		{"drop view", "DROP VIEW mine", datasets.ErrNotReadOnly},
		{"call", "CALL pragma_version()", datasets.ErrNotReadOnly},
		{"multiple statements", "SELECT 1; COPY (SELECT 1) TO '/tmp/out2.csv'", datasets.ErrMultipleStatements},
		{"multiple selects", "SELECT 1; SELECT 2", datasets.ErrMultipleStatements},
		{"syntax error", "SELEC 1", nil},
		{"empty", "  ", datasets.ErrEmptyQuery},
		{"only a comment", "-- SELECT 1", datasets.ErrEmptyQuery},
		{"only semicolons", ";;", datasets.ErrEmptyQuery},
		{"pivot then copy", "PIVOT mine ON secret; COPY (SELECT 1) TO '/tmp/out3.csv'", datasets.ErrMultipleStatements},
		{"never-ending recursive CTE", "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r", nil},
		{"memory-exhausting cross join", "SELECT a.range AS x, b.range AS y, repeat('x', 100) AS pad FROM range(100000) a, range(100000) b ORDER BY pad, x DESC", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Twice: the second time the guard answers from its verdict cache.
			var err error
			for range 2 {
				_, err = e.m.Query(ctx, alice, tc.sql, 10)
				var qe *datasets.QueryError
				switch {
				case err == nil:
					t.Fatal("query was allowed")
				case tc.want != nil && !errors.Is(err, tc.want):
					t.Fatalf("error %v, want %v", err, tc.want)
				case tc.want == nil && !errors.As(err, &qe) && !errors.Is(err, datasets.ErrQueryTimeout):
					t.Fatalf("error %T %v, want a query error or timeout", err, err)
				}
			}
			if strings.Contains(err.Error(), e.root) {
				t.Errorf("error leaks a path: %v", err)
			}
			res, err := e.m.Query(ctx, alice, "SELECT secret FROM mine", 10)
			if err != nil || len(res.Rows) != 1 {
				t.Fatalf("session unusable afterwards: %v %+v", err, res.Rows)
			}
		})
	}
	for _, f := range []string{"/tmp/out.csv", "/tmp/out2.csv", "/tmp/out3.csv", "/tmp/x.duckdb"} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s was written", f)
		}
	}
}

func TestConcurrentQueriesPerUserAreCapped(t *testing.T) {
	e := newEnv(t, duck.Config{MaxConcurrentQueries: 1, QueryTimeout: 3 * time.Second, Threads: 1})
	ctx := ctxT(t)
	if _, err := e.m.Query(ctx, alice, "SELECT 1", 1); err != nil {
		t.Fatal(err)
	}
	slow := make(chan error, 1)
	go func() {
		_, err := e.m.Query(ctx, alice, "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r", 1)
		slow <- err
	}()
	testkit.Eventually(t, 10*time.Second, func() error {
		if e.m.Stats().Running == 0 {
			return errors.New("the slow query never took the only slot")
		}
		return nil
	})
	_, err := e.m.Query(ctx, alice, "SELECT 1", 1)
	if !errors.Is(err, datasets.ErrTooManyQueries) {
		t.Fatalf("second query: %v, want ErrTooManyQueries", err)
	}
	if _, err := e.m.Query(ctx, bob, "SELECT 1", 1); err != nil {
		t.Fatalf("another user is not limited: %v", err)
	}
	if err := <-slow; !errors.Is(err, datasets.ErrQueryTimeout) {
		t.Fatalf("slow query: %v, want ErrTimeout", err)
	}
	if _, err := e.m.Query(ctx, alice, "SELECT 1", 1); err != nil {
		t.Fatal(err)
	}
}

func TestSessionsExpireAndDatasetsFollowTheCatalog(t *testing.T) {
	e := newEnv(t, duck.Config{InstanceTTL: time.Millisecond})
	ctx := ctxT(t)
	p1 := e.putParquet(t, "users/"+alice+"/datasets/d1/part-0.parquet", "SELECT 1 AS v")
	e.cat.set(alice, datasets.Table{Name: "t1", DatasetID: "d1", Parts: []datasets.Part{p1}})
	if res, err := e.m.Query(ctx, alice, "SELECT v FROM t1", 10); err != nil || cell(t, res, 0, "v") != float64(1) {
		t.Fatalf("%v %+v", err, res.Rows)
	}
	// Rewritten on "another instance": new object, new ETag in the catalog.
	p2 := e.putParquet(t, "users/"+alice+"/datasets/d1/part-0.parquet", "SELECT 2 AS v")
	e.cat.set(alice, datasets.Table{Name: "renamed", DatasetID: "d1", Parts: []datasets.Part{p2}})
	if res, err := e.m.Query(ctx, alice, "SELECT v FROM renamed", 10); err != nil || cell(t, res, 0, "v") != float64(2) {
		t.Fatalf("after rewrite: %v %+v", err, res.Rows)
	}
	if _, err := e.m.Query(ctx, alice, "SELECT v FROM t1", 10); err == nil {
		t.Fatal("old name still answers after the rename")
	}
	time.Sleep(5 * time.Millisecond) // let the 1ms TTL pass; not a sync wait
	if st := e.m.Stats(); st.Total != 1 || st.Expired != 1 {
		t.Fatalf("stats %+v", st)
	}
	if n := e.m.CloseExpired(); n != 1 {
		t.Fatalf("closed %d", n)
	}
	if st := e.m.Stats(); st.Total != 0 {
		t.Fatalf("stats after cleanup %+v", st)
	}
	if err := e.m.DropUser(alice); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(duck.UserDir(e.root, alice)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("user directory left: %v", err)
	}
}

// TestIdleCachesAreRemoved: the cache of a user without a session for
// CacheTTL is removed; an open session's cache and the service's own
// directories are not, and a removed cache is fetched again when needed.
func TestIdleCachesAreRemoved(t *testing.T) {
	e := newEnv(t, duck.Config{InstanceTTL: time.Millisecond, CacheTTL: time.Hour})
	ctx := ctxT(t)
	for _, u := range []string{alice, bob} {
		p := e.putParquet(t, "users/"+u+"/datasets/d1/part-0.parquet", "SELECT 7 AS v")
		e.cat.set(u, datasets.Table{Name: "t", DatasetID: "d1", Parts: []datasets.Part{p}})
		if _, err := e.m.Query(ctx, u, "SELECT v FROM t", 1); err != nil {
			t.Fatal(err)
		}
	}
	scratch := filepath.Join(e.root, "_scratch")
	if err := os.MkdirAll(scratch, 0o700); err != nil {
		t.Fatal(err)
	}
	age := func(dir string) {
		t.Helper()
		old := time.Now().Add(-2 * time.Hour)
		if err := os.Chtimes(dir, old, old); err != nil {
			t.Fatal(err)
		}
	}
	exists := func(dir string) bool {
		_, err := os.Stat(dir)
		return err == nil
	}

	age(duck.UserDir(e.root, alice)) // open session: kept
	if n := e.m.RemoveIdleCaches(); n != 0 {
		t.Fatalf("removed %d caches of open sessions", n)
	}
	time.Sleep(5 * time.Millisecond) // let the 1ms session TTL pass; not a sync wait
	if n := e.m.CloseExpired(); n != 2 {
		t.Fatalf("closed %d sessions", n)
	}
	if n := e.m.RemoveIdleCaches(); n != 0 {
		t.Fatalf("removed %d caches of sessions that just closed", n)
	}
	age(duck.UserDir(e.root, alice))
	age(scratch)
	if n := e.m.RemoveIdleCaches(); n != 1 {
		t.Fatalf("removed %d idle caches, want alice's", n)
	}
	if exists(duck.UserDir(e.root, alice)) || !exists(filepath.Join(duck.UserDir(e.root, bob), "cache")) || !exists(scratch) {
		t.Fatal("wrong directories removed")
	}
	if res, err := e.m.Query(ctx, alice, "SELECT v FROM t", 1); err != nil || cell(t, res, 0, "v") != float64(7) {
		t.Fatalf("query after the cache was removed: %v %+v", err, res.Rows)
	}
}

// cell decodes the value of column col in row i of a result, as a client
// decoding the JSON would see it (numbers as float64).
func cell(t *testing.T, res datasets.Result, i int, col string) any {
	t.Helper()
	for j, c := range res.Columns {
		if c.Name == col {
			var v any
			if err := json.Unmarshal(res.Rows[i][j], &v); err != nil {
				t.Fatalf("row %d column %s: %v", i, col, err)
			}
			return v
		}
	}
	t.Fatalf("no column %s in %+v", col, res.Columns)
	return nil
}

// The cores are shared between users, not requests: with one unit of CPU,
// a user whose statement holds it waits (here: times out) for a second
// one, while another user's statement runs at once.
func TestCPUIsSharedBetweenUsers(t *testing.T) {
	pool := fairshare.New(1)
	e := newEnv(t, duck.Config{MaxConcurrentQueries: 2, QueryTimeout: 2 * time.Second, Threads: 1, CPU: pool})
	ctx := ctxT(t)
	const endless = "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r"
	slow := make(chan error, 1)
	go func() {
		_, err := e.m.Query(ctx, alice, endless, 1)
		slow <- err
	}()
	testkit.Eventually(t, 10*time.Second, func() error {
		if pool.Held(alice) == 0 {
			return errors.New("alice's statement never took its unit")
		}
		return nil
	})
	if pool.Held(alice) != 1 {
		t.Fatal("alice's statement never took its unit")
	}
	// bob holds nothing: he runs although alice fills the pool.
	if res, err := e.m.Query(ctx, bob, "SELECT 42 AS n", 1); err != nil || cell(t, res, 0, "n") == nil {
		t.Fatalf("bob's statement beside alice's: %+v, %v", res, err)
	}
	// alice's second statement waits for her own first one, which runs
	// longer than the second's deadline allows: it times out unrun.
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := e.m.Query(short, alice, "SELECT 1", 1); !errors.Is(err, datasets.ErrQueryTimeout) {
		t.Fatalf("alice's second statement: %v, want ErrTimeout (waited for her first)", err)
	}
	if err := <-slow; !errors.Is(err, datasets.ErrQueryTimeout) {
		t.Fatalf("slow statement: %v, want ErrTimeout", err)
	}
	if got := pool.Held(alice) + pool.Held(bob); got != 0 {
		t.Fatalf("%d units still held after every statement ended", got)
	}
}

// A session is opened outside the manager's lock: while alice's first
// query is held opening her session, bob's queries, the stats and the
// sweeps go on, and alice's second query waits for her one session
// rather than opening another.
func TestOpeningSessionHoldsOnlyItsUser(t *testing.T) {
	e := newEnv(t, duck.Config{})
	ctx := ctxT(t)
	reached, release := make(chan struct{}), make(chan struct{})
	duck.HoldOpenings(e.m, func(userID string) {
		if userID == alice {
			close(reached)
			<-release
		}
	})
	errs := make(chan error, 2)
	go func() {
		_, err := e.m.Query(ctx, alice, "SELECT 1", 10)
		errs <- err
	}()
	select {
	case <-reached:
	case <-ctx.Done():
		t.Fatal("alice's session never started opening")
	}
	go func() {
		_, err := e.m.Query(ctx, alice, "SELECT 2", 10)
		errs <- err
	}()
	if res, err := e.m.Query(ctx, bob, "SELECT 42 AS answer", 10); err != nil || len(res.Rows) != 1 {
		t.Fatalf("bob's query while alice's session opens: %+v, %v", res, err)
	}
	if st := e.m.Stats(); st.Total != 1 {
		t.Fatalf("stats while alice's session opens: %+v, want bob's session only", st)
	}
	e.m.CloseExpired()
	e.m.RemoveIdleCaches()
	close(release)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("alice's query: %v", err)
		}
	}
	if st := e.m.Stats(); st.Total != 2 {
		t.Fatalf("stats after: %+v, want one session each", st)
	}
}
