package duck_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nonefinity/backend/services/datasetquery/internal/datasets"
	"github.com/nonefinity/backend/services/datasetquery/internal/duck"
)

// allocated runs fn and returns the bytes the Go heap allocated meanwhile
// (TotalAlloc counts every allocation, freed or not).
func allocated(t *testing.T, fn func()) uint64 {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// allocBound is what one bounded result may cost in Go: the 768 KiB
// budget several times over (scan, encode), far below the cells attacked.
const allocBound = 24 << 20

// A cell, a row or a list larger than the result budget stops the result
// (truncated) before Go scans it: SELECT repeat('x', 100000000) once
// allocated 1.7 GB in the service for one request.
func TestOversizedCellsAreNeverMaterialized(t *testing.T) {
	e := newEnv(t, duck.Config{})
	ctx := ctxT(t)
	if _, err := e.m.Query(ctx, alice, "SELECT 1", 1); err != nil { // session open, spare refilled
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, sql string
		rows      int // rows before the one that does not fit
	}{
		{"one 100 MB string", "SELECT repeat('x', 100000000) AS s", 0},
		{"one 100 MB blob", "SELECT repeat('x', 100000000)::BLOB AS b", 0},
		{"a 50 MB string after three small rows", "SELECT i, CASE WHEN i = 3 THEN repeat('x', 50000000) ELSE 'ok' END AS s FROM range(10) t(i) ORDER BY i", 3},
		// Not a constant: DuckDB folds a constant list slowly, as a list of values.
		{"a list of 20 million numbers", "SELECT range(i, 20000000) AS l FROM range(1) t(i)", 0},
		{"a list of long strings", "SELECT [repeat('x', 10000000), repeat('y', 10000000)] AS l", 0},
		{"a struct holding a long string", "SELECT {'id': 1, 'text': repeat('x', 30000000)} AS s", 0},
		{"a map holding long strings", "SELECT map(['k'], [repeat('x', 30000000)]) AS m", 0},
		{"many columns each under the budget", "SELECT " + strings.Repeat("repeat('x', 700000), ", 40) + "1 AS last", 0},
		{"rows adding up past the budget", "SELECT repeat('x', 100000) AS s FROM range(1000000)", 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var res datasets.Result
			var err error
			n := allocated(t, func() { res, err = e.m.Query(ctx, alice, tc.sql, 10_000) })
			if err != nil {
				t.Fatal(err)
			}
			if !res.Truncated || len(res.Rows) != tc.rows {
				t.Fatalf("%d rows, truncated %v; want %d rows, truncated", len(res.Rows), res.Truncated, tc.rows)
			}
			if n > allocBound {
				t.Fatalf("Go allocated %d MB for the query, want under %d MB", n>>20, allocBound>>20)
			}
			t.Logf("Go allocated %d KiB", n>>10)
		})
	}
	// What fits is still answered whole.
	res, err := e.m.Query(ctx, alice, "SELECT repeat('x', 100000) AS s, [1, 2, 3] AS l FROM range(3)", 100)
	if err != nil || res.Truncated || len(res.Rows) != 3 || len(res.Rows[0][0]) != 100002 || string(res.Rows[0][1]) != "[1,2,3]" {
		t.Fatalf("under the budget: %v truncated %v rows %d", err, res.Truncated, len(res.Rows))
	}
}

