package app_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // the "duckdb" database/sql driver for the baseline

	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	"github.com/nonefinity/backend/pkg/config"
	"github.com/nonefinity/backend/services/datasetquery/app"
	"github.com/nonefinity/backend/services/datasetquery/salesbench"
)

// BenchmarkConvertCSV compares a conversion through the convert operation
// (NATS request, file service, download from object storage, DuckDB,
// upload, MongoDB) with DuckDB alone doing read_csv + COPY TO parquet on
// the same local file.
func BenchmarkConvertCSV(b *testing.B) {
	benchConvert(b, salesbench.CSV(salesbench.Rows), salesbench.Rows)
}

// BenchmarkConvertCSVQuoted is the same data with every category quoted:
// the preparation reads every record to check the quoting before DuckDB
// reads the file as it is.
func BenchmarkConvertCSVQuoted(b *testing.B) {
	data := bytes.ReplaceAll(salesbench.CSV(salesbench.Rows), []byte(",category_"), []byte(`,"category_`))
	quoted := bytes.NewBuffer(nil)
	for line := range bytes.Lines(data) {
		quoted.Write(quotedCategory(line))
	}
	benchConvert(b, quoted.Bytes(), salesbench.Rows)
}

// quotedCategory closes the quote opened before a category.
func quotedCategory(line []byte) []byte {
	i := bytes.Index(line, []byte(`,"category`))
	if i < 0 {
		return line
	}
	j := bytes.IndexByte(line[i+2:], ',')
	return append(append(append([]byte(nil), line[:i+2+j]...), '"'), line[i+2+j:]...)
}

// BenchmarkConvertCSVNormalized has one short row in every thousand: the
// file is rewritten in the canonical dialect (rows padded) before DuckDB
// reads it.
func BenchmarkConvertCSVNormalized(b *testing.B) {
	var buf bytes.Buffer
	n := 0
	for line := range bytes.Lines(salesbench.CSV(salesbench.Rows)) {
		if n > 0 && n%1000 == 0 {
			line = append(bytes.TrimSuffix(line[:bytes.LastIndexByte(bytes.TrimSuffix(line, []byte("\n")), ',')], []byte("\n")), '\n')
		}
		buf.Write(line)
		n++
	}
	benchConvert(b, buf.Bytes(), salesbench.Rows)
}

