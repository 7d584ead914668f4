// Package natsapi serves svc.dataset.v1.<op>: decode, call the core, map
// errors once, encode.
package natsapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/fielderr"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/pkg/objstore"
	"github.com/nonefinity/backend/services/datasetquery/internal/datasets"
)

type api struct {
	core        *datasets.Service
	slots       int
	convertWait time.Duration
	// pageBytes is the most a page of a list may take.
	pageBytes int
	queries   *queryMetrics
}

// Options configure Register.
type Options struct {
	// QueryConcurrency bounds queries (and data windows) running at once
	// on this instance; the per-user cap is the session's.
	QueryConcurrency int
	// NC is the connection whose maximum payload bounds a page.
	NC *nats.Conn
	// ConvertWait is how long convert waits for its job before it answers
	// Accepted (202): DATASET_CONVERT_WAIT.
	ConvertWait time.Duration
	// Metrics, when set, receives the query metrics
	// (nonefinity_queries_total).
	Metrics prometheus.Registerer
}

// Register adds the dataset and DuckDB endpoints to svc.
func Register(svc *natsx.Service, core *datasets.Service, o Options) error {
	queryConcurrency := max(o.QueryConcurrency, 1)
	maxPayload := int64(1 << 20) // the server's default
	if o.NC != nil {
		maxPayload = o.NC.MaxPayload()
	}
	queries, err := newQueryMetrics(o.Metrics)
	if err != nil {
		return err
	}
	a := api{core: core, slots: queryConcurrency, convertWait: o.ConvertWait, pageBytes: natsx.PageBudget(maxPayload), queries: queries}
	// Conversions, inserts and exports hold a DuckDB and a download each:
	// a few at once per instance.
	const fileWork = 4
	// Statements wait for their user's share of the cores in duck's own
	// pool; holding a request place of the service's Share meanwhile would
	// keep the same user's lists and reads waiting behind a long query.
	statements := natsx.Options(natsx.WithConcurrency(queryConcurrency), natsx.OutsideShare())
	describe := natsx.WithDescription
	return errors.Join(
		natsx.Handle(svc, dv1.Subject(dv1.OpConvert), a.convert, describe("convert a file into a dataset (waits for the job, then 202)")),
		natsx.Handle(svc, dv1.Subject(dv1.OpFileColumns), a.fileColumns, describe("the columns a file would convert to")),
		natsx.Handle(svc, dv1.Subject(dv1.OpInsert), a.insert, natsx.WithConcurrency(fileWork), describe("append a file's rows to a dataset")),
		natsx.Handle(svc, dv1.Subject(dv1.OpExport), a.export, natsx.WithConcurrency(fileWork), describe("presigned download of a dataset as CSV or Parquet")),
		natsx.Handle(svc, dv1.Subject(dv1.OpCreate), a.create, describe("create an empty dataset from a schema")),
		natsx.Handle(svc, dv1.Subject(dv1.OpList), a.list, describe("page through the caller's datasets")),
		natsx.Handle(svc, dv1.Subject(dv1.OpGet), a.get, describe("one dataset with its schema")),
		natsx.Handle(svc, dv1.Subject(dv1.OpUpdate), a.update, describe("rename or describe a dataset")),
		natsx.Handle(svc, dv1.Subject(dv1.OpUpdateSchema), a.updateSchema, describe("change a dataset's column names and descriptions")),
		natsx.Handle(svc, dv1.Subject(dv1.OpDelete), a.delete, describe("delete a dataset and its data")),
		natsx.Handle(svc, dv1.Subject(dv1.OpData), a.data, statements, describe("a window of a dataset's rows")),
		natsx.Handle(svc, dv1.Subject(dv1.OpRejects), a.rejects, statements, describe("rows a conversion could not read")),
		natsx.Handle(svc, dv1.Subject(dv1.OpQuery), a.query, statements, describe("run SQL over the caller's datasets")),
		natsx.Handle(svc, dv1.Subject(dv1.OpDuckDBStats), a.stats, describe("DuckDB sessions of this instance (admin)"), natsx.AdminOnly()),
		natsx.Handle(svc, dv1.Subject(dv1.OpDuckDBCleanup), a.cleanup, describe("close idle DuckDB sessions now (admin)"), natsx.AdminOnly()),
	)
}

