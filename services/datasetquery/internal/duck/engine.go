package duck

import (
	"context"
	"time"

	"github.com/nonefinity/backend/pkg/demote"
	"github.com/nonefinity/backend/services/datasetquery/internal/datasets"
)

// demoteAfter is how much CPU time a statement or a conversion uses at the
// normal priority; after that it takes only the cores that short requests
// leave idle (pkg/demote). An interactive statement or a small file's
// conversion uses a few tens of milliseconds, however loaded the machine;
// an attacker's sub-second statements, looped, used a core at the normal
// priority with a whole second (make load).
const demoteAfter = 250 * time.Millisecond

// demoted runs fn under demote.After and returns its value.
func demoted[T any](fn func() (T, error)) (T, error) {
	var v T
	err := demote.After(demoteAfter, func() error {
		var err error
		v, err = fn()
		return err
	})
	return v, err
}

// The Manager is the core's engine: its sessions answer queries, and its
// private databases do the core's file work with the sessions' memory
// limit and threads.
var _ datasets.Engine = (*Manager)(nil)

// Sessions is Stats with the sessions' lifetimes.
func (m *Manager) Sessions() datasets.SessionStats {
	st := m.Stats()
	return datasets.SessionStats{Total: st.Total, Active: st.Active, Expired: st.Expired,
		InstanceTTL: m.cfg.InstanceTTL, CleanupInterval: m.cfg.CleanupInterval}
}

// work are the limits of the service's own databases, spilling to spill.
func (m *Manager) work(spill string) Limits {
	return Limits{TempDir: spill, MemoryLimit: m.cfg.MemoryLimit, Threads: m.cfg.Threads}
}

// ConvertCSV is ConvertCSV under the manager's limits.
func (m *Manager) ConvertCSV(ctx context.Context, spill string, src datasets.CSVSource, dst string, opts datasets.CSVOptions) (datasets.ConvertResult, error) {
	return demoted(func() (datasets.ConvertResult, error) { return ConvertCSV(ctx, m.work(spill), src, dst, opts) })
}

// ConvertXLSX is ConvertXLSX under the manager's limits.
func (m *Manager) ConvertXLSX(ctx context.Context, spill, src, dst string, opts datasets.XLSXOptions) (datasets.ConvertResult, error) {
	return demoted(func() (datasets.ConvertResult, error) { return ConvertXLSX(ctx, m.work(spill), src, dst, opts) })
}

// CastCSV is CastCSV under the manager's limits.
func (m *Manager) CastCSV(ctx context.Context, spill string, src datasets.CSVSource, schemaFile, dst string, opts datasets.CSVOptions) (int64, error) {
	return demoted(func() (int64, error) { return CastCSV(ctx, m.work(spill), src, schemaFile, dst, opts) })
}

// CastXLSX is CastXLSX under the manager's limits.
func (m *Manager) CastXLSX(ctx context.Context, spill, src, schemaFile, dst string, opts datasets.XLSXOptions) (int64, error) {
	return demoted(func() (int64, error) { return CastXLSX(ctx, m.work(spill), src, schemaFile, dst, opts) })
}

// Export is Export under the manager's limits.
func (m *Manager) Export(ctx context.Context, spill string, files []string, format, dst string) error {
	return demote.After(demoteAfter, func() error { return Export(ctx, m.work(spill), files, format, dst) })
}

// WriteEmptyParquet is WriteEmptyParquet.
func (m *Manager) WriteEmptyParquet(ctx context.Context, path string, cols []datasets.ColumnDef) error {
	return WriteEmptyParquet(ctx, path, cols)
}

// WriteRejects is WriteRejects under the manager's limits.
func (m *Manager) WriteRejects(ctx context.Context, spill, csvPath, dst string) error {
	return WriteRejects(ctx, m.work(spill), csvPath, dst)
}

// ReadRejects is ReadRejects under the manager's limits.
func (m *Manager) ReadRejects(ctx context.Context, file string, offset, limit int) ([]datasets.Reject, int64, error) {
	return ReadRejects(ctx, m.work(""), file, offset, limit)
}
