package client

import (
	"context"

	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	"github.com/nonefinity/backend/contracts/healthv1"
)

// Dataset calls the datasetquery service.
type Dataset struct{ R Requester }

func (c Dataset) Convert(ctx context.Context, req dv1.ConvertRequest) (dv1.ConvertReply, error) {
	return call[dv1.ConvertReply](ctx, c.R, dv1.Subject(dv1.OpConvert), req)
}

func (c Dataset) Create(ctx context.Context, req dv1.CreateRequest) (dv1.Dataset, error) {
	return call[dv1.Dataset](ctx, c.R, dv1.Subject(dv1.OpCreate), req)
}

func (c Dataset) List(ctx context.Context, req dv1.ListRequest) (dv1.ListReply, error) {
	return call[dv1.ListReply](ctx, c.R, dv1.Subject(dv1.OpList), req)
}

func (c Dataset) Get(ctx context.Context, req dv1.GetRequest) (dv1.Dataset, error) {
	return call[dv1.Dataset](ctx, c.R, dv1.Subject(dv1.OpGet), req)
}

func (c Dataset) Update(ctx context.Context, req dv1.UpdateRequest) (dv1.Dataset, error) {
	return call[dv1.Dataset](ctx, c.R, dv1.Subject(dv1.OpUpdate), req)
}

func (c Dataset) UpdateSchema(ctx context.Context, req dv1.UpdateSchemaRequest) (dv1.Dataset, error) {
	return call[dv1.Dataset](ctx, c.R, dv1.Subject(dv1.OpUpdateSchema), req)
}

func (c Dataset) Delete(ctx context.Context, req dv1.DeleteRequest) (dv1.DeleteReply, error) {
	return call[dv1.DeleteReply](ctx, c.R, dv1.Subject(dv1.OpDelete), req)
}

func (c Dataset) Data(ctx context.Context, req dv1.DataRequest) (dv1.DataReply, error) {
	return call[dv1.DataReply](ctx, c.R, dv1.Subject(dv1.OpData), req)
}

// Rejects pages through the rows a conversion did not keep.
func (c Dataset) Rejects(ctx context.Context, req dv1.RejectsRequest) (dv1.RejectsReply, error) {
	return call[dv1.RejectsReply](ctx, c.R, dv1.Subject(dv1.OpRejects), req)
}

func (c Dataset) FileColumns(ctx context.Context, req dv1.FileColumnsRequest) (dv1.FileColumnsReply, error) {
	return call[dv1.FileColumnsReply](ctx, c.R, dv1.Subject(dv1.OpFileColumns), req)
}

func (c Dataset) Insert(ctx context.Context, req dv1.InsertRequest) (dv1.InsertReply, error) {
	return call[dv1.InsertReply](ctx, c.R, dv1.Subject(dv1.OpInsert), req)
}

func (c Dataset) Export(ctx context.Context, req dv1.ExportRequest) (dv1.ExportReply, error) {
	return call[dv1.ExportReply](ctx, c.R, dv1.Subject(dv1.OpExport), req)
}

func (c Dataset) Query(ctx context.Context, req dv1.QueryRequest) (dv1.QueryReply, error) {
	return call[dv1.QueryReply](ctx, c.R, dv1.Subject(dv1.OpQuery), req)
}

func (c Dataset) DuckDBStats(ctx context.Context) (dv1.DuckDBStatsReply, error) {
	return call[dv1.DuckDBStatsReply](ctx, c.R, dv1.Subject(dv1.OpDuckDBStats), noParams{})
}

func (c Dataset) DuckDBCleanup(ctx context.Context) (dv1.CleanupReply, error) {
	return call[dv1.CleanupReply](ctx, c.R, dv1.Subject(dv1.OpDuckDBCleanup), noParams{})
}

func (c Dataset) Health(ctx context.Context) (healthv1.Reply, error) {
	return call[healthv1.Reply](ctx, c.R, dv1.Subject(dv1.OpHealth), healthv1.Request{})
}
