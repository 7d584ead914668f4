package duck

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/nonefinity/backend/pkg/demote"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/services/datasetquery/internal/datasets"
)

// Query runs one read-only statement for userID and returns at most limit
// rows, with the errors datasets.Engine names (DuckDB's message, paths
// removed, in a *datasets.QueryError).
func (m *Manager) Query(ctx context.Context, userID, query string, limit int) (datasets.Result, error) {
	started := time.Now()
	v, err := m.guard.inspect(ctx, query)
	if err != nil {
		return datasets.Result{}, m.queryError(err)
	}

	var pre *prefetch
	if !m.hasSession(userID) {
		// The query needs the catalog and its datasets' parts: fetch them
		// while the session opens.
		pre = m.startPrefetch(ctx, userID, v.names)
	}
	s, release, err := m.acquire(ctx, userID)
	if err != nil {
		return datasets.Result{}, err
	}
	defer release()
	select {
	case s.slots <- struct{}{}:
		s.querying.Add(1)
		defer func() { s.querying.Add(-1); <-s.slots }()
	default:
		return datasets.Result{}, datasets.ErrTooManyQueries
	}

	ctx, cancel, timeout := m.statementContext(ctx)
	defer cancel()
	// Waiting for a share of the cores counts against the statement's
	// time: a user who keeps the machine busy waits for their own work.
	cpu, err := m.cfg.CPU.Acquire(ctx, userID)
	if err != nil {
		return datasets.Result{}, m.runError(ctx, timeout, err)
	}
	defer cpu()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return datasets.Result{}, m.runError(ctx, timeout, err)
	}
	defer conn.Close()

	if err := m.syncViews(ctx, s, v.names, false, pre); err != nil {
		return datasets.Result{}, m.runError(ctx, timeout, err)
	}

	var res datasets.Result
	runOnce := func() error {
		return conn.Raw(func(dc any) error {
			var rerr error
			res, rerr = m.run(ctx, dc.(*duckdb.Conn), query, v.statements, limit)
			return rerr
		})
	}
	err = demote.After(demoteAfter, runOnce)
	if missing := missingTable(err); missing != "" {
		// The name extraction missed a reference (DESCRIBE t, SUMMARIZE t),
		// or the dataset is newer than the session's catalog copy: if it is
		// one of the user's datasets, load it and try once more.
		if serr := m.syncViews(ctx, s, []string{missing}, true, nil); serr != nil {
			return datasets.Result{}, m.runError(ctx, timeout, serr)
		}
		if _, ok := s.viewFor(missing); ok {
			err = demote.After(demoteAfter, runOnce)
		}
	}
	if err != nil {
		return datasets.Result{}, m.runError(ctx, timeout, err)
	}
	res.Elapsed = time.Since(started)
	return res, nil
}

// answerMargin keeps, of the caller's remaining time, a quarter and at most
// a second for the interrupted statement to stop and the reply to travel.
var answerMargin = natsx.Margin{Divisor: 4, Max: time.Second}

// statementContext bounds a statement by QueryTimeout and, sooner, by the
// caller's deadline less answerMargin (natsx.Budget). It returns the bound
// it applied.
func (m *Manager) statementContext(ctx context.Context) (context.Context, context.CancelFunc, time.Duration) {
	return natsx.WithBudget(ctx, m.cfg.QueryTimeout, answerMargin)
}

// run prepares the statement, checks its type and reads up to limit rows
// under the byte budget (see readBounded). statements is the guard's count
// for the text.
func (m *Manager) run(ctx context.Context, conn *duckdb.Conn, query string, statements, limit int) (datasets.Result, error) {
	prepared, err := conn.PrepareContext(ctx, query)
	if err != nil {
		return datasets.Result{}, err
	}
	stmt := prepared.(*duckdb.Stmt)
	defer stmt.Close()
	typ, err := stmt.StatementType()
	if err != nil {
		return datasets.Result{}, err
	}
	if !readOnlyStatement(typ) {
		return datasets.Result{}, datasets.ErrNotReadOnly
	}
	if stmt.NumInput() > 0 {
		return datasets.Result{}, &datasets.QueryError{Message: "query parameters ($1, ?) are not supported"}
	}
	if typ == duckdb.STATEMENT_TYPE_EXPLAIN {
		// A plan cannot be wrapped in a query; it is a few lines of text
		// about the statement, not rows of data.
		drows, err := stmt.QueryContext(ctx, nil)
		if err != nil {
			return datasets.Result{}, err
		}
		defer drows.Close()
		return m.readRows(drows, nil, limit, false)
	}
	cols, err := describeColumns(stmt)
	if err != nil {
		return datasets.Result{}, err
	}
	return m.readBounded(ctx, conn, query, cols, statements, limit)
}

var missingTablePattern = regexp.MustCompile(`Table with name ([A-Za-z_][A-Za-z0-9_]*) does not exist`)

// missingTable is the table name of a DuckDB "does not exist" error, or "".
func missingTable(err error) string {
	var de *duckdb.Error
	if err == nil || !errors.As(err, &de) {
		return ""
	}
	if m := missingTablePattern.FindStringSubmatch(de.Msg); m != nil {
		return m[1]
	}
	return ""
}

// runError classifies a failure while running a statement that was
// bounded by timeout.
func (m *Manager) runError(ctx context.Context, timeout time.Duration, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w after %s s", datasets.ErrQueryTimeout, strconv.FormatFloat(timeout.Round(100*time.Millisecond).Seconds(), 'f', -1, 64))
	}
	return m.queryError(err)
}

// queryError turns a DuckDB error into a *QueryError with paths removed;
// other errors pass unchanged.
func (m *Manager) queryError(err error) error {
	var qe *datasets.QueryError
	if errors.As(err, &qe) {
		return &datasets.QueryError{Message: datasets.ScrubPaths(qe.Message)}
	}
	var de *duckdb.Error
	if errors.As(err, &de) {
		return &datasets.QueryError{Message: datasets.ScrubPaths(de.Msg)}
	}
	if errors.Is(err, sql.ErrConnDone) {
		return fmt.Errorf("session closed: %w", err)
	}
	return err
}
