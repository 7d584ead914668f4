package app_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nonefinity/backend/pkg/config"
	"github.com/nonefinity/backend/services/fileingest/app"
)

func TestMultipartSweepSettings(t *testing.T) {
	env := func(extra map[string]string) map[string]string {
		m := map[string]string{"NATS_URL": "nats://127.0.0.1:1", "DATA_DIR": t.TempDir(), "APP_ENV": "dev"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	cfg, err := config.LoadFrom[app.Config](env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MultipartSweepInterval.Duration() != time.Hour || cfg.MultipartMaxAge.Duration() != 24*time.Hour {
		t.Errorf("defaults: FILE_MULTIPART_SWEEP_INTERVAL %v, FILE_MULTIPART_MAX_AGE %v", cfg.MultipartSweepInterval, cfg.MultipartMaxAge)
	}
	cfg, err = config.LoadFrom[app.Config](env(map[string]string{
		"FILE_MULTIPART_SWEEP_INTERVAL": "5m", "FILE_MULTIPART_MAX_AGE": "10m", "FILE_UPLOAD_URL_TTL": "10m",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MultipartSweepInterval.Duration() != 5*time.Minute || cfg.MultipartMaxAge.Duration() != 10*time.Minute {
		t.Errorf("FILE_MULTIPART_SWEEP_INTERVAL %v, FILE_MULTIPART_MAX_AGE %v", cfg.MultipartSweepInterval, cfg.MultipartMaxAge)
	}
	for _, tc := range []struct{ name, value string }{
		{"FILE_MULTIPART_SWEEP_INTERVAL", "30s"},
		{"FILE_MULTIPART_SWEEP_INTERVAL", "0"},
		{"FILE_MULTIPART_MAX_AGE", "0"},
		// Younger than the default FILE_UPLOAD_URL_TTL of 10m.
		{"FILE_MULTIPART_MAX_AGE", "9m"},
	} {
		_, err := config.LoadFrom[app.Config](env(map[string]string{tc.name: tc.value}))
		var ve config.VarError
		if !errors.As(err, &ve) || ve.Var != tc.name {
			t.Errorf("%s=%s: %v, want an error naming the variable", tc.name, tc.value, err)
		}
	}
}

// Each problem of the service's own variables names the variable and what
// it accepts; zero is outside every range that starts at 1.
func TestSettingsValidate(t *testing.T) {
	for _, tc := range []struct {
		variable, value, problem string
	}{
		{"FILE_MAX_SIZE", "0", "must be at least 1"},
		{"FILE_USER_QUOTA_BYTES", "-1", "must be at least 1"},
		{"FILE_UPLOAD_URL_TTL", "0", "must be between 1s and 7 days"},
		{"FILE_DOWNLOAD_URL_TTL", "169h", "must be between 1s and 7 days"},
		{"FILE_OPEN_URL_TTL", "500ms", "must be between 1s and 7 days"},
		{"FILE_PROCESS_MAX_DELIVER", "0", "must be at least 1"},
		{"FILE_PROCESS_CONCURRENCY", "0", "must be at least 1"},
		{"FILE_PROCESS_CONCURRENCY_PER_USER", "0", "must be at least 1"},
		{"FILE_PROCESS_TIMEOUT", "0", "must be greater than zero"},
		{"FILE_PROCESS_ACK_WAIT", "0", "must be at least 1s"},
		{"FILE_SPREADSHEET_MAX_BYTES", "0", "must be at least 1"},
		{"FILE_XLSX_MAX_UNCOMPRESSED", "0", "must be at least 1"},
		{"FILE_XLSX_MAX_CELLS", "0", "must be at least 1"},
		{"FILE_MULTIPART_SWEEP_INTERVAL", "59s", "must be at least 1m"},
		{"FILE_MULTIPART_MAX_AGE", "0", "must be at least FILE_UPLOAD_URL_TTL"},
	} {
		t.Run(tc.variable+"="+tc.value, func(t *testing.T) {
			_, err := config.LoadFrom[app.Settings](map[string]string{tc.variable: tc.value})
			if err == nil || !strings.Contains(err.Error(), tc.variable+": "+tc.problem) {
				t.Errorf("err = %v, want %s: %s", err, tc.variable, tc.problem)
			}
		})
	}
	if err := app.DefaultSettings().Validate(); err != nil {
		t.Errorf("the defaults are refused: %v", err)
	}
}
