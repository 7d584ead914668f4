// Package salesbench is the data and the DuckDB baseline of the dataset
// benchmarks, shared by the service's own benchmarks, the end-to-end ones in
// services/all and the make bench harness (services/all/cmd/bench), so all
// of them compare against the same thing. No service imports it.
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
	"github.com/xuri/excelize/v2"

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

// XLSX is the workbook benchmark data: the rows of CSV as one sheet, the
// date-time with a custom number format (as a spreadsheet user's would be).
func XLSX(rows int) ([]byte, error) {
	f := excelize.NewFile()
	defer f.Close()
	stampFmt := "yyyy-mm-dd hh:mm:ss"
	stamp, err := f.NewStyle(&excelize.Style{CustomNumFmt: &stampFmt})
	if err != nil {
		return nil, err
	}
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		return nil, err
	}
	if err := sw.SetRow("A1", []any{"id", "category", "amount", "sold_at"}); err != nil {
		return nil, err
	}
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+2)
		row := []any{i + 1, fmt.Sprintf("category_%02d", i%Categories), float64(i%100000) / 7,
			excelize.Cell{StyleID: stamp, Value: start.Add(time.Duration(i) * time.Minute)}}
		if err := sw.SetRow(cell, row); err != nil {
			return nil, err
		}
	}
	if err := sw.Flush(); err != nil {
		return nil, err
	}
	buf, err := f.WriteToBuffer()
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ConvertDirect is the conversion baseline: DuckDB alone turning the CSV
// file into Parquet its fastest way, one streaming COPY with the options the
// service writes (zstd, Parquet format version 2).
func ConvertDirect(ctx context.Context, db *sql.DB, csvFile, parquetFile string) error {
	_, err := db.ExecContext(ctx, fmt.Sprintf("COPY (FROM read_csv(%s)) TO %s (FORMAT parquet, COMPRESSION zstd, PARQUET_VERSION V2)",
		quote(csvFile), quote(parquetFile)))
	return err
}

// QueryDirect is the query baseline: GroupBySum on db over the Parquet
// file, rows read as the service reads them; an answer without the 50
// groups is an error.
func QueryDirect(ctx context.Context, db *sql.DB, parquetFile string) error {
	rows, err := db.QueryContext(ctx, fmt.Sprintf(GroupBySum, "read_parquet("+quote(parquetFile)+")"))
	if err != nil {
		return err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var cat string
		var total float64
		if err := rows.Scan(&cat, &total); err != nil {
			return err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if n != Categories {
		return fmt.Errorf("direct query: %d groups, want %d", n, Categories)
	}
	return nil
}

// quote is path as a SQL string literal.
func quote(path string) string { return "'" + strings.ReplaceAll(path, "'", "''") + "'" }

// FetchPart downloads the one Parquet part of the dataset datasetID of
// ownerID to a local file and returns its path; a dataset of several
// parts fails the benchmark.
func FetchPart(b *testing.B, store *objstore.Store, ownerID, datasetID string) string {
	b.Helper()
	file := filepath.Join(b.TempDir(), "part.parquet")
	if err := DownloadPart(context.Background(), store, ownerID, datasetID, file); err != nil {
		b.Fatal(err)
	}
	return file
}

// DownloadPart writes the one Parquet part of the dataset datasetID of
// ownerID to file; a dataset of no part or several is an error (the
// baselines read one file).
func DownloadPart(ctx context.Context, store *objstore.Store, ownerID, datasetID, file string) error {
	parts := 0
	for obj, err := range store.List(ctx, "users/"+ownerID+"/datasets/"+datasetID+"/part-") {
		if err != nil {
			return err
		}
		if parts++; parts > 1 {
			return fmt.Errorf("dataset %s has several Parquet parts, the baseline reads one", datasetID)
		}
		body, _, err := store.Get(ctx, obj.Key)
		if err != nil {
			return err
		}
		f, err := os.Create(file)
		if err != nil {
			_ = body.Close()
			return err
		}
		_, err = io.Copy(f, body)
		if err := errors.Join(err, body.Close(), f.Close()); err != nil {
			return err
		}
	}
	if parts == 0 {
		return fmt.Errorf("dataset %s has no Parquet part", datasetID)
	}
	return nil
}

// DirectGroupBySum is the baseline: QueryDirect on a plain DuckDB
// connection over the Parquet file, once untimed and then b.Loop times.
func DirectGroupBySum(b *testing.B, parquetFile string) {
	b.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := QueryDirect(ctx, db, parquetFile); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if err := QueryDirect(ctx, db, parquetFile); err != nil {
			b.Fatal(err)
		}
	}
}
