package duck

import (
	"runtime"
	"time"

	"github.com/nonefinity/backend/pkg/fairshare"
)

// Config sets where sessions live and what they may use.
type Config struct {
	// Root holds one directory per user (DUCKDB_TEMP_FOLDER).
	Root string
	// InstanceTTL closes a session this long after its last use;
	// CleanupInterval is how often the sweep looks.
	InstanceTTL, CleanupInterval time.Duration
	// QueryTimeout interrupts a statement that runs longer.
	QueryTimeout time.Duration
	// MemoryLimit and MaxTempDirectorySize are DuckDB sizes ("1GB").
	MemoryLimit, MaxTempDirectorySize string
	// Threads per session (datasetquery turns DUCKDB_THREADS=0 into
	// DefaultThreads).
	Threads int
	// MaxConcurrentQueries per user; more at once are refused.
	MaxConcurrentQueries int
	// CPU shares the cores between users: every statement (and, through
	// the same pool, every conversion) runs as one of its units. Nil
	// gives a pool of its own (NewCPUPool).
	CPU *fairshare.Pool
	// MaxResultBytes caps the encoded rows of one reply; the result is cut
	// (Truncated) before it would exceed it.
	MaxResultBytes int
	// SpareSessions is how many databases are kept open ahead of new
	// sessions (negative: none).
	SpareSessions int
	// CacheTTL removes the Parquet cache of a user without a session on
	// this instance this long after the session closed, so a user who
	// does not come back does not keep disk space forever.
	CacheTTL time.Duration
	// CatalogMaxAge bounds how long a session trusts its copy of the
	// user's catalog with a live change feed: the safety net for a change
	// whose event was never published.
	CatalogMaxAge time.Duration
}

// withDefaults fills the tuning that no variable sets. Every other field
// comes from datasetquery's Settings, whose envDefault tags are the one
// place its defaults are written.
func (c Config) withDefaults() Config {
	if c.SpareSessions == 0 {
		c.SpareSessions = 1
	}
	if c.CatalogMaxAge <= 0 {
		c.CatalogMaxAge = 30 * time.Second
	}
	if c.CPU == nil {
		c.CPU = NewCPUPool(c.Threads)
	}
	return c
}

// Config is the effective configuration (defaults applied).
func (m *Manager) Config() Config { return m.cfg }

// NewCPUPool is the pool statements and conversions share: CPUUnits
// capacity, and one user holds at most half of it (at least one unit), so
// another user's next statement or conversion finds a core free instead of
// competing with that user's for the same ones (running work cannot be
// taken back).
func NewCPUPool(threads int) *fairshare.Pool {
	units := CPUUnits(threads)
	return fairshare.New(units, fairshare.PerKey(max(1, units/2)))
}

// CPUUnits is how many statements of threads each the cores run at once
// (at least one): the capacity of the CPU pool.
func CPUUnits(threads int) int {
	return max(1, runtime.GOMAXPROCS(0)/max(threads, 1))
}

// DefaultThreads is a statement's share of the machine when none is
// configured: half its cores, at least one, so one user's statement never
// takes every core from the others.
func DefaultThreads() int { return max(1, runtime.GOMAXPROCS(0)/2) }