// The data browser's window reads rows the same way.
func TestWindowNeverMaterializesOversizedCells(t *testing.T) {
	e := newEnv(t, duck.Config{})
	ctx := ctxT(t)
	part := e.putParquet(t, "users/"+alice+"/datasets/dw/part-0.parquet",
		"SELECT i AS id, CASE WHEN i = 2 THEN repeat('x', 60000000) ELSE 'row ' || i END AS body FROM range(5) t(i) ORDER BY i")
	table := datasets.Table{Name: "docs", DatasetID: "dw", Parts: []datasets.Part{part}}
	e.cat.set(alice, table)
	if _, err := e.m.Window(ctx, alice, table, 0, 1); err != nil { // parts cached
		t.Fatal(err)
	}
	var res datasets.Result
	var err error
	n := allocated(t, func() { res, err = e.m.Window(ctx, alice, table, 0, 100) })
	if err != nil {
		t.Fatal(err)
	}
	if !res.Truncated || len(res.Rows) != 2 {
		t.Fatalf("%d rows, truncated %v; want the 2 rows before the long one", len(res.Rows), res.Truncated)
	}
	if n > allocBound {
		t.Fatalf("Go allocated %d MB for the window, want under %d MB", n>>20, allocBound>>20)
	}
	t.Logf("Go allocated %d KiB for the window", n>>10)
	res, err = e.m.Window(ctx, alice, table, 3, 100)
	if err != nil || res.Truncated || len(res.Rows) != 2 {
		t.Fatalf("window after the long row: %v truncated %v rows %d", err, res.Truncated, len(res.Rows))
	}
}

// TIME_NS once failed the whole query (duckdb-go cannot scan it) and UUIDs
// came back as base64 of their 16 bytes.
func TestTimeNSAndUUIDEncode(t *testing.T) {
	e := newEnv(t, duck.Config{})
	ctx := ctxT(t)
	const id = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
	res, err := e.m.Query(ctx, alice, `SELECT TIME_NS '12:34:56.123456789' AS t, TIME_NS '07:00:00' AS whole,
		'`+id+`'::UUID AS u, ['`+id+`'::UUID] AS ul, {'id': '`+id+`'::UUID, 'at': DATE '2024-02-29'} AS s,
		map(['`+id+`'::UUID], [1]) AS m, [TIME_NS '01:02:03.5'] AS tl`, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"t": `"12:34:56.123456789"`, "whole": `"07:00:00"`, "u": `"` + id + `"`, "ul": `["` + id + `"]`,
		"s": `{"at":"2024-02-29","id":"` + id + `"}`, "m": `{"` + id + `":1}`,
	}
	for i, c := range res.Columns {
		if w, ok := want[c.Name]; ok && string(res.Rows[0][i]) != w {
			t.Errorf("%s (%s) = %s, want %s", c.Name, c.Type, res.Rows[0][i], w)
		}
	}
	if res.Columns[0].Type != "TIME_NS" {
		t.Errorf("TIME_NS column reported as %q", res.Columns[0].Type)
	}
	var tl string
	if err := json.Unmarshal(res.Rows[0][6], &tl); err != nil || !strings.Contains(tl, "01:02:03.5") {
		t.Errorf("list of TIME_NS = %s (%v)", res.Rows[0][6], err)
	}
}

