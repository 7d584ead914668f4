// Command credential runs the credential service on its own, against the NATS,
// MongoDB and object storage named by the environment.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/nonefinity/backend/pkg/boot"
	"github.com/nonefinity/backend/pkg/config"
	"github.com/nonefinity/backend/pkg/healthprobe"
	"github.com/nonefinity/backend/services/credential/app"
)

// version is set at build time (-ldflags "-X main.version=…").
var version = "dev"

func main() {
	if healthprobe.Requested(os.Args) {
		os.Exit(healthcheck())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, app.Name+":", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	cfg, err := config.Load[app.Config]()
	if err != nil {
		return err
	}
	infra, err := boot.Open(ctx, cfg.Base, boot.Options{Service: app.Name, Version: version, Mongo: true})
	if err != nil {
		return err
	}
	// Close with a fresh context: ctx is already cancelled at shutdown.
	defer infra.Close(context.Background())
	return app.Run(ctx, cfg, app.Deps{NC: infra.NC, DB: infra.DB, Log: infra.Log, Metrics: infra.Metrics})
}

// healthcheck is the container's health check (healthprobe): the service
// answers GET /health on its ops server (OPS_ADDR).
func healthcheck() int {
	cfg, err := config.Load[app.Config]()
	return healthprobe.Main(cfg.OpsAddr, err)
}
