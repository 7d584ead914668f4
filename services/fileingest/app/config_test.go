package app_test

import (
	"errors"
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
