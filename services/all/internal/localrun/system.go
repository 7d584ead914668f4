// Package localrun runs the all-in-one inside a measuring program (make load,
// make bench) as `make run` does, and talks to it as a client would: a
// signed-in user of the HTTP API, and the process's memory peaks while a
// phase runs.
package localrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nonefinity/backend/pkg/config"
	"github.com/nonefinity/backend/services/all/internal/allinone"
)

// Options are what a measuring program may change about the run.
type Options struct {
	DataDir  string // a fresh DATA_DIR
	LogLevel string // LOG_LEVEL of the system under test
	// FerretPG keeps the embedded FerretDB's documents in this (empty)
	// PostgreSQL database instead of SQLite (EMBEDDED_FERRETDB_POSTGRESQL_URL).
	FerretPG string
	// RateLimit is RATE_LIMIT_PER_MINUTE (0: off); the per-address limit is
	// always off, every client of a run comes from 127.0.0.1.
	RateLimit int
}

// System is the all-in-one running in this process.
type System struct {
	API       string // http://127.0.0.1:port/api/v1
	SSECap    int    // the gateway's SSE_MAX_CONNECTIONS_PER_USER
	Endpoints allinone.Endpoints
	stop      func() error
}

// Stop shuts the system down and waits for it (a minute at most).
func (s *System) Stop() error { return s.stop() }

// Start runs allinone.Run as `make run` does, on a fresh DATA_DIR, dev
// auth, loopback listeners on free ports and the given rate limit, and waits
// until every service answers.
func Start(ctx context.Context, o Options) (*System, error) {
	// The environment is set before the configuration is loaded, so a
	// developer's .env cannot point the run at real Clerk or other ports.
	for k, v := range map[string]string{
		"APP_ENV": "dev", "DATA_DIR": o.DataDir, "APP_HOST": "127.0.0.1", "APP_PORT": "0",
		"EMBEDDED_S3_ADDR": "127.0.0.1:0", "RATE_LIMIT_PER_MINUTE": strconv.Itoa(max(o.RateLimit, 0)), "RATE_LIMIT_IP_PER_MINUTE": "0",
		"CLERK_ISSUER": "", "CLERK_SECRET_KEY": "", "LOG_LEVEL": o.LogLevel, "LOG_FILE": "",
		"EMBEDDED_FERRETDB_POSTGRESQL_URL": o.FerretPG,
	} {
		if err := os.Setenv(k, v); err != nil {
			return nil, err
		}
	}
	cfg, err := config.Load[allinone.Config]()
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- allinone.Run(runCtx, cfg, "localrun") }()
	stop := func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(time.Minute):
			return errors.New("the system did not stop within a minute")
		}
	}
	eps, err := waitStarted(ctx, o.DataDir, done)
	if err != nil {
		_ = stop()
		return nil, err
	}
	return &System{API: "http://" + eps.HTTP + "/api/v1", SSECap: cfg.Gateway.SSEMaxPerUser, Endpoints: eps, stop: stop}, nil
}

// startTimeout bounds the system's start (FerretDB and the S3 server
// included).
const startTimeout = 2 * time.Minute

// waitStarted waits for the run's endpoints file, then for the gateway's
// /ready, and returns the endpoints.
func waitStarted(ctx context.Context, dataDir string, done <-chan error) (allinone.Endpoints, error) {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	var eps allinone.Endpoints
	for {
		if eps.HTTP == "" {
			if b, err := os.ReadFile(filepath.Join(dataDir, allinone.EndpointsFile)); err == nil {
				_ = json.Unmarshal(b, &eps)
			}
		}
		if eps.HTTP != "" && ready(ctx, eps.HTTP) {
			return eps, nil
		}
		select {
		case err := <-done:
			return eps, fmt.Errorf("the system stopped while starting: %v", err)
		case <-ctx.Done():
			return eps, fmt.Errorf("the system did not start: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func ready(ctx context.Context, addr string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/ready", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
