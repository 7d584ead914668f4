// Package app wires the datasetquery service: its NATS endpoints and consumers over
// the connections its process opened. cmd/datasetquery runs it alone; services/all
// runs it next to the others in one process.
package app

import (
	"cmp"
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
	"github.com/nonefinity/backend/pkg/config"
	"github.com/nonefinity/backend/pkg/fairshare"
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
	"github.com/nonefinity/backend/services/datasetquery/internal/store"
)

// Name is the service's name in the micro registry (nats micro ls).
const Name = "datasetquery"

// Version is the service's semantic version, reported by micro.
const Version = "0.1.0"

// Config is the service's configuration. Zero values (as when services/all
// builds it without reading the environment) take the documented defaults.
type Config struct {
	config.Base
	// DuckDBMemoryLimit is each session's memory_limit.
	DuckDBMemoryLimit string `env:"DUCKDB_MEMORY_LIMIT" envDefault:"1GB"`
	// DuckDBThreads is each session's and conversion's threads setting;
	// 0 is half the cores (duck.DefaultThreads).
	DuckDBThreads int `env:"DUCKDB_THREADS" envDefault:"0"`
	// DuckDBMaxTempDirectorySize caps a session's spill files.
	DuckDBMaxTempDirectorySize string `env:"DUCKDB_MAX_TEMP_DIRECTORY_SIZE" envDefault:"2GB"`
	// DuckDBQueryTimeout interrupts a longer query (sooner when the
	// caller's deadline is nearer).
	DuckDBQueryTimeout config.Duration `env:"DUCKDB_QUERY_TIMEOUT" envDefault:"10s"`
	// DuckDBMaxConcurrentQueriesPerUser: more at once are refused (429).
	DuckDBMaxConcurrentQueriesPerUser int `env:"DUCKDB_MAX_CONCURRENT_QUERIES_PER_USER" envDefault:"2"`
	// DuckDBCacheTTL removes the local Parquet cache of a user who has had
	// no session on this instance for this long.
	DuckDBCacheTTL config.Duration `env:"DUCKDB_CACHE_TTL" envDefault:"24h"`
	// DuckDBMaxResultBytes caps one query reply (NATS payloads are 1 MiB by
	// default); a longer result is cut and marked truncated.
	DuckDBMaxResultBytes int `env:"DUCKDB_MAX_RESULT_BYTES" envDefault:"786432"`
	// DatasetConvertWait is how long convert waits for its job before it
	// answers 202.
	DatasetConvertWait config.Duration `env:"DATASET_CONVERT_WAIT" envDefault:"60s"`
	// DatasetConvertAckWait is how long JetStream waits for a conversion job
	// whose instance went silent (killed) before redelivering it; a live
	// instance extends it while it works. Zero takes natsx's default (30s).
	DatasetConvertAckWait config.Duration `env:"DATASET_CONVERT_ACK_WAIT" envDefault:"30s"`
	// DatasetMaxFileBytes caps a file downloaded for conversion or insert
	// (after transcoding to UTF-8); default 2 GiB.
	DatasetMaxFileBytes int64 `env:"DATASET_MAX_FILE_BYTES" envDefault:"2147483648"`
	// DatasetXLSXMaxCells caps the cells (rows × columns) read from one
	// sheet of an XLSX file being converted.
	DatasetXLSXMaxCells int64 `env:"DATASET_XLSX_MAX_CELLS" envDefault:"50000000"`
	// DatasetXLSXMaxUncompressed caps what the parts of a workbook read for
	// one sheet may inflate to.
	DatasetXLSXMaxUncompressed int64 `env:"DATASET_XLSX_MAX_UNCOMPRESSED" envDefault:"8589934592"`
	// DatasetMaxColumns caps a dataset's width (conversion and create).
	DatasetMaxColumns int `env:"DATASET_MAX_COLUMNS" envDefault:"4096"`
	// DatasetConvertWorkers is how many conversions an instance runs at once.
	DatasetConvertWorkers int `env:"DATASET_CONVERT_WORKERS" envDefault:"2"`
	// DatasetConvertWorkersPerUser is how many of them one user may hold.
	DatasetConvertWorkersPerUser int `env:"DATASET_CONVERT_WORKERS_PER_USER" envDefault:"1"`
	// DatasetConvertTimeout bounds one conversion run.
	DatasetConvertTimeout config.Duration `env:"DATASET_CONVERT_TIMEOUT" envDefault:"15m"`
	// DatasetMaxPendingConversions caps one user's conversions in
	// progress; more answer 429.
	DatasetMaxPendingConversions int `env:"DATASET_MAX_PENDING_CONVERSIONS" envDefault:"10"`
	// Streams are the replicas and limits of the streams this service
	// declares (DATASETS, JOBS, USERS).
	Streams natsx.StreamSettings
}

