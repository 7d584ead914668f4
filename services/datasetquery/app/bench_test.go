package app_test

import (
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
)

// salesCSV is the benchmark data: 1,000,000 rows of an int id, a category
// of 50 values, a double amount and a timestamp.
func salesCSV(rows int) []byte {
	var b strings.Builder
	b.Grow(rows * 48)
	b.WriteString("id,category,amount,sold_at\n")
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range rows {
		fmt.Fprintf(&b, "%d,category_%02d,%.2f,%s\n", i+1, i%50, float64(i%100000)/7, start.Add(time.Duration(i)*time.Minute).Format("2006-01-02 15:04:05"))
	}
	return []byte(b.String())
}

// BenchmarkConvertCSV compares a conversion through the convert operation
// (NATS request, file service, download from object storage, DuckDB,
// upload, MongoDB) with DuckDB alone doing read_csv + COPY TO parquet on
// the same local file.
func BenchmarkConvertCSV(b *testing.B) {
	data := salesCSV(1_000_000)
	b.Run("api", func(b *testing.B) {
		e := start(b)
		fs := startFileService(b, e)
		fid := fs.add(b, alice, "sales", "text/csv", data, csvPreview(",", "id", "category", "amount", "sold_at"))
		b.SetBytes(int64(len(data)))
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			ctx, cancel := context.WithTimeout(as(alice), 5*time.Minute)
			r, err := e.ds.Convert(ctx, dv1.ConvertRequest{FileID: fid, DatasetName: fmt.Sprintf("sales_%d", i)})
			cancel()
			if err != nil || r.Dataset == nil || r.Dataset.RowCount != 1_000_000 {
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
			if _, err := db.Exec(fmt.Sprintf("COPY (SELECT * FROM read_csv('%s')) TO '%s' (FORMAT parquet, COMPRESSION zstd)", src, filepath.Join(dir, "out.parquet"))); err != nil {
				b.Fatal(err)
			}
		}
	})
}
