package app

import (
	"cmp"
	"errors"
	"path/filepath"
	"time"

	"github.com/nonefinity/backend/pkg/boot"
	"github.com/nonefinity/backend/pkg/config"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/services/datasetquery/internal/duck"
)

// Settings are the variables only datasetquery reads. services/all holds
// them too, as its Datasetquery.
type Settings struct {
	// DuckDBTempFolder holds the per-user sessions; empty is DATA_DIR/duckdb.
	DuckDBTempFolder string `env:"DUCKDB_TEMP_FOLDER"`
	// DuckDBInstanceTTL closes a session this long after its last use.
	DuckDBInstanceTTL config.Duration `env:"DUCKDB_INSTANCE_TTL" envDefault:"10m"`
	// DuckDBCleanupInterval is how often idle sessions are swept.
	DuckDBCleanupInterval config.Duration `env:"DUCKDB_CLEANUP_INTERVAL" envDefault:"1m"`
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
	// instance extends it while it works.
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
}

// DefaultSettings are the Settings as an empty environment gives them, for
// callers that do not load them from the environment (tests).
func DefaultSettings() Settings { return config.Defaults[Settings]() }

// Validate checks the settings. The two DuckDB sizes are read as DuckDB
// reads them, so a value its sessions would refuse at the first query is
// refused at start instead.
func (s Settings) Validate() error {
	var errs config.Problems
	bad := errs.Add
	for _, d := range []struct {
		name string
		v    config.Duration
	}{
		{"DUCKDB_INSTANCE_TTL", s.DuckDBInstanceTTL},
		{"DUCKDB_CLEANUP_INTERVAL", s.DuckDBCleanupInterval},
		{"DUCKDB_QUERY_TIMEOUT", s.DuckDBQueryTimeout},
		{"DUCKDB_CACHE_TTL", s.DuckDBCacheTTL},
		{"DATASET_CONVERT_WAIT", s.DatasetConvertWait},
		{"DATASET_CONVERT_TIMEOUT", s.DatasetConvertTimeout},
	} {
		if d.v <= 0 {
			bad(d.name, "must be greater than zero")
		}
	}
	// As FILE_PROCESS_ACK_WAIT: under a second is a unit mistake.
	if s.DatasetConvertAckWait.Duration() < time.Second {
		bad("DATASET_CONVERT_ACK_WAIT", "must be at least 1s")
	}
	if err := duck.CheckSize(s.DuckDBMemoryLimit); err != nil {
		bad("DUCKDB_MEMORY_LIMIT", "must be a DuckDB size such as 1GB or 512MiB (units KB, MB, GB, TB, KiB, MiB, GiB, TiB)")
	}
	if err := duck.CheckSize(s.DuckDBMaxTempDirectorySize); err != nil {
		bad("DUCKDB_MAX_TEMP_DIRECTORY_SIZE", "must be a DuckDB size such as 2GB or 512MiB (units KB, MB, GB, TB, KiB, MiB, GiB, TiB)")
	}
	if s.DuckDBThreads < 0 {
		bad("DUCKDB_THREADS", "must be 0 (half the cores) or a number of threads")
	}
	for _, n := range []struct {
		name string
		v    int64
	}{
		{"DUCKDB_MAX_CONCURRENT_QUERIES_PER_USER", int64(s.DuckDBMaxConcurrentQueriesPerUser)},
		{"DUCKDB_MAX_RESULT_BYTES", int64(s.DuckDBMaxResultBytes)},
		{"DATASET_MAX_FILE_BYTES", s.DatasetMaxFileBytes},
		{"DATASET_XLSX_MAX_CELLS", s.DatasetXLSXMaxCells},
		{"DATASET_XLSX_MAX_UNCOMPRESSED", s.DatasetXLSXMaxUncompressed},
		{"DATASET_MAX_COLUMNS", int64(s.DatasetMaxColumns)},
		{"DATASET_CONVERT_WORKERS", int64(s.DatasetConvertWorkers)},
		{"DATASET_CONVERT_WORKERS_PER_USER", int64(s.DatasetConvertWorkersPerUser)},
		{"DATASET_MAX_PENDING_CONVERSIONS", int64(s.DatasetMaxPendingConversions)},
	} {
		if n.v < 1 {
			bad(n.name, "must be at least 1")
		}
	}
	return errors.Join(errs...)
}

// OffHeapMemory is the memory DuckDB may take outside the Go heap
// (DUCKDB_MEMORY_LIMIT), which the Go memory limit leaves to it; 0 when
// the limit is not a size (DuckDB's "none").
func (s Settings) OffHeapMemory() int64 {
	n, _ := boot.ParseByteSize(s.DuckDBMemoryLimit)
	return n
}

// Config is the service's configuration.
type Config struct {
	config.Base
	Settings
	// Streams are the replicas and limits of the streams this service
	// declares (DATASETS, JOBS, USERS).
	Streams natsx.StreamSettings
}

// Validate checks the shared rules, the service's own and the streams'.
func (c Config) Validate() error {
	return errors.Join(c.Base.Validate(), c.Settings.Validate(), c.Streams.Validate())
}

// Sessions is the configuration of the DuckDB sessions; the temp folder
// defaults to DATA_DIR/duckdb.
func (c Config) Sessions() duck.Config {
	root := c.DuckDBTempFolder
	if root == "" {
		root = filepath.Join(c.DataDir, "duckdb")
	}
	return duck.Config{
		Root:                 root,
		InstanceTTL:          c.DuckDBInstanceTTL.Duration(),
		CleanupInterval:      c.DuckDBCleanupInterval.Duration(),
		QueryTimeout:         c.DuckDBQueryTimeout.Duration(),
		MemoryLimit:          c.DuckDBMemoryLimit,
		MaxTempDirectorySize: c.DuckDBMaxTempDirectorySize,
		Threads:              cmp.Or(c.DuckDBThreads, duck.DefaultThreads()),
		MaxConcurrentQueries: c.DuckDBMaxConcurrentQueriesPerUser,
		MaxResultBytes:       c.DuckDBMaxResultBytes,
		CacheTTL:             c.DuckDBCacheTTL.Duration(),
	}
}
