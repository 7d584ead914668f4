// Package app wires the datasetquery service: its NATS endpoints and consumers over
// the connections its process opened. cmd/datasetquery runs it alone; services/all
// runs it next to the others in one process.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

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
	"github.com/nonefinity/backend/services/datasetquery/internal/datasets"
	"github.com/nonefinity/backend/services/datasetquery/internal/duck"
	"github.com/nonefinity/backend/services/datasetquery/internal/events"
	"github.com/nonefinity/backend/services/datasetquery/internal/fileclient"
	"github.com/nonefinity/backend/services/datasetquery/internal/natsapi"
	"github.com/nonefinity/backend/services/datasetquery/internal/objects"
	"github.com/nonefinity/backend/services/datasetquery/internal/store"
)

// Name is the service's name in the micro registry (nats micro ls).
const Name = "datasetquery"

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

// Run serves until ctx is cancelled, then stops taking requests and returns
// once in-flight requests are answered.
func Run(ctx context.Context, cfg Config, d Deps) error {
	return boot.IgnoreShutdown(ctx, serve(ctx, cfg, d))
}

func serve(ctx context.Context, cfg Config, d Deps) error {
	// Checked here too, not only by config.Load: services/all and tests
	// build Config themselves, and a size DuckDB refuses must stop the
	// start, not fail the first query.
	if err := cfg.Settings.Validate(); err != nil {
		return err
	}
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	js, err := jetstream.New(d.NC)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	// The streams this service publishes to and consumes from, so it can
	// start before the others.
	if err := cfg.Streams.Ensure(ctx, js, log, contracts.StreamDatasets, contracts.StreamJobs, contracts.StreamUsers); err != nil {
		return err
	}
	st := store.New(d.DB)
	if err := st.EnsureIndexes(ctx, log); err != nil {
		return fmt.Errorf("datasets indexes: %w", err)
	}
	dcfg := cfg.Sessions()
	// One pool for statements and conversions: both hold DuckDB threads
	// until they end, and a user's conversions must not get around the
	// share their statements are held to.
	dcfg.CPU = duck.NewCPUPool(dcfg.Threads)
	sessions, err := duck.NewManager(dcfg, st, d.Store, log)
	if err != nil {
		return err
	}
	defer sessions.Close()
	changes, err := events.WatchChanges(d.NC)
	if err != nil {
		return err
	}
	defer changes.Stop()
	sessions.TrackChanges(changes)
	sweepCtx, stopSweep := context.WithCancel(ctx)
	defer stopSweep()
	go sessions.Run(sweepCtx)
	// Conversions, inserts and exports work in this instance's scratch
	// directory; what a killed instance left there (a full source copy,
	// up to DATASET_MAX_FILE_BYTES) is removed at the next start or by a
	// sweep. Inserts and exports end with their request, long before a
	// conversion's timeout.
	space, err := scratch.Open(filepath.Join(sessions.Config().Root, "_scratch"),
		scratch.Options{JobTimeout: cfg.DatasetConvertTimeout.Duration(), Logger: log})
	if err != nil {
		return err
	}
	defer space.Close()
	pub, err := events.NewPublisher(js, d.Metrics)
	if err != nil {
		return err
	}
	core := datasets.NewService(datasets.Deps{
		Store: st, Objects: objects.New(d.Store), Engine: sessions, Pub: pub, Jobs: pub,
		Files:    fileclient.New(natsx.NewClient(d.NC)),
		Outcomes: events.NewOutcomes(d.NC),
		Convert: datasets.ConvertConfig{
			MaxFileBytes:        cfg.DatasetMaxFileBytes,
			MaxXLSXCells:        cfg.DatasetXLSXMaxCells,
			MaxXLSXUncompressed: cfg.DatasetXLSXMaxUncompressed,
			MaxColumns:          cfg.DatasetMaxColumns,
			MaxPending:          cfg.DatasetMaxPendingConversions,
		},
		Scratch: space.Dir(),
		Log:     log,
	})

	dbHealth := mongox.WatchHealth(ctx, d.DB.Client(), mongox.HealthOptions{Logger: log})
	defer dbHealth.Stop()
	svc, err := natsx.NewService(d.NC, natsx.ServiceConfig{
		Name:         Name,
		Version:      Version,
		Description:  "datasets from spreadsheets and SQL over them on DuckDB",
		Metrics:      d.Metrics,
		Available:    dbHealth.Err,
		Share:        natsx.NewShare(),
		UserRequired: true,
	}, d.Log)
	if err != nil {
		return fmt.Errorf("register micro service: %w", err)
	}
	err = errors.Join(
		natsx.Handle(svc, healthv1.Subject(contracts.ServiceDataset), health.Handler(Name, Version, map[string]health.Check{
			"mongodb":        func(ctx context.Context) error { return d.DB.Client().Ping(ctx, nil) },
			"object_storage": d.Store.EnsureBucket,
		}), natsx.WithDescription(health.Description), natsx.AlwaysServed(), natsx.WithoutUser()),
		natsapi.Register(svc, core, natsapi.Options{
			Metrics:          d.Metrics,
			QueryConcurrency: 2 * max(dcfg.MaxConcurrentQueries, 4),
			NC:               d.NC,
			ConvertWait:      cfg.DatasetConvertWait.Duration(),
		}),
	)
	if err != nil {
		_ = svc.Stop()
		return fmt.Errorf("register endpoints: %w", err)
	}
	erasing, err := events.StartErasure(ctx, js, core, natsx.ErasureOptions{Service: Name, Metrics: d.Metrics, Logger: log})
	if err != nil {
		_ = svc.Stop()
		return fmt.Errorf("start erasure consumer: %w", err)
	}
	converting, err := events.StartConverting(ctx, js, core, natsx.ConsumerOptions{
		// The core counts attempts; a deferral (another user's turn) is
		// not one.
		MaxDeliver:     -1,
		Concurrency:    cfg.DatasetConvertWorkers,
		HandlerTimeout: cfg.DatasetConvertTimeout.Duration(),
		AckWait:        cfg.DatasetConvertAckWait.Duration(),
		// Deferred jobs stay pending; the server's default (1000) would
		// let one user's queue stop deliveries to everyone.
		MaxAckPending: 100_000,
		Logger:        log,
		Service:       Name,
		Metrics:       d.Metrics,
	}, natsx.Fairness{PerKey: cfg.DatasetConvertWorkersPerUser, Retry: 2 * time.Second, Admit: dcfg.CPU.TryAcquire})
	if err != nil {
		_ = svc.Stop()
		erasing.Stop()
		return fmt.Errorf("start conversion consumer: %w", err)
	}
	log.Info("service ready", "version", Version)
	<-ctx.Done()
	stopErr := svc.Stop()
	erasing.Stop()
	converting.Stop()
	return stopErr
}
