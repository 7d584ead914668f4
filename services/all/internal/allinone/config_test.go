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
	if cfg.Fileingest.MaxFileSize != 1000 || cfg.Fileingest.ProcessPerUser != 3 {
		t.Errorf("fileingest settings: max size %d, per user %d", cfg.Fileingest.MaxFileSize, cfg.Fileingest.ProcessPerUser)
	}
	if cfg.Datasetquery.DatasetMaxColumns != 77 || cfg.Datasetquery.DuckDBMaxConcurrentQueriesPerUser != 5 {
		t.Errorf("datasetquery settings: columns %d, queries per user %d", cfg.Datasetquery.DatasetMaxColumns, cfg.Datasetquery.DuckDBMaxConcurrentQueriesPerUser)
	}
	_, err = config.LoadFrom[Config](map[string]string{"FILE_PROCESS_CONCURRENCY": "0", "APP_PORT": "-5"})
	if err == nil || !strings.Contains(err.Error(), "FILE_PROCESS_CONCURRENCY") {
		t.Fatalf("a bad FILE_* variable: err = %v", err)
	}
	if n := strings.Count(err.Error(), "APP_PORT"); n != 1 {
		t.Errorf("a shared variable's problem is reported %d times, want once:\n%s", n, err)
	}
}

// make run reads the gateway's and credential's own variables too, tidies
// the gateway's lists as the gateway alone does, and names a bad DuckDB
// size once, before anything starts.
func TestConfigReadsGatewayAndCredentialSettings(t *testing.T) {
	cfg, err := config.LoadFrom[Config](map[string]string{
		"ADMIN_CLERK_IDS": " user_1 ,, user_2", "RATE_LIMIT_PER_MINUTE": "7",
		"CREDENTIAL_TEST_TIMEOUT": "20s", "CREDENTIAL_SECRET_KEY": "k", "CREDENTIAL_ENCRYPTION_SALT": "s",
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Gateway.Clerk.AdminIDs, "|"); got != "user_1|user_2" || cfg.Gateway.RateLimitPerMinute != 7 {
		t.Errorf("gateway settings: ADMIN_CLERK_IDS %q, rate limit %d", got, cfg.Gateway.RateLimitPerMinute)
	}
	if cfg.Credential.TestTimeout.String() != "20s" || cfg.Credential.Encryption.SecretKey != "k" || cfg.Credential.Encryption.EncryptionSalt != "s" {
		t.Errorf("credential settings: %+v", cfg.Credential)
	}
	_, err = config.LoadFrom[Config](map[string]string{"DUCKDB_MEMORY_LIMIT": "plenty", "CREDENTIAL_ROTATE_BATCH_SIZE": "0"})
	for _, name := range []string{"DUCKDB_MEMORY_LIMIT", "CREDENTIAL_ROTATE_BATCH_SIZE"} {
		if err == nil || strings.Count(err.Error(), name+":") != 1 {
			t.Errorf("%s is not reported exactly once: %v", name, err)
		}
	}
}
