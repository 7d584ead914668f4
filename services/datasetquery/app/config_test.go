package app_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nonefinity/backend/pkg/config"
	"github.com/nonefinity/backend/services/datasetquery/app"
)

// The DuckDB variables are datasetquery's: an empty environment gives their
// documented defaults.
func TestSettingsDefaults(t *testing.T) {
	s, err := config.LoadFrom[app.Settings](map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"DUCKDB_TEMP_FOLDER", s.DuckDBTempFolder, ""},
		{"DUCKDB_INSTANCE_TTL", s.DuckDBInstanceTTL.Duration(), 10 * time.Minute},
		{"DUCKDB_CLEANUP_INTERVAL", s.DuckDBCleanupInterval.Duration(), time.Minute},
		{"DUCKDB_MEMORY_LIMIT", s.DuckDBMemoryLimit, "1GB"},
		{"DUCKDB_THREADS", s.DuckDBThreads, 0},
		{"DUCKDB_MAX_TEMP_DIRECTORY_SIZE", s.DuckDBMaxTempDirectorySize, "2GB"},
		{"DUCKDB_QUERY_TIMEOUT", s.DuckDBQueryTimeout.Duration(), 10 * time.Second},
		{"DATASET_CONVERT_WORKERS", s.DatasetConvertWorkers, 2},
		{"DATASET_CONVERT_TIMEOUT", s.DatasetConvertTimeout.Duration(), 15 * time.Minute},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
	if d := app.DefaultSettings(); !reflect.DeepEqual(d, s) {
		t.Errorf("DefaultSettings = %+v, an empty environment gives %+v", d, s)
	}
	if n := s.OffHeapMemory(); n != 1e9 {
		t.Errorf("OffHeapMemory = %d, want 1GB", n)
	}
}

// The session durations accept a number of seconds, as the original
// service's .env files give them, or a Go duration.
func TestDurationsAcceptSecondsAndGoSyntax(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"600", 10 * time.Minute},
		{"10m", 10 * time.Minute},
		{"90s", 90 * time.Second},
		{" 1h30m ", 90 * time.Minute},
		{"1", time.Second},
	}
	for _, tt := range tests {
		s, err := config.LoadFrom[app.Settings](map[string]string{
			"DUCKDB_INSTANCE_TTL":     tt.in,
			"DUCKDB_CLEANUP_INTERVAL": tt.in,
		})
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if s.DuckDBInstanceTTL.Duration() != tt.want || s.DuckDBCleanupInterval.Duration() != tt.want {
			t.Errorf("%q: ttl=%v cleanup=%v, want %v", tt.in, s.DuckDBInstanceTTL, s.DuckDBCleanupInterval, tt.want)
		}
	}
}

