package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/services/gateway/internal/apikeyevents"
	"github.com/nonefinity/backend/services/gateway/internal/apikeys"
	"github.com/nonefinity/backend/services/gateway/internal/apikeystore"
)

// pepperFile holds the generated pepper of a development gateway under
// DATA_DIR, so that its keys survive restarts.
const pepperFile = "api-key-pepper"

// apiKeyPepper is APP_API_KEY_PEPPER, or outside prod (where CheckPepper
// requires it) the pepper kept in DATA_DIR/api-key-pepper, made (mode
// 0600) on first start.
func apiKeyPepper(cfg Config) ([]byte, error) {
	if cfg.APIKeyPepper != "" {
		return []byte(cfg.APIKeyPepper), nil
	}
	if cfg.IsProd() {
		return nil, errors.New("APP_API_KEY_PEPPER is required when APP_ENV=prod")
	}
	path := filepath.Join(cfg.DataDir, pepperFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		p := strings.TrimSpace(string(b))
		if len(p) < apikeys.MinPepperLen {
			return nil, fmt.Errorf("read %s: too short; delete it (every API key then stops working) or set APP_API_KEY_PEPPER", path)
		}
		return []byte(p), nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	p := base64.RawURLEncoding.EncodeToString(raw)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", cfg.DataDir, err)
	}
	if err := os.WriteFile(path, []byte(p+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return []byte(p), nil
}

// runningKeys is the API key core with what keeps it current: the
// subscription to other instances' invalidations and the last-use writer.
type runningKeys struct {
	svc  *apikeys.Service
	stop func()
}

// startAPIKeys starts the key core; available is the database's health, so
// a known outage is a 503 at once.
func startAPIKeys(ctx context.Context, cfg Config, d Deps, available func() error) (*runningKeys, error) {
	pepper, err := apiKeyPepper(cfg)
	if err != nil {
		return nil, err
	}
	store := apikeystore.New(d.DB, d.Log)
	if err := store.EnsureIndexes(ctx); err != nil {
		return nil, fmt.Errorf("api_keys indexes: %w", err)
	}
	svc, err := apikeys.New(apikeys.Options{
		Store: store, Publisher: apikeyevents.Publisher{NC: d.NC}, Pepper: pepper, Env: cfg.Env,
		MaxPerUser: cfg.APIKeyMaxPerUser, CacheTTL: cfg.APIKeyCacheTTL.Duration(), Log: d.Log, Available: available,
	})
	if err != nil {
		return nil, err
	}
	sub, err := apikeyevents.Subscribe(d.NC, svc.Evict, d.Log)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	go svc.Run(runCtx)
	return &runningKeys{svc: svc, stop: func() {
		cancel()
		_ = sub.Unsubscribe()
	}}, nil
}

// keyEraser erases a deleted user's keys for the webhook, which answers a
// database outage 503 so Clerk delivers the deletion again.
type keyEraser struct{ s *apikeys.Service }

func (e keyEraser) EraseUser(ctx context.Context, userID string) error {
	err := e.s.EraseUser(ctx, userID)
	if errors.Is(err, apikeys.ErrDatabaseUnavailable) {
		return fmt.Errorf("%w: %w", rpcerr.New(rpcerr.Unavailable, "database unavailable"), err)
	}
	return err
}