func (a api) create(ctx context.Context, req dv1.CreateRequest) (dv1.Dataset, error) {
	uid := natsx.UserID(ctx)
	d, err := a.core.Create(ctx, uid, req.DatasetName, req.Description, toCoreColumns(req.Schema))
	if err != nil {
		return dv1.Dataset{}, mapError(err)
	}
	return fromCoreDataset(d), nil
}

func (a api) list(ctx context.Context, req dv1.ListRequest) (dv1.ListReply, error) {
	uid := natsx.UserID(ctx)
	p := req.Normalize()
	ds, total, err := a.core.List(ctx, uid, p.Skip, p.Limit)
	if err != nil {
		return dv1.ListReply{}, mapError(err)
	}
	out := dv1.ListReply{Datasets: make([]dv1.Dataset, 0, len(ds)), Total: total}
	budget := a.pageBytes
	for _, d := range ds {
		item := fromCoreDataset(d)
		b, err := json.Marshal(item)
		if err != nil {
			return dv1.ListReply{}, fmt.Errorf("encode dataset %s: %w", d.ID, err)
		}
		// At least one dataset per page, so a list always advances (one
		// dataset's schema is bounded well under a message).
		if len(out.Datasets) > 0 && len(b)+1 > budget {
			out.NextSkip = p.Skip + len(out.Datasets)
			break
		}
		budget -= len(b) + 1
		out.Datasets = append(out.Datasets, item)
	}
	return out, nil
}

func (a api) get(ctx context.Context, req dv1.GetRequest) (dv1.Dataset, error) {
	uid := natsx.UserID(ctx)
	d, err := a.core.Get(ctx, uid, req.ID)
	if err != nil {
		return dv1.Dataset{}, mapError(err)
	}
	return fromCoreDataset(d), nil
}

func (a api) update(ctx context.Context, req dv1.UpdateRequest) (dv1.Dataset, error) {
	uid := natsx.UserID(ctx)
	d, err := a.core.Update(ctx, uid, req.ID, req.Name, req.Description)
	if err != nil {
		return dv1.Dataset{}, mapError(err)
	}
	return fromCoreDataset(d), nil
}

func (a api) updateSchema(ctx context.Context, req dv1.UpdateSchemaRequest) (dv1.Dataset, error) {
	uid := natsx.UserID(ctx)
	d, err := a.core.UpdateSchema(ctx, uid, req.ID, req.Descriptions)
	if err != nil {
		return dv1.Dataset{}, mapError(err)
	}
	return fromCoreDataset(d), nil
}

func (a api) delete(ctx context.Context, req dv1.DeleteRequest) (dv1.DeleteReply, error) {
	uid := natsx.UserID(ctx)
	if err := a.core.Delete(ctx, uid, req.ID); err != nil {
		return dv1.DeleteReply{}, mapError(err)
	}
	return dv1.DeleteReply{DatasetID: req.ID, Deleted: true}, nil
}

func (a api) data(ctx context.Context, req dv1.DataRequest) (dv1.DataReply, error) {
	uid := natsx.UserID(ctx)
	p := req.Normalize()
	res, total, err := a.core.Data(ctx, uid, req.ID, p.Skip, p.Limit)
	if err != nil {
		return dv1.DataReply{}, mapError(err)
	}
	return dv1.DataReply{Data: fromEngineRows(res), TotalRows: total, Offset: p.Skip, Limit: p.Limit}, nil
}