// Validate checks the shared variables and the stream settings.
func (c Config) Validate() error {
	return errors.Join(c.Base.Validate(), c.Streams.Validate())
}

// duckConfig is the session configuration; the temp folder defaults to
// DATA_DIR/duckdb.
func (c Config) duckConfig() duck.Config {
	root := c.DuckDB.TempFolder
	if root == "" {
		root = filepath.Join(c.DataDir, "duckdb")
	}
	return duck.Config{
		Root:                 root,
		InstanceTTL:          c.DuckDB.InstanceTTL.Duration(),
		CleanupInterval:      c.DuckDB.CleanupInterval.Duration(),
		QueryTimeout:         c.DuckDBQueryTimeout.Duration(),
		MemoryLimit:          c.DuckDBMemoryLimit,
		MaxTempDirectorySize: c.DuckDBMaxTempDirectorySize,
		Threads:              cmp.Or(max(c.DuckDBThreads, 0), duck.DefaultThreads()),
		MaxConcurrentQueries: c.DuckDBMaxConcurrentQueriesPerUser,
		MaxResultBytes:       c.DuckDBMaxResultBytes,
		CacheTTL:             c.DuckDBCacheTTL.Duration(),
	}
}

// OffHeapMemory is the memory DuckDB may take outside the Go heap
// (DUCKDB_MEMORY_LIMIT), which the Go memory limit leaves to it.
func (c Config) OffHeapMemory() int64 {
	limit := c.DuckDBMemoryLimit
	if limit == "" {
		limit = duck.DefaultMemoryLimit
	}
	n, _ := boot.ParseByteSize(limit)
	return n
}

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
	dcfg := cfg.duckConfig()
	// One pool for statements and conversions: both hold DuckDB threads
	// until they end, and a user's conversions must not get around the
	// share their statements are held to.
	dcfg.CPU = fairshare.New(duck.CPUUnits(dcfg.Threads))
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
		scratch.Options{JobTimeout: cmp.Or(cfg.DatasetConvertTimeout.Duration(), 15*time.Minute), Logger: log})
	if err != nil {
		return err
	}
	defer space.Close()
	pub, err := events.NewPublisher(js, d.Metrics)
	if err != nil {
		return err
	}
	core := datasets.NewService(datasets.Deps{
		Store: st, Objects: d.Store, Engine: sessions, Pub: pub, Jobs: pub,
		Files: fileclient.New(natsx.NewClient(d.NC)),
		Convert: datasets.ConvertConfig{
			MaxFileBytes:        cfg.DatasetMaxFileBytes,
			MaxXLSXCells:        cfg.DatasetXLSXMaxCells,
			MaxXLSXUncompressed: cfg.DatasetXLSXMaxUncompressed,
			MaxColumns:          cfg.DatasetMaxColumns,
			MaxPending:          cfg.DatasetMaxPendingConversions,
			Limits:              duck.Limits{MemoryLimit: dcfg.MemoryLimit, Threads: dcfg.Threads},
		},
		Scratch: space.Dir(),
		Log:     log,
	})

	dbHealth := mongox.WatchHealth(ctx, d.DB.Client(), mongox.HealthOptions{Logger: log})
	defer dbHealth.Stop()
	svc, err := natsx.NewService(d.NC, natsx.ServiceConfig{
		Name:        Name,
		Version:     Version,
		Description: "datasets from spreadsheets and SQL over them on DuckDB",
		Metrics:     d.Metrics,
		Available:   dbHealth.Err,
	}, d.Log)
	if err != nil {
		return fmt.Errorf("register micro service: %w", err)
	}
	err = errors.Join(
		natsx.Handle(svc, healthv1.Subject(contracts.ServiceDataset), health.Handler(Name, Version, map[string]health.Check{
			"mongodb":        func(ctx context.Context) error { return d.DB.Client().Ping(ctx, nil) },
			"object_storage": d.Store.EnsureBucket,
		}), natsx.WithDescription(health.Description), natsx.AlwaysServed()),
		natsapi.Register(svc, core, sessions, natsapi.Options{
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
		Concurrency:    cmp.Or(cfg.DatasetConvertWorkers, 2),
		HandlerTimeout: cmp.Or(cfg.DatasetConvertTimeout.Duration(), 15*time.Minute),
		AckWait:        cfg.DatasetConvertAckWait.Duration(),
		// Deferred jobs stay pending; the server's default (1000) would
		// let one user's queue stop deliveries to everyone.
		MaxAckPending: 100_000,
		Logger:        log,
		Service:       Name,
		Metrics:       d.Metrics,
	}, natsx.Fairness{PerKey: cmp.Or(cfg.DatasetConvertWorkersPerUser, 1), Retry: 2 * time.Second, Admit: dcfg.CPU.TryAcquire})
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
