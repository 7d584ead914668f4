// Package app wires the gateway: the HTTP server in front of the services.
// cmd/gateway runs it alone; services/all runs it next to the services.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/pkg/config"
	"github.com/nonefinity/backend/pkg/telemetry"
	"github.com/nonefinity/backend/services/gateway/internal/httpapi"
)

// Name is the process name.
const Name = "gateway"

// Version is the gateway's semantic version.
const Version = "0.1.0"

// shutdownGrace bounds how long in-flight HTTP requests may finish.
const shutdownGrace = 15 * time.Second

// Config is the gateway's configuration.
type Config struct {
	config.Base
}

// Deps are the connections the gateway works with.
type Deps struct {
	NC  *nats.Conn
	DB  *mongo.Database
	Log *slog.Logger
	// Listener, when set, is served instead of listening on APP_HOST:APP_PORT
	// (tests and services/all pass one bound to the port they chose).
	Listener net.Listener
	// Ready, when set, is called with the address once the server listens.
	Ready func(addr net.Addr)
}

// Run serves HTTP until ctx is cancelled, then lets in-flight requests finish.
func Run(ctx context.Context, cfg Config, d Deps) error {
	api := httpapi.New(httpapi.Options{
		NC:       d.NC,
		Log:      d.Log,
		Version:  Version,
		Registry: telemetry.NewRegistry(),
		Services: []string{contracts.ServiceCredential, contracts.ServiceFile, contracts.ServiceDataset},
	})
	ln := d.Listener
	if ln == nil {
		var err error
		ln, err = net.Listen("tcp", net.JoinHostPort(cfg.App.Host, strconv.Itoa(cfg.App.Port)))
		if err != nil {
			return fmt.Errorf("listen: %w", err)
		}
	}
	srv := &http.Server{
		Handler:           api.Router(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(d.Log.Handler(), slog.LevelWarn),
	}
	if d.Ready != nil {
		d.Ready(ln.Addr())
	}
	d.Log.Info("http listening", "addr", ln.Addr().String())

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	return nil
}