func (a api) rejects(ctx context.Context, req dv1.RejectsRequest) (dv1.RejectsReply, error) {
	uid := natsx.UserID(ctx)
	p := req.Normalize()
	rows, total, err := a.core.Rejects(ctx, uid, req.ID, p.Skip, p.Limit)
	if err != nil {
		return dv1.RejectsReply{}, mapError(err)
	}
	out := dv1.RejectsReply{Rejects: make([]dv1.Reject, 0, len(rows)), Total: total, Offset: p.Skip, Limit: p.Limit}
	budget := a.pageBytes
	for _, r := range rows {
		item := dv1.Reject{Line: r.Line, Reason: r.Reason, Raw: r.Raw}
		// A reject's JSON is at most a few times its text (escapes).
		size := 64 + len(item.Reason) + 6*len(item.Raw)
		if len(out.Rejects) > 0 && size > budget {
			out.NextOffset = p.Skip + len(out.Rejects)
			break
		}
		budget -= size
		out.Rejects = append(out.Rejects, item)
	}
	return out, nil
}

func (a api) query(ctx context.Context, req dv1.QueryRequest) (dv1.QueryReply, error) {
	uid := natsx.UserID(ctx)
	res, err := a.core.Query(ctx, uid, req.Query, req.Limit)
	if err != nil {
		err = mapError(err)
		a.queries.observe(false, 0, err)
		return dv1.QueryReply{}, err
	}
	a.queries.observe(res.Truncated, res.Elapsed, nil)
	out := dv1.QueryReply{Columns: make([]dv1.QueryColumn, len(res.Columns)), Data: fromEngineRows(res), RowCount: len(res.Rows),
		Truncated: res.Truncated, ElapsedMS: res.Elapsed.Milliseconds()}
	for i, c := range res.Columns {
		out.Columns[i] = dv1.QueryColumn{Name: c.Name, Type: c.Type}
	}
	return out, nil
}

// stats counts every user's sessions on this instance: admins only.
func (a api) stats(_ context.Context, _ struct{}) (dv1.DuckDBStatsReply, error) {
	st := a.core.Sessions()
	return dv1.DuckDBStatsReply{
		TotalInstances: st.Total, ActiveInstances: st.Active, ExpiredInstances: st.Expired,
		InstanceTTL: int(st.InstanceTTL.Seconds()), CleanupInterval: int(st.CleanupInterval.Seconds()),
	}, nil
}

func (a api) cleanup(_ context.Context, _ struct{}) (dv1.CleanupReply, error) {
	return dv1.CleanupReply{ClosedInstances: a.core.CloseExpiredSessions()}, nil
}

// mapError is the one place core errors become rpcerr codes.
func mapError(err error) error {
	var fe *fielderr.Error
	var qe *datasets.QueryError
	switch {
	case errors.Is(err, datasets.ErrFileNotFound):
		return fmt.Errorf("%w: %w", rpcerr.Field(rpcerr.NotFound, "file_id", "file not found"), err)
	case errors.Is(err, datasets.ErrUnsupportedFile):
		return fmt.Errorf("%w: %w", rpcerr.Field(rpcerr.UnsupportedMediaType, "file_id", err.Error()), err)
	case errors.Is(err, datasets.ErrTooLarge):
		return fmt.Errorf("%w: %w", rpcerr.Field(rpcerr.TooLarge, "file_id", err.Error()), err)
	case errors.Is(err, datasets.ErrTooManyConversions):
		return fmt.Errorf("%w: %w", rpcerr.New(rpcerr.RateLimited, err.Error()), err)
	case errors.Is(err, datasets.ErrConcurrentChange):
		return fmt.Errorf("%w: %w", rpcerr.New(rpcerr.Conflict, err.Error()), err)
	case errors.As(err, &fe):
		return fmt.Errorf("%w: %w", rpcerr.Field(rpcerr.Validation, fe.Field, fe.Message), err)
	case errors.Is(err, datasets.ErrNotFound):
		return fmt.Errorf("%w: %w", rpcerr.New(rpcerr.NotFound, "dataset not found"), err)
	case errors.Is(err, datasets.ErrDuplicateName):
		return fmt.Errorf("%w: %w", rpcerr.Field(rpcerr.Conflict, "dataset_name", "a dataset with this name already exists"), err)
	case errors.Is(err, datasets.ErrNotReady):
		return fmt.Errorf("%w: %w", rpcerr.New(rpcerr.Conflict, "dataset is not ready"), err)
	case errors.As(err, &qe):
		return fmt.Errorf("%w: %w", rpcerr.Field(rpcerr.BadRequest, "query", qe.Message), err)
	case errors.Is(err, datasets.ErrEmptyQuery), errors.Is(err, datasets.ErrMultipleStatements), errors.Is(err, datasets.ErrNotReadOnly):
		return fmt.Errorf("%w: %w", rpcerr.Field(rpcerr.BadRequest, "query", err.Error()), err)
	case errors.Is(err, datasets.ErrQueryTimeout):
		// Its own code, not unavailable: the service is there, the
		// statement was too slow ("query timed out after 10 s").
		return fmt.Errorf("%w: %w", rpcerr.New(rpcerr.Timeout, err.Error()), err)
	case errors.Is(err, datasets.ErrTooManyQueries):
		return fmt.Errorf("%w: %w", rpcerr.New(rpcerr.RateLimited, "too many queries running at once; retry when one finished"), err)
	case errors.Is(err, datasets.ErrDatabaseUnavailable):
		return fmt.Errorf("%w: %w", rpcerr.New(rpcerr.Unavailable, "database unavailable"), err)
	case objstore.IsUnavailable(err):
		return fmt.Errorf("%w: %w", rpcerr.New(rpcerr.Unavailable, "object storage unavailable"), err)
	case errors.Is(err, datasets.ErrBusUnavailable):
		return fmt.Errorf("%w: %w", rpcerr.New(rpcerr.Unavailable, "message bus unavailable"), err)
	}
	return err
}

