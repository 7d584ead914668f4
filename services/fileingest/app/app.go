// Package app wires the fileingest service: its NATS endpoints and consumers over
// the connections its process opened. cmd/fileingest runs it alone; services/all
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
	"github.com/nonefinity/backend/pkg/objstore"
)

// Name is the service's name in the micro registry (nats micro ls).
const Name = "fileingest"

// Version is the service's semantic version, reported by micro.
const Version = "0.1.0"

// Config is the service's configuration.
type Config struct {
	config.Base
}

// Deps are the connections the service works with.
type Deps struct {
	NC    *nats.Conn
	DB    *mongo.Database
	Store *objstore.Store
	Log   *slog.Logger
}

// Run serves until ctx is cancelled, then stops taking requests and returns
// once in-flight requests are answered.
func Run(ctx context.Context, cfg Config, d Deps) error {
	svc, err := natsx.NewService(d.NC, natsx.ServiceConfig{
		Name:        Name,
		Version:     Version,
		Description: "uploads, file metadata and the file processing pipeline",
	}, d.Log)
	if err != nil {
		return fmt.Errorf("register micro service: %w", err)
	}
	if err := natsx.Handle(svc, healthv1.Subject(contracts.ServiceFile), health.Handler(Name, Version, map[string]health.Check{
		"mongodb":        func(ctx context.Context) error { return d.DB.Client().Ping(ctx, nil) },
		"object_storage": d.Store.EnsureBucket,
	})); err != nil {
		_ = svc.Stop()
		return fmt.Errorf("register health endpoint: %w", err)
	}
	d.Log.Info("service ready", "version", Version)
	<-ctx.Done()
	return svc.Stop()
}
