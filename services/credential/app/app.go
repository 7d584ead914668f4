// Package app wires the credential service: its NATS endpoints and consumers over
// the connections its process opened. cmd/credential runs it alone; services/all
// runs it next to the others in one process.
package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/healthv1"
	"github.com/nonefinity/backend/pkg/config"
	"github.com/nonefinity/backend/pkg/health"
	"github.com/nonefinity/backend/pkg/natsx"
)

// Name is the service's name in the micro registry (nats micro ls).
const Name = "credential"

// Version is the service's semantic version, reported by micro.
const Version = "0.1.0"

// Config is the service's configuration.
type Config struct {
	config.Base
}

// Deps are the connections the service works with.
type Deps struct {
	NC  *nats.Conn
	DB  *mongo.Database
	Log *slog.Logger
}

// Run serves until ctx is cancelled, then stops taking requests and returns
// once in-flight requests are answered.
func Run(ctx context.Context, cfg Config, d Deps) error {
	svc, err := natsx.NewService(d.NC, natsx.ServiceConfig{
		Name:        Name,
		Version:     Version,
		Description: "AI provider catalogue and encrypted provider API keys",
	}, d.Log)
	if err != nil {
		return fmt.Errorf("register micro service: %w", err)
	}
	if err := natsx.Handle(svc, healthv1.Subject(contracts.ServiceCredential), health.Handler(Name, Version, map[string]health.Check{
		"mongodb": func(ctx context.Context) error { return d.DB.Client().Ping(ctx, nil) },
	})); err != nil {
		_ = svc.Stop()
		return fmt.Errorf("register health endpoint: %w", err)
	}
	d.Log.Info("service ready", "version", Version)
	<-ctx.Done()
	return svc.Stop()
}
