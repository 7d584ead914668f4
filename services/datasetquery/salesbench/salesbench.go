// Package salesbench is the data and the DuckDB baseline of the dataset
// benchmarks, shared by the service's own benchmarks and the end-to-end
// ones in services/all so both compare against the same thing. Only tests
// import it.
package salesbench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // the "duckdb" database/sql driver for the baseline

	"github.com/nonefinity/backend/pkg/objstore"
)

// Rows is the benchmark's dataset size.
const Rows = 1_000_000

// Categories is how many groups GroupBySum answers.
const Categories = 50

// GroupBySum is the benchmark query; %s is the table.
const GroupBySum = "SELECT category, sum(amount) AS total FROM %s GROUP BY category"

// Columns of CSV, in order.
var Columns = []string{"id", "category", "amount", "sold_at"}

// CSV is the benchmark data: rows of an int id, a category of 50 values,
// a double amount and a timestamp.
func CSV(rows int) []byte {
	var b strings.Builder
	b.Grow(rows * 48)
	b.WriteString(strings.Join(Columns, ",") + "\n")
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range rows {
		fmt.Fprintf(&b, "%d,category_%02d,%.2f,%s\n", i+1, i%Categories, float64(i%100000)/7, start.Add(time.Duration(i)*time.Minute).Format("2006-01-02 15:04:05"))
	}
	return []byte(b.String())
}

// FetchPart downloads the one Parquet part of the dataset datasetID of
// ownerID to a local file and returns its path; a dataset of several
// parts fails the benchmark.
func FetchPart(b *testing.B, store *objstore.Store, ownerID, datasetID string) string {
	b.Helper()
	ctx := context.Background()
	file := filepath.Join(b.TempDir(), "part.parquet")
	parts := 0
	for obj, err := range store.List(ctx, "users/"+ownerID+"/datasets/"+datasetID+"/part-") {
		if err != nil {
			b.Fatal(err)
		}
		parts++
		body, _, err := store.Get(ctx, obj.Key)
		if err != nil {
			b.Fatal(err)
		}
		f, err := os.Create(file)
		if err != nil {
			b.Fatal(err)
		}
		_, cerr := io.Copy(f, body)
		_ = body.Close()
		if err := errors.Join(cerr, f.Close()); err != nil {
			b.Fatal(err)
		}
	}
	if parts != 1 {
		b.Fatalf("dataset has %d parts, the baseline expects 1", parts)
	}
	return file
}

// DirectGroupBySum is the baseline: GroupBySum on a plain DuckDB
// connection over the Parquet file, rows read as the service reads them,
// once untimed and then b.Loop times.
func DirectGroupBySum(b *testing.B, parquetFile string) {
	b.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	query := fmt.Sprintf(GroupBySum, fmt.Sprintf("read_parquet('%s')", parquetFile))
	run := func() {
		rows, err := db.Query(query)
		if err != nil {
			b.Fatal(err)
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			var cat string
			var total float64
			if err := rows.Scan(&cat, &total); err != nil {
				b.Fatal(err)
			}
			n++
		}
		if err := rows.Err(); err != nil || n != Categories {
			b.Fatalf("direct query: %d rows, %v", n, err)
		}
	}
	run()
	b.ResetTimer()
	for b.Loop() {
		run()
	}
}
