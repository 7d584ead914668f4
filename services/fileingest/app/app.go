// Package app wires the fileingest service: its NATS endpoints and consumers over
// the connections its process opened. cmd/fileingest runs it alone; services/all
// runs it next to the others in one process.
package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/healthv1"
	"github.com/nonefinity/backend/pkg/boot"
	"github.com/nonefinity/backend/pkg/health"
	"github.com/nonefinity/backend/pkg/mongox"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/pkg/objstore"
	"github.com/nonefinity/backend/pkg/scratch"
	"github.com/nonefinity/backend/services/fileingest/internal/events"
	"github.com/nonefinity/backend/services/fileingest/internal/files"
	"github.com/nonefinity/backend/services/fileingest/internal/natsapi"
	"github.com/nonefinity/backend/services/fileingest/internal/objects"
	"github.com/nonefinity/backend/services/fileingest/internal/sniff"
	"github.com/nonefinity/backend/services/fileingest/internal/store"
)

// Name is the service's name in the micro registry (nats micro ls).
const Name = "fileingest"

// Version is the service's semantic version, reported by micro.
const Version = "0.1.0"

// Deps are the connections the service works with.
type Deps struct {
	NC    *nats.Conn
	DB    *mongo.Database
	Store *objstore.Store
	Log   *slog.Logger
	// Metrics, when set, receives the service's metrics (services/all
	// serves them on the gateway's /metrics).
	Metrics prometheus.Registerer
}

// Run serves until ctx is cancelled, then stops taking requests, lets the
// files being processed finish, and returns.
func Run(ctx context.Context, cfg Config, d Deps) error {
	return boot.IgnoreShutdown(ctx, serve(ctx, cfg, d))
}

func serve(ctx context.Context, cfg Config, d Deps) error {
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Spooled workbooks live in this instance's scratch directory, so what a
	// killed instance left is removed at the next start or by a sweep.
	space, err := scratch.Open(filepath.Join(cmp.Or(cfg.TempDir, os.TempDir()), "nonefinity-fileingest"),
		scratch.Options{JobTimeout: cfg.ProcessTimeout.Duration(), Logger: log})
	if err != nil {
		return err
	}
	defer space.Close()
	cfg.TempDir = space.Dir()
	js, err := jetstream.New(d.NC)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	// The streams this service publishes to and consumes from, so it can
	// start before any other service.
	if err := cfg.Streams.Ensure(ctx, js, log, contracts.StreamFiles, contracts.StreamUsers); err != nil {
		return err
	}
	st := store.New(d.DB)
	if err := st.EnsureIndexes(ctx, log); err != nil {
		return fmt.Errorf("files indexes: %w", err)
	}
	go applyBrowserCORS(ctx, d.Store, cfg.CORSOrigins, log)
	bucket := objects.New(d.Store)
	core := files.NewService(st, bucket, events.NewPublisher(js), coreConfig(cfg), log)

	dbHealth := mongox.WatchHealth(ctx, d.DB.Client(), mongox.HealthOptions{Logger: log})
	defer dbHealth.Stop()
	svc, err := natsx.NewService(d.NC, natsx.ServiceConfig{
		Name:         Name,
		Version:      Version,
		Description:  "uploads, file metadata and the file processing pipeline",
		Metrics:      d.Metrics,
		Available:    dbHealth.Err,
		Share:        natsx.NewShare(),
		UserRequired: true,
	}, log)
	if err != nil {
		return fmt.Errorf("register micro service: %w", err)
	}
	err = errors.Join(
		natsx.Handle(svc, healthv1.Subject(contracts.ServiceFile), health.Handler(Name, Version, map[string]health.Check{
			"mongodb":        func(ctx context.Context) error { return d.DB.Client().Ping(ctx, nil) },
			"object_storage": d.Store.EnsureBucket,
		}), natsx.WithDescription(health.Description), natsx.AlwaysServed(), natsx.WithoutUser()),
		natsapi.Register(svc, core, d.NC.MaxPayload()),
	)
	if err != nil {
		_ = svc.Stop()
		return fmt.Errorf("register endpoints: %w", err)
	}

	processing, err := events.StartProcessing(ctx, js, core, natsx.ConsumerOptions{
		// The core counts attempts (FILE_PROCESS_MAX_DELIVER); a deferral
		// (another user's turn) is not one.
		MaxDeliver:     -1,
		AckWait:        cfg.ProcessAckWait.Duration(),
		Concurrency:    cfg.ProcessConcurrency,
		HandlerTimeout: cfg.ProcessTimeout.Duration(),
		// Deferred files stay pending; the server's default (1000) would
		// let one user's uploads stop deliveries to everyone.
		MaxAckPending: 100_000,
		Logger:        log,
		Service:       Name,
		Metrics:       d.Metrics,
	}, natsx.Fairness{PerKey: cfg.ProcessPerUser})
	if err != nil {
		_ = svc.Stop()
		return fmt.Errorf("start processing consumer: %w", err)
	}
	erasing, err := events.StartErasure(ctx, js, core, natsx.ErasureOptions{Service: Name, Metrics: d.Metrics, Logger: log})
	if err != nil {
		processing.Stop()
		_ = svc.Stop()
		return fmt.Errorf("start erasure consumer: %w", err)
	}

	sweeper := files.UploadSweeper{Store: bucket, Uncommitted: core, MaxAge: cfg.MultipartMaxAge.Duration(), Log: log}
	sweepDone := make(chan struct{})
	go func() {
		defer close(sweepDone)
		sweeper.Run(ctx, cfg.MultipartSweepInterval.Duration())
	}()

	log.Info("service ready", "version", Version)
	<-ctx.Done()
	stopErr := svc.Stop()
	processing.Stop()
	erasing.Stop()
	<-sweepDone
	return stopErr
}

func coreConfig(cfg Config) files.Config {
	return files.Config{
		MaxFileSize:    cfg.MaxFileSize,
		UserQuota:      cfg.UserQuotaBytes,
		UploadURLTTL:   cfg.UploadURLTTL.Duration(),
		DownloadURLTTL: cfg.DownloadURLTTL.Duration(),
		OpenURLTTL:     cfg.OpenURLTTL.Duration(),
		MaxAttempts:    cfg.ProcessMaxDeliver,
		Inspect: sniff.Limits{
			MaxSpoolBytes:   cfg.SpreadsheetMaxBytes,
			MaxUncompressed: cfg.XLSXMaxUncompressed,
			MaxCells:        cfg.XLSXMaxCells,
			TempDir:         cfg.TempDir,
		},
	}
}
