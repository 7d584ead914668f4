package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // the "duckdb" database/sql driver for the baselines

	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	"github.com/nonefinity/backend/pkg/objstore"
	"github.com/nonefinity/backend/services/datasetquery/salesbench"
)

// datasetSamples are the times of every run of the conversion and query
// figures, ours beside DuckDB alone's.
type datasetSamples struct {
	convert, convertDirect []time.Duration
	cold, coldDirect       []time.Duration
	warm, warmDirect       []time.Duration
}

// warmPairs is how many warm queries each run times on each side,
// alternating: a warm group-by takes milliseconds, so one sample per run
// would be mostly the machine's noise.
const warmPairs = 5

// datasets measures, o.runs times interleaved, each for a new user so its
// first query is cold (no DuckDB session, no catalog, no cached Parquet):
// the conversion of the o.rows-row CSV through POST /datasets/convert
// against DuckDB alone copying the same file to Parquet (one streaming
// COPY, zstd, Parquet V2); then the group-by through POST /datasets/query,
// cold and warm, against DuckDB alone on one open instance over the
// dataset's own Parquet part (downloaded outside the timing): its first
// query of the file, then warmPairs more on each side, alternating. Each
// figure is the median of the runs' samples.
func (b *bench) datasets(ctx context.Context) error {
	data := salesbench.CSV(b.o.rows)
	csvFile := filepath.Join(b.dir, "sales.csv")
	if err := os.WriteFile(csvFile, data, 0o600); err != nil {
		return err
	}
	store, err := objstore.New(objstore.Config{Endpoint: b.sys.Endpoints.S3Endpoint, AccessKey: b.sys.Endpoints.S3AccessKey,
		SecretKey: b.sys.Endpoints.S3SecretKey, Bucket: b.sys.Endpoints.S3Bucket})
	if err != nil {
		return err
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()

	var t datasetSamples
	for i := range b.o.runs {
		if err := b.datasetRun(ctx, i, data, csvFile, store, db, &t); err != nil {
			return fmt.Errorf("run %d: %w", i+1, err)
		}
		b.logf("run %d/%d: convert %s (DuckDB %s), cold query %s (DuckDB %s), warm median %s (DuckDB %s)", i+1, b.o.runs,
			t.convert[i].Round(time.Millisecond), t.convertDirect[i].Round(time.Millisecond), t.cold[i].Round(100*time.Microsecond),
			t.coldDirect[i].Round(100*time.Microsecond), median(t.warm[i*warmPairs:]).Round(100*time.Microsecond),
			median(t.warmDirect[i*warmPairs:]).Round(100*time.Microsecond))
	}
	rows := fmt.Sprintf("%d rows", b.o.rows)
	med := fmt.Sprintf("median of %d", b.o.runs)
	b.add("convert", figure("convert CSV "+rows, seconds(median(t.convert)),
		seconds(median(t.convertDirect)), "s", ratioAtMost(1.5),
		"DuckDB alone: COPY (FROM read_csv) TO parquet (zstd, V2); "+med))
	b.add("query-cold", figure("group-by, cold (first query of a new user)", millis(median(t.cold)),
		millis(median(t.coldDirect)), "ms", ratioAtMost(3),
		"DuckDB alone, its first query of the dataset's Parquet; "+med))
	b.add("query-warm", figure("group-by, warm", millis(median(t.warm)),
		millis(median(t.warmDirect)), "ms", ratioAtMost(1.3),
		fmt.Sprintf("DuckDB alone, its next queries of the same file; median of %d, %d per run, alternating", warmPairs*b.o.runs, warmPairs)))
	return nil
}

func (b *bench) datasetRun(ctx context.Context, i int, data []byte, csvFile string, store *objstore.Store, db *sql.DB, t *datasetSamples) error {
	u, err := b.signIn(ctx, fmt.Sprintf("bench_datasets_%d", i))
	if err != nil {
		return err
	}
	fileID, err := u.upload(ctx, "sales.csv", "text/csv", data)
	if err != nil {
		return err
	}

	var d dv1.Dataset
	took, err := timed(func() (err error) { d, err = u.convert(ctx, fileID, "sales"); return err })
	if err != nil {
		return err
	}
	if d.RowCount != int64(b.o.rows) {
		return fmt.Errorf("converted %d rows, want %d", d.RowCount, b.o.rows)
	}
	t.convert = append(t.convert, took)
	parquet := filepath.Join(b.dir, "direct.parquet")
	if took, err = timed(func() error { return salesbench.ConvertDirect(ctx, db, csvFile, parquet) }); err != nil {
		return fmt.Errorf("DuckDB alone: %w", err)
	}
	t.convertDirect = append(t.convertDirect, took)

	// A file of its own per run: the open instance has never read it.
	part := filepath.Join(b.dir, fmt.Sprintf("dataset_%d.parquet", i))
	if err := salesbench.DownloadPart(ctx, store, d.OwnerID, d.ID, part); err != nil {
		return err
	}
	pair := func(ours, base *[]time.Duration) error {
		took, err := timed(func() error { return u.groupBy(ctx) })
		if err != nil {
			return err
		}
		*ours = append(*ours, took)
		if took, err = timed(func() error { return salesbench.QueryDirect(ctx, db, part) }); err != nil {
			return err
		}
		*base = append(*base, took)
		return nil
	}
	if err := pair(&t.cold, &t.coldDirect); err != nil {
		return err
	}
	for range warmPairs {
		if err := pair(&t.warm, &t.warmDirect); err != nil {
			return err
		}
	}
	return nil
}

func timed(f func() error) (time.Duration, error) {
	began := time.Now()
	err := f()
	return time.Since(began), err
}

// convert converts a file synchronously; an answer of 202 (still running
// after DATASET_CONVERT_WAIT) is a failure, not a time.
func (c api) convert(ctx context.Context, fileID, name string) (dv1.Dataset, error) {
	var d dv1.Dataset
	err := c.formOK(ctx, "/datasets/convert", url.Values{"file_id": {fileID}, "dataset_name": {name}}, http.StatusCreated, &d)
	if err == nil && d.Status != dv1.StatusReady {
		err = fmt.Errorf("converted dataset is %q: %s", d.Status, d.Error)
	}
	return d, err
}

// groupBy runs salesbench.GroupBySum on the dataset "sales" and checks
// that every group came back.
func (c api) groupBy(ctx context.Context) error {
	var q struct {
		RowCount  int  `json:"row_count"`
		Truncated bool `json:"truncated"`
	}
	err := c.formOK(ctx, "/datasets/query", url.Values{"query": {fmt.Sprintf(salesbench.GroupBySum, "sales")}}, http.StatusOK, &q)
	if err == nil && (q.RowCount != salesbench.Categories || q.Truncated) {
		err = fmt.Errorf("group-by: %d groups (truncated %v), want %d", q.RowCount, q.Truncated, salesbench.Categories)
	}
	return err
}

// xlsx converts an o.xlsxRows-row workbook through the API o.runs times and
// reports rows per second against the 100,000 rows/s.
func (b *bench) xlsx(ctx context.Context) error {
	data, err := salesbench.XLSX(b.o.xlsxRows)
	if err != nil {
		return err
	}
	u, err := b.signIn(ctx, "bench_xlsx")
	if err != nil {
		return err
	}
	fileID, err := u.upload(ctx, "sales.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", data)
	if err != nil {
		return err
	}
	var times []time.Duration
	for i := range b.o.runs {
		began := time.Now()
		d, err := u.convert(ctx, fileID, fmt.Sprintf("sales_%d", i))
		if err != nil {
			return err
		}
		times = append(times, time.Since(began))
		if d.RowCount != int64(b.o.xlsxRows) {
			return fmt.Errorf("XLSX converted %d rows, want %d", d.RowCount, b.o.xlsxRows)
		}
		b.logf("XLSX run %d/%d: %s", i+1, b.o.runs, times[i].Round(time.Millisecond))
	}
	rate := float64(b.o.xlsxRows) / median(times).Seconds()
	b.add("xlsx", figure(fmt.Sprintf("convert XLSX %d rows", b.o.xlsxRows), rate, 100_000, "rows/s", ratioAtLeast(1),
		fmt.Sprintf("the issue's 100,000 rows/s; median of %d", b.o.runs)))
	return nil
}