func toCoreColumns(cols []dv1.Column) []datasets.Column {
	out := make([]datasets.Column, len(cols))
	for i, c := range cols {
		out[i] = datasets.Column{Name: c.ColumnName, Type: c.ColumnType, Desc: c.Desc}
	}
	return out
}

func fromCoreDataset(d datasets.Dataset) dv1.Dataset {
	schema := make([]dv1.Column, len(d.Schema))
	for i, c := range d.Schema {
		schema[i] = dv1.Column{ColumnName: c.Name, ColumnType: c.Type, Desc: c.Desc}
	}
	out := dv1.Dataset{
		ID: d.ID, Name: d.Name, Description: d.Description, OwnerID: d.OwnerID, DataSchema: schema,
		RowCount: d.RowCount, Status: dv1.Status(d.Status), Error: d.Error, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
	}
	if r := d.Report; r != nil {
		read, rejected := r.RowsRead, r.RowsRejected
		out.RowsRead, out.RowsRejected = &read, &rejected
		for _, w := range r.Warnings {
			out.Warnings = append(out.Warnings, dv1.Warning{Code: w.Code, Message: w.Message, Count: w.Count, Lines: w.Lines, Column: w.Column})
		}
		src := fromCoreSource(r.Source)
		out.Source = &src
	}
	return out
}

func fromCoreSource(s datasets.Source) dv1.Source {
	out := dv1.Source{FileID: s.FileID, Format: s.Format, Encoding: s.Encoding, Delimiter: s.Delimiter, Quote: s.Quote,
		Header: s.Header, SkipRows: s.SkipRows, Preamble: s.Preamble, Sheet: s.Sheet, HeaderRow: s.HeaderRow}
	for _, c := range s.Columns {
		out.Columns = append(out.Columns, dv1.ColumnReading{Column: c.Column, NullTokens: c.NullTokens,
			DecimalSeparator: c.DecimalSeparator, Exact: c.Exact, Duration: c.Duration})
	}
	return out
}

// fromEngineRows turns the engine's encoded rows into rows that keep the
// column order.
func fromEngineRows(res datasets.Result) []dv1.Row {
	names := make([]string, len(res.Columns))
	for i, c := range res.Columns {
		names[i] = c.Name
	}
	cols := dv1.NewRowColumns(names)
	out := make([]dv1.Row, len(res.Rows))
	for i, r := range res.Rows {
		out[i] = dv1.NewRow(cols, r)
	}
	return out
}