// PIVOT without an IN list is documented as allowed; DuckDB makes it two
// statements (the value list, then the SELECT), which the guard once took
// for a second statement of the user's.
func TestPivotWithoutInList(t *testing.T) {
	e := newEnv(t, duck.Config{})
	ctx := ctxT(t)
	part := e.putParquet(t, "users/"+alice+"/datasets/dp/part-0.parquet",
		"SELECT ['a','b','c'][1 + i % 3] AS y, i AS x FROM range(30) t(i)")
	e.cat.set(alice, datasets.Table{Name: "t", DatasetID: "dp", Parts: []datasets.Part{part}})
	for _, q := range []string{
		"PIVOT t ON y USING sum(x)",
		"PIVOT t ON y USING sum(x);",
		"pivot t on y using sum(x) -- by letter",
		"SELECT * FROM (PIVOT t ON y USING sum(x))",
		"WITH p AS (PIVOT t ON y USING sum(x)) SELECT a + b + c AS total FROM p",
		"UNPIVOT (PIVOT t ON y USING sum(x)) ON a, b, c INTO NAME k VALUE v",
	} {
		// Twice: the second answer comes from the guard's verdict cache.
		for range 2 {
			res, err := e.m.Query(ctx, alice, q, 10)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			if len(res.Rows) == 0 || res.Truncated {
				t.Fatalf("%s: %d rows", q, len(res.Rows))
			}
		}
	}
	res, err := e.m.Query(ctx, alice, "PIVOT t ON y USING sum(x)", 10)
	if err != nil || len(res.Columns) != 3 || strings.Trim(string(res.Rows[0][0]), `"`) != "135" {
		t.Fatalf("pivot answer: %v %+v %s", err, res.Columns, res.Rows)
	}
	for _, q := range []string{
		"SELECT 1; PIVOT t ON y USING sum(x)",
		"PIVOT t ON y USING sum(x); SELECT 1",
		"PIVOT t ON y USING sum(x); COPY (SELECT 1) TO '/tmp/pivot-escape.csv'",
		"COPY (SELECT 1) TO '/tmp/pivot-escape.csv'; PIVOT t ON y USING sum(x)",
		"CREATE TABLE u AS SELECT 1 AS y; PIVOT t ON y USING sum(x)",
		"PIVOT t ON y USING sum(x)) q; SELECT * FROM (SELECT 1",
	} {
		if _, err := e.m.Query(ctx, alice, q, 10); !errors.Is(err, datasets.ErrMultipleStatements) && !isQueryError(err) {
			t.Errorf("%s: %v, want refused", q, err)
		}
	}
	if _, err := os.Stat("/tmp/pivot-escape.csv"); err == nil {
		t.Error("a statement after a PIVOT ran")
	}
}

func isQueryError(err error) bool {
	var qe *datasets.QueryError
	return errors.As(err, &qe)
}

// The server's directories show neither in settings, view definitions and
// database lists (refused), nor in values or messages (scrubbed), and a
// user's directory is not named after the user.
func TestServerPathsStayHidden(t *testing.T) {
	e := newEnv(t, duck.Config{})
	ctx := ctxT(t)
	part := e.putParquet(t, "users/"+alice+"/datasets/dh/part-0.parquet", "SELECT 1 AS y, 2 AS x")
	e.cat.set(alice, datasets.Table{Name: "mine", DatasetID: "dh", Parts: []datasets.Part{part}})
	if _, err := e.m.Query(ctx, alice, "SELECT * FROM mine", 10); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"SELECT current_setting('temp_directory')",
		`SELECT "current_setting"('allowed_directories')`,
		"SELECT system.main.current_setting('temp_directory')",
		"SELECT * FROM duckdb_settings()",
		"SELECT value FROM duckdb_settings() WHERE name = 'temp_directory'",
		"SELECT path FROM duckdb_databases()",
		"SELECT * FROM duckdb_temporary_files()",
		"SELECT sql FROM duckdb_views()",
		"SELECT view_definition FROM information_schema.views",
		"SELECT * FROM sqlite_master",
		"SELECT * FROM pg_catalog.pg_settings",
		"SELECT * FROM pg_views",
		"SELECT * FROM query('SELECT sql FROM duckdb_views()')",
		"SELECT * FROM query_table('sqlite_master')",
		"SELECT * FROM mine WHERE x::VARCHAR <> current_setting('temp_directory')",
		"WITH s AS (SELECT * FROM duckdb_settings()) SELECT * FROM s",
		"PIVOT (SELECT current_setting('temp_directory') AS y, 1 AS x) ON y USING sum(x)",
		"PIVOT (SELECT sql AS y, 1 AS x FROM duckdb_views()) ON y USING sum(x)",
		"PIVOT (SELECT * FROM query /* c */ ('SELECT 1 AS y, 1 AS x')) ON y USING sum(x)",
	} {
		_, err := e.m.Query(ctx, alice, q, 10)
		var qe *datasets.QueryError
		if !errors.As(err, &qe) || !strings.Contains(qe.Message, "is not available") {
			t.Errorf("%s: %v, want refused as not available", q, err)
		}
	}
	// A value that names the session root comes back without it.
	dir := duck.UserDir(e.root, alice)
	res, err := e.m.Query(ctx, alice, "SELECT '"+filepath.Join(dir, "cache")+"' AS p, ['"+e.root+"/x'] AS l", 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, cell := range res.Rows[0] {
		if strings.Contains(string(cell), e.root) {
			t.Errorf("value shows the root: %s", cell)
		}
	}
	// Messages naming files lose the paths.
	_, err = e.m.Query(ctx, alice, "SELECT * FROM read_parquet('"+filepath.Join(dir, "cache", "nope.parquet")+"')", 10)
	if err == nil || strings.Contains(err.Error(), e.root) {
		t.Errorf("error shows a path: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.root, alice)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a directory is named after the user id: %v", err)
	}
	if _, err := os.Stat(dir); err != nil || strings.Contains(dir, alice) {
		t.Errorf("user directory %s: %v", dir, err)
	}
}