// Each problem names the variable and what it accepts, never the value; a
// range that starts at 1 refuses 0.
func TestSettingsValidate(t *testing.T) {
	for _, tc := range []struct {
		variable, value, problem string
	}{
		{"DUCKDB_INSTANCE_TTL", "ten-minutes", "must be a duration"},
		{"DUCKDB_CLEANUP_INTERVAL", "0", "must be greater than zero"},
		{"DUCKDB_INSTANCE_TTL", "0", "must be greater than zero"},
		{"DUCKDB_QUERY_TIMEOUT", "0", "must be greater than zero"},
		{"DUCKDB_CACHE_TTL", "0", "must be greater than zero"},
		{"DUCKDB_MEMORY_LIMIT", "lots-9x", "must be a DuckDB size such as 1GB"},
		{"DUCKDB_MEMORY_LIMIT", "1000", "must be a DuckDB size such as 1GB"},
		{"DUCKDB_MEMORY_LIMIT", "80%", "must be a DuckDB size such as 1GB"},
		{"DUCKDB_MAX_TEMP_DIRECTORY_SIZE", "2 GBx", "must be a DuckDB size such as 2GB"},
		{"DUCKDB_THREADS", "-1", "must be 0 (half the cores) or a number of threads"},
		{"DUCKDB_MAX_CONCURRENT_QUERIES_PER_USER", "0", "must be at least 1"},
		{"DUCKDB_MAX_RESULT_BYTES", "0", "must be at least 1"},
		{"DATASET_CONVERT_WAIT", "0", "must be greater than zero"},
		{"DATASET_CONVERT_ACK_WAIT", "0", "must be at least 1s"},
		{"DATASET_CONVERT_ACK_WAIT", "500ms", "must be at least 1s"},
		{"DATASET_MAX_FILE_BYTES", "0", "must be at least 1"},
		{"DATASET_XLSX_MAX_CELLS", "0", "must be at least 1"},
		{"DATASET_XLSX_MAX_UNCOMPRESSED", "-1", "must be at least 1"},
		{"DATASET_MAX_COLUMNS", "0", "must be at least 1"},
		{"DATASET_CONVERT_WORKERS", "0", "must be at least 1"},
		{"DATASET_CONVERT_WORKERS_PER_USER", "0", "must be at least 1"},
		{"DATASET_CONVERT_TIMEOUT", "0", "must be greater than zero"},
		{"DATASET_MAX_PENDING_CONVERSIONS", "0", "must be at least 1"},
	} {
		t.Run(tc.variable+"="+tc.value, func(t *testing.T) {
			_, err := config.LoadFrom[app.Settings](map[string]string{tc.variable: tc.value})
			if err == nil || !strings.Contains(err.Error(), tc.variable+": "+tc.problem) {
				t.Fatalf("err = %v, want %s: %s", err, tc.variable, tc.problem)
			}
			if strings.Contains(err.Error(), "="+tc.value) || (len(tc.value) > 3 && strings.Contains(err.Error(), tc.value)) {
				t.Errorf("the error shows the value: %v", err)
			}
			var ve config.VarError
			if !errors.As(err, &ve) || ve.Var != tc.variable {
				t.Errorf("errors.As VarError = %+v, want Var %s", ve, tc.variable)
			}
		})
	}
	for _, ok := range []map[string]string{
		{"DUCKDB_THREADS": "0"}, {"DUCKDB_THREADS": "3"},
		{"DUCKDB_MEMORY_LIMIT": "1.5 GiB"}, {"DUCKDB_MEMORY_LIMIT": "512MiB"}, {"DUCKDB_MAX_TEMP_DIRECTORY_SIZE": "10 KB"},
	} {
		if _, err := config.LoadFrom[app.Settings](ok); err != nil {
			t.Errorf("%v refused: %v", ok, err)
		}
	}
}

// A DUCKDB_MEMORY_LIMIT DuckDB cannot read stops the service at start, by
// config.Load in its main and by Run for a Config built by hand, before
// it creates anything: not at the first query.
func TestBadMemoryLimitRefusesToStart(t *testing.T) {
	if _, err := config.LoadFrom[app.Config](map[string]string{"DUCKDB_MEMORY_LIMIT": "1 gigabyte-ish"}); err == nil ||
		!strings.Contains(err.Error(), "DUCKDB_MEMORY_LIMIT: must be a DuckDB size") {
		t.Fatalf("config.Load: err = %v", err)
	}
	in := newInfra(t)
	dir := t.TempDir()
	cfg := app.Config{Settings: app.DefaultSettings()}
	cfg.DuckDBTempFolder, cfg.DuckDBMemoryLimit = dir, "1 gigabyte-ish"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := app.Run(ctx, cfg, app.Deps{NC: in.ns.Conn(t), DB: in.db, Store: in.store, Log: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "DUCKDB_MEMORY_LIMIT") {
		t.Fatalf("Run: err = %v, want one naming DUCKDB_MEMORY_LIMIT", err)
	}
	if ctx.Err() != nil {
		t.Fatal("Run served until the deadline instead of refusing to start")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("Run created %s before refusing: %v", filepath.Base(dir), entries)
	}
}