// benchConvert converts data through the convert operation and, for the
// baseline, with DuckDB alone.
func benchConvert(b *testing.B, data []byte, rows int64) {
	b.Run("api", func(b *testing.B) {
		e := start(b)
		fs := startFileService(b, e)
		fid := fs.add(b, alice, "sales", "text/csv", data, csvPreview(",", salesbench.Columns...))
		b.SetBytes(int64(len(data)))
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			ctx, cancel := context.WithTimeout(as(alice), 5*time.Minute)
			r, err := e.ds.Convert(ctx, dv1.ConvertRequest{FileID: fid, DatasetName: fmt.Sprintf("sales_%d", i)})
			cancel()
			if err != nil || r.Dataset == nil || r.Dataset.RowCount != rows {
				b.Fatalf("convert %v %+v", err, r)
			}
		}
	})
	b.Run("duckdb", func(b *testing.B) {
		dir := b.TempDir()
		src := filepath.Join(dir, "sales.csv")
		if err := os.WriteFile(src, data, 0o600); err != nil {
			b.Fatal(err)
		}
		db, err := sql.Open("duckdb", "")
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		b.SetBytes(int64(len(data)))
		b.ResetTimer()
		for b.Loop() {
			if err := salesbench.ConvertDirect(context.Background(), db, src, filepath.Join(dir, "out.parquet")); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchConfig gives benchmark queries room: the tests' 3 s timeout is
// meant to stop runaway SQL quickly, not to bound a cold 1M-row query on a
// busy machine.
func benchConfig(c *app.Config) { c.DuckDBQueryTimeout = config.Duration(2 * time.Minute) }

// convertSales converts the 1,000,000-row benchmark CSV through the
// service once and returns the dataset.
func convertSales(b *testing.B, e env, name string) dv1.Dataset {
	b.Helper()
	fs := startFileService(b, e)
	fid := fs.add(b, alice, "sales", "text/csv", salesbench.CSV(salesbench.Rows), csvPreview(",", salesbench.Columns...))
	ctx, cancel := context.WithTimeout(as(alice), 5*time.Minute)
	defer cancel()
	r, err := e.ds.Convert(ctx, dv1.ConvertRequest{FileID: fid, DatasetName: name})
	if err != nil || r.Dataset == nil || r.Dataset.RowCount != salesbench.Rows {
		b.Fatalf("convert %v %+v", err, r)
	}
	return *r.Dataset
}

// queryGroupBySum runs the benchmark query through the query operation
// and checks its answer (50 categories). suffix (a comment) makes the text
// new to the guard's verdict cache.
func queryGroupBySum(b *testing.B, e env, table string, suffix ...string) {
	b.Helper()
	queryGroupBySumAs(b, e, alice, table, suffix...)
}

func queryGroupBySumAs(b *testing.B, e env, user, table string, suffix ...string) {
	b.Helper()
	ctx, cancel := context.WithTimeout(as(user), 2*time.Minute)
	defer cancel()
	q, err := e.ds.Query(ctx, dv1.QueryRequest{Query: fmt.Sprintf(salesbench.GroupBySum, table) + strings.Join(suffix, "")})
	if err != nil || q.RowCount != salesbench.Categories || q.Truncated {
		b.Fatalf("query %v %+v", err, q)
	}
}

// BenchmarkQueryGroupBySumWarm is a group-by-sum through the query
// operation (NATS request, catalog check, DuckDB session with the dataset
// cached) after one warm-up query. Compare with
// BenchmarkDuckDBDirectGroupBySum (target ≤ 1.3×).
func BenchmarkQueryGroupBySumWarm(b *testing.B) {
	e := start(b, benchConfig)
	convertSales(b, e, "sales")
	queryGroupBySum(b, e, "sales")
	b.ResetTimer()
	for b.Loop() {
		queryGroupBySum(b, e, "sales")
	}
}

// BenchmarkQueryGroupBySumWarmNewText is the warm query with a text the
// service has not seen (a numbered comment), so the guard parses it: the
// cost of a query that is not a repeat.
func BenchmarkQueryGroupBySumWarmNewText(b *testing.B) {
	e := start(b, benchConfig)
	convertSales(b, e, "sales")
	queryGroupBySum(b, e, "sales")
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		queryGroupBySum(b, e, "sales", fmt.Sprintf(" -- %d", i))
	}
}

// BenchmarkQueryGroupBySumCold is the first query after a conversion on a
// running instance: each iteration converts the data for a new user
// outside the timer, and the timed query finds no session, no catalog copy
// and no cached Parquet, so it opens the session, reads the catalog,
// downloads the part from object storage and runs. Compare with
// BenchmarkDuckDBDirectGroupBySum (target ≤ 3×).
func BenchmarkQueryGroupBySumCold(b *testing.B) {
	e := start(b, benchConfig)
	fs := startFileService(b, e)
	data := salesbench.CSV(salesbench.Rows)
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		user := fmt.Sprintf("65f2a1b3c4d5e6f7081%05x", i)
		fid := fs.add(b, user, "sales", "text/csv", data, csvPreview(",", salesbench.Columns...))
		ctx, cancel := context.WithTimeout(as(user), 5*time.Minute)
		r, err := e.ds.Convert(ctx, dv1.ConvertRequest{FileID: fid, DatasetName: "sales"})
		cancel()
		if err != nil || r.Dataset == nil || r.Dataset.RowCount != salesbench.Rows {
			b.Fatalf("convert %v %+v", err, r)
		}
		b.StartTimer()
		queryGroupBySumAs(b, e, user, "sales")
	}
}

// BenchmarkQueryGroupBySumColdInstance is colder still: each iteration
// starts a fresh instance (new DUCKDB_TEMP_FOLDER, new connections to
// NATS, MongoDB and S3) outside the timer, and the timed query is its
// first.
func BenchmarkQueryGroupBySumColdInstance(b *testing.B) {
	in := newInfra(b)
	first := in.run(b, b.TempDir(), benchConfig)
	e := in.env(b)
	waitInstances(b, e.nc, 1)
	convertSales(b, e, "sales")
	if err := first.stop(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		inst := in.run(b, b.TempDir(), benchConfig)
		waitInstances(b, e.nc, 1)
		b.StartTimer()
		queryGroupBySum(b, e, "sales")
		b.StopTimer()
		if err := inst.stop(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkDuckDBDirectGroupBySum is the baseline: the same SQL on a plain
// DuckDB connection over the dataset's Parquet, downloaded once from
// object storage to a local file (salesbench.DirectGroupBySum).
func BenchmarkDuckDBDirectGroupBySum(b *testing.B) {
	e := start(b, benchConfig)
	d := convertSales(b, e, "sales")
	salesbench.DirectGroupBySum(b, salesbench.FetchPart(b, e.store, alice, d.ID))
}

// BenchmarkQueryFixedOverhead is the smallest query through the query
// operation: what the service adds to every statement (NATS round trip,
// SQL guard, catalog, JSON), with next to nothing for DuckDB to do.
func BenchmarkQueryFixedOverhead(b *testing.B) {
	e := start(b, benchConfig)
	run := func() {
		q, err := e.ds.Query(as(alice), dv1.QueryRequest{Query: "SELECT 1 AS one"})
		if err != nil || q.RowCount != 1 {
			b.Fatalf("query %v %+v", err, q)
		}
	}
	run()
	b.ResetTimer()
	for b.Loop() {
		run()
	}
}
