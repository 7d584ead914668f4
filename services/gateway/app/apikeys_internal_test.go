package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nonefinity/backend/pkg/config"
)

// Outside prod a gateway without APP_API_KEY_PEPPER makes one under
// DATA_DIR (mode 0600) and reads the same one after a restart, so its keys
// keep working; a configured pepper wins; prod without one starts nothing.
func TestAPIKeyPepper(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	cfg := Config{Base: config.Base{DataDir: dir}}
	cfg.Env = "dev"
	first, err := apiKeyPepper(cfg)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(dir, pepperFile))
	if err != nil || info.Mode().Perm() != 0o600 || len(first) < 32 {
		t.Fatalf("pepper file %v (%v), pepper of %d bytes", info, err, len(first))
	}
	again, err := apiKeyPepper(cfg)
	if err != nil || string(again) != string(first) {
		t.Fatalf("after a restart: %v; the pepper changed", err)
	}

	cfg.APIKeyPepper = strings.Repeat("c", 40)
	if p, err := apiKeyPepper(cfg); err != nil || string(p) != cfg.APIKeyPepper {
		t.Fatalf("configured pepper: %q, %v", p, err)
	}

	cfg.APIKeyPepper, cfg.Env = "", "prod"
	if _, err := apiKeyPepper(cfg); err == nil {
		t.Fatal("prod without a pepper started")
	}

	cfg.Env = "dev"
	if err := os.WriteFile(filepath.Join(dir, pepperFile), []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := apiKeyPepper(cfg); err == nil || !strings.Contains(err.Error(), "too short") {
		t.Fatalf("a short pepper file: %v", err)
	}
}
