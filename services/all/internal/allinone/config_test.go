package allinone

import (
	"strings"
	"testing"

	"github.com/nonefinity/backend/pkg/config"
)

// make run is dev by default: a Clerk secret key in its environment stops it
// before anything starts, unless create-token through Clerk is opted into.
func TestConfigRefusesDevAuthWithClerkSecret(t *testing.T) {
	const secret = "sk_test_must_not_show_0123456789"
	_, err := config.LoadFrom[Config](map[string]string{"CLERK_SECRET_KEY": secret})
	if err == nil || !strings.Contains(err.Error(), "CLERK_SECRET_KEY: must not be set with dev auth") || strings.Contains(err.Error(), secret) {
		t.Fatalf("err = %v", err)
	}
	cfg, err := config.LoadFrom[Config](map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if h := cfg.App.ListenHost(); h != "127.0.0.1" {
		t.Fatalf("make run listens on %s by default", h)
	}
}

// make run reads fileingest's and datasetquery's own variables as the
// services do alone, and refuses a bad one before anything starts.
func TestConfigReadsEveryServicesSettings(t *testing.T) {
	cfg, err := config.LoadFrom[Config](map[string]string{
		"FILE_MAX_SIZE": "1000", "FILE_PROCESS_CONCURRENCY_PER_USER": "3",
		"DATASET_MAX_COLUMNS": "77", "DUCKDB_MAX_CONCURRENT_QUERIES_PER_USER": "5",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Files.MaxFileSize != 1000 || cfg.Files.ProcessPerUser != 3 {
		t.Errorf("fileingest settings: max size %d, per user %d", cfg.Files.MaxFileSize, cfg.Files.ProcessPerUser)
	}
	if cfg.Datasets.DatasetMaxColumns != 77 || cfg.Datasets.DuckDBMaxConcurrentQueriesPerUser != 5 {
		t.Errorf("datasetquery settings: columns %d, queries per user %d", cfg.Datasets.DatasetMaxColumns, cfg.Datasets.DuckDBMaxConcurrentQueriesPerUser)
	}
	_, err = config.LoadFrom[Config](map[string]string{"FILE_PROCESS_CONCURRENCY": "0", "APP_PORT": "-5"})
	if err == nil || !strings.Contains(err.Error(), "FILE_PROCESS_CONCURRENCY") {
		t.Fatalf("a bad FILE_* variable: err = %v", err)
	}
	if n := strings.Count(err.Error(), "APP_PORT"); n != 1 {
		t.Errorf("a shared variable's problem is reported %d times, want once:\n%s", n, err)
	}
}