// A statement ends before its caller's deadline, whatever the query
// timeout: the caller hears "timed out" instead of giving up on a service
// that says nothing.
func TestStatementEndsBeforeTheCallersDeadline(t *testing.T) {
	e := newEnv(t, duck.Config{QueryTimeout: time.Minute, Threads: 1})
	const endless = "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r"
	ctx, cancel := context.WithTimeout(ctxT(t), 4*time.Second)
	defer cancel()
	_, err := e.m.Query(ctx, alice, endless, 1)
	if !errors.Is(err, datasets.ErrQueryTimeout) {
		t.Fatalf("error %v, want ErrTimeout", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("answered after the caller's deadline (%v)", err)
	}
	if !regexp.MustCompile(`^query timed out after [0-9.]+ s$`).MatchString(err.Error()) {
		t.Errorf("message %q, want the applied limit in seconds", err)
	}

	short := newEnv(t, duck.Config{QueryTimeout: time.Second, Threads: 1})
	_, err = short.m.Query(ctxT(t), alice, endless, 1)
	if !errors.Is(err, datasets.ErrQueryTimeout) || err.Error() != "query timed out after 1 s" {
		t.Fatalf("error %v, want query timed out after 1 s", err)
	}
}

// The statement is placed inside the result wrapper without what follows
// its last token: semicolons and comments after it, in any quoting.
func TestStatementsWithTrailingText(t *testing.T) {
	e := newEnv(t, duck.Config{})
	ctx := ctxT(t)
	for q, want := range map[string]string{
		"SELECT 1 AS v;":                             `1`,
		"SELECT 1 AS v; -- done":                     `1`,
		"SELECT 'a;' AS v ; /* c; */ ;\n":            `"a;"`,
		"SELECT E'it\\'s; -- not a comment' AS v;":   `"it's; -- not a comment"`,
		"SELECT $x$ ); $x$ AS v -- )":                `" ); "`,
		`SELECT 1 AS "v;--"`:                         `1`,
		"SELECT 2 AS v /* nested /* ; */ still */ ;": `2`,
	} {
		res, err := e.m.Query(ctx, alice, q, 10)
		if err != nil || len(res.Rows) != 1 || string(res.Rows[0][0]) != want {
			t.Errorf("%q: %v %v, want %s", q, err, res.Rows, want)
		}
	}
}

// The wrapper's size of a row stays flat however many columns it adds up:
// a chain of + over thousands of text columns would pass DuckDB's
// expression depth.
func TestWideResultsAreMeasured(t *testing.T) {
	e := newEnv(t, duck.Config{})
	cols := make([]string, 2000)
	for i := range cols {
		cols[i] = "'v" + strconv.Itoa(i) + "' AS c" + strconv.Itoa(i)
	}
	res, err := e.m.Query(ctxT(t), alice, "SELECT "+strings.Join(cols, ", "), 10)
	if err != nil || len(res.Columns) != 2000 || len(res.Rows) != 1 || string(res.Rows[0][1999]) != `"v1999"` {
		t.Fatalf("2000 columns: %v, %d columns", err, len(res.Columns))
	}
}
