package all_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // the "duckdb" database/sql driver for the baseline

	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
)

// benchSalesCSV is the benchmark data: rows of an int id, a
// category of 50 values, a double amount and a timestamp.
func benchSalesCSV(rows int) []byte {
	var b strings.Builder
	b.Grow(rows * 48)
	b.WriteString("id,category,amount,sold_at\n")
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range rows {
		fmt.Fprintf(&b, "%d,category_%02d,%.2f,%s\n", i+1, i%50, float64(i%100000)/7, start.Add(time.Duration(i)*time.Minute).Format("2006-01-02 15:04:05"))
	}
	return []byte(b.String())
}

const benchGroupBySum = "SELECT category, sum(amount) AS total FROM %s GROUP BY category"

// BenchmarkGroupBySumViaGateway compares, in one run on one dataset of
// 1,000,000 rows uploaded and converted through the API, a warm group-by-sum
// through POST /datasets/query (HTTP, dev auth, gateway, NATS, datasetquery)
// with the same SQL on a plain DuckDB over the dataset's Parquet part
// (downloaded once to a local file). Target: gateway ≤ 1.3× duckdb.
func BenchmarkGroupBySumViaGateway(b *testing.B) {
	s := startE2E(b, e2eOptions{})
	u := s.user(b, "bench_query", "")
	events := u.subscribeEvents(b)
	f := uploadFile(b, u, "sales.csv", "text/csv", benchSalesCSV(1_000_000))
	waitProcessed(b, events, f.ID)
	var d dv1.Dataset
	expect(b, u.form(b, http.MethodPost, "/datasets/convert", url.Values{"file_id": {f.ID}, "dataset_name": {"sales"}}), http.StatusCreated, &d)
	if d.RowCount != 1_000_000 {
		b.Fatalf("converted %+v", d)
	}

	b.Run("gateway", func(b *testing.B) {
		query := url.Values{"query": {fmt.Sprintf(benchGroupBySum, "sales")}}
		run := func() {
			var res dv1.QueryReply
			expect(b, u.form(b, http.MethodPost, "/datasets/query", query), http.StatusOK, &res)
			if res.RowCount != 50 || res.Truncated {
				b.Fatalf("query %+v", res)
			}
		}
		run()
		b.ResetTimer()
		for b.Loop() {
			run()
		}
	})
	b.Run("duckdb", func(b *testing.B) {
		file := filepath.Join(b.TempDir(), "sales.parquet")
		parts := 0
		for obj, err := range s.store.List(context.Background(), "users/") {
			if err != nil {
				b.Fatal(err)
			}
			if !strings.Contains(obj.Key, "/datasets/"+d.ID+"/part-") {
				continue
			}
			parts++
			body, _, err := s.store.Get(context.Background(), obj.Key)
			if err != nil {
				b.Fatal(err)
			}
			out, err := os.Create(file)
			if err != nil {
				b.Fatal(err)
			}
			_, cerr := io.Copy(out, body)
			_ = body.Close()
			if err := errors.Join(cerr, out.Close()); err != nil {
				b.Fatal(err)
			}
		}
		if parts != 1 {
			b.Fatalf("dataset has %d parts, the baseline expects 1", parts)
		}
		db, err := sql.Open("duckdb", "")
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		query := fmt.Sprintf(benchGroupBySum, fmt.Sprintf("read_parquet('%s')", file))
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
			if err := rows.Err(); err != nil || n != 50 {
				b.Fatalf("direct query: %d rows, %v", n, err)
			}
		}
		run()
		b.ResetTimer()
		for b.Loop() {
			run()
		}
	})
}
