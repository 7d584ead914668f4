// Package boot opens what every service process needs before it can serve:
// logging, Sentry, NATS and (optionally) MongoDB and object storage, from the
// shared configuration, and closes them again in the right order on shutdown.
// Each service main calls Open, hands the connections to its app package and
// calls Close when run returns.
package boot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nonefinity/backend/pkg/config"
	"github.com/nonefinity/backend/pkg/health"
	"github.com/nonefinity/backend/pkg/logx"
	"github.com/nonefinity/backend/pkg/mongox"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/pkg/objstore"
	"github.com/nonefinity/backend/pkg/opsserver"
	"github.com/nonefinity/backend/pkg/telemetry"
)

// Options says which dependencies a service needs.
type Options struct {
	Service string // process name, e.g. "credential"
	Version string
	Mongo   bool // connect to MongoDB
	Store   bool // open object storage and ensure the bucket
	// Log, when set, is used as is and Sentry is left to whoever made it:
	// services/all shares one logger and one Sentry client between services.
	// The process's Go memory limit is then also left to that owner.
	Log *slog.Logger
	// OffHeapMemory is what the service spends outside the Go heap (DuckDB's
	// memory_limit), kept out of the Go memory limit (ApplyMemoryLimit).
	OffHeapMemory int64
	// Metrics is the registry the service's metrics go to; nil makes one
	// (services/all shares its own between the services).
	Metrics *prometheus.Registry
}

// Infra holds a service process's open connections.
type Infra struct {
	Log   *slog.Logger
	NC    *nats.Conn
	Mongo *mongo.Client
	DB    *mongo.Database
	Store *objstore.Store
	// Metrics is the registry to hand to the service (its Deps.Metrics);
	// OPS_ADDR's /metrics serves it.
	Metrics *prometheus.Registry

	ops     *opsserver.Server
	closers []func(context.Context) error
}

// Open sets up logging, Sentry and the Go memory limit, then connects to NATS and, as asked, to
// MongoDB and object storage. On error everything opened so far is closed.
//
// With OPS_ADDR set it also serves /metrics and /health there, checking
// what it connected to.
func Open(ctx context.Context, cfg config.Base, opts Options) (*Infra, error) {
	in := &Infra{Log: opts.Log, Metrics: opts.Metrics}
	if in.Metrics == nil {
		in.Metrics = telemetry.NewRegistry()
	}
	if in.Log == nil {
		if err := in.openLogAndSentry(cfg, opts); err != nil {
			in.Close(ctx)
			return nil, err
		}
	}
	log := in.Log
	if opts.Log == nil {
		ApplyMemoryLimit(log, opts.OffHeapMemory)
	}

	nc, err := natsx.Connect(cfg.NATSURL, natsx.ConnectOptions{Name: opts.Service, CredsFile: cfg.NATSCreds, Logger: log})
	if err != nil {
		in.Close(ctx)
		return nil, fmt.Errorf("nats: %w", err)
	}
	in.NC = nc
	in.closers = append(in.closers, func(context.Context) error { return natsx.Drain(nc, 10*time.Second) })

	if opts.Mongo {
		client, db, err := mongox.Connect(ctx, cfg.Mongo.URI(), cfg.Mongo.Database(), mongox.ConnectOptions{
			AppName: opts.Service, ServerSelectionTimeout: cfg.Mongo.ServerSelectionTimeout.Duration(), Logger: log,
		})
		if err != nil {
			in.Close(ctx)
			return nil, fmt.Errorf("mongodb: %w", err)
		}
		in.Mongo, in.DB = client, db
		in.closers = append(in.closers, client.Disconnect)
	}

	if opts.Store {
		host, secure, err := cfg.MinIO.Endpoint()
		if err != nil {
			in.Close(ctx)
			return nil, fmt.Errorf("object storage: %w", err)
		}
		st, err := objstore.New(objstore.Config{
			Endpoint: host, Secure: secure,
			AccessKey: cfg.MinIO.AccessKey, SecretKey: cfg.MinIO.SecretKey,
			Bucket: cfg.MinIO.Bucket, Region: cfg.MinIO.Region,
		})
		if err == nil {
			err = st.EnsureBucket(ctx)
		}
		if err != nil {
			in.Close(ctx)
			return nil, fmt.Errorf("object storage: %w", err)
		}
		in.Store = st
	}
	if cfg.OpsAddr != "" {
		if err := in.serveOps(cfg.OpsAddr, opts); err != nil {
			in.Close(ctx)
			return nil, err
		}
	}
	return in, nil
}

// serveOps starts the ops server; it is closed first, before the
// connections its health checks use.
func (in *Infra) serveOps(addr string, opts Options) error {
	checks := map[string]health.Check{
		"nats": func(context.Context) error {
			if !in.NC.IsConnected() {
				return errors.New("not connected")
			}
			return nil
		},
	}
	if in.Mongo != nil {
		checks["mongodb"] = func(ctx context.Context) error { return in.Mongo.Ping(ctx, nil) }
	}
	if in.Store != nil {
		checks["object_storage"] = in.Store.EnsureBucket
	}
	srv, err := opsserver.Start(addr, opsserver.Options{
		Service: opts.Service, Version: opts.Version, Registry: in.Metrics, Checks: checks, Log: in.Log,
	})
	if err != nil {
		return err
	}
	in.ops = srv
	in.closers = append(in.closers, srv.Close)
	return nil
}

// OpsAddr is where the ops server listens ("" without OPS_ADDR), e.g. the
// port the system chose for OPS_ADDR=127.0.0.1:0.
func (in *Infra) OpsAddr() string {
	if in.ops == nil {
		return ""
	}
	return in.ops.Addr().String()
}

// Close releases everything in reverse order of opening: NATS is drained
// before the stores it feeds are closed, and logs are flushed last.
func (in *Infra) Close(ctx context.Context) error {
	var errs []error
	for i := len(in.closers) - 1; i >= 0; i-- {
		if err := in.closers[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	in.closers = nil
	return errors.Join(errs...)
}

func (in *Infra) openLogAndSentry(cfg config.Base, opts Options) error {
	log, closeLog, err := logx.New(logx.Options{Env: cfg.App.Env, Level: cfg.LogLevel, File: cfg.LogFile, Service: opts.Service})
	if err != nil {
		return fmt.Errorf("logging: %w", err)
	}
	in.Log = log
	in.closers = append(in.closers, func(context.Context) error { return closeLog() })

	flush, err := telemetry.InitSentry(SentryOptions(cfg, opts.Service, opts.Version))
	if err != nil {
		return fmt.Errorf("sentry: %w", err)
	}
	in.closers = append(in.closers, func(context.Context) error { flush(2 * time.Second); return nil })
	return nil
}

// SentryOptions maps the shared configuration onto telemetry's options.
func SentryOptions(cfg config.Base, service, version string) telemetry.SentryOptions {
	return telemetry.SentryOptions{
		DSN:                cfg.Sentry.DSN,
		Environment:        cfg.App.Env,
		Release:            service + "@" + version,
		ServerName:         service,
		TracesSampleRate:   cfg.Sentry.TracesSampleRate,
		ProfilesSampleRate: cfg.Sentry.ProfilesSampleRate,
		SendDefaultPII:     cfg.Sentry.SendDefaultPII,
	}
}

// IgnoreShutdown returns nil when err only reports that ctx was cancelled: a
// service asked to stop while it was still starting (creating indexes,
// consumers…) has stopped cleanly, not failed. Other errors pass unchanged.
func IgnoreShutdown(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
