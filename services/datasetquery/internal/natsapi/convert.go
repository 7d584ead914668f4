package natsapi

import (
	"context"
	"fmt"
	"time"

	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/services/datasetquery/internal/datasets"
)

// convertAnswerMargin is what a waiting convert keeps of its caller's
// remaining time to answer 202 before that deadline: room for the last look
// at the dataset and the reply on a busy system (a fifth of the time left,
// between 1 and 5 s).
var convertAnswerMargin = natsx.Margin{Divisor: 5, Min: time.Second, Max: 5 * time.Second}

// convert stores the dataset as processing, queues its job and, unless
// Async, waits for the outcome (datasets.Service.Convert) up to convertWait
// within the caller's deadline. A conversion still running then is answered
// Accepted (202).
func (a api) convert(ctx context.Context, req dv1.ConvertRequest) (dv1.ConvertReply, error) {
	uid := natsx.UserID(ctx)
	if req.FileID == "" {
		return dv1.ConvertReply{}, rpcerr.Field(rpcerr.Validation, "file_id", "file_id is required")
	}
	wait := natsx.Budget(ctx, a.convertWait, convertAnswerMargin)
	if req.Async {
		wait = 0
	}
	d, existing, err := a.core.Convert(ctx, uid, datasets.ConvertRequest{
		FileID: req.FileID, Name: req.DatasetName, Description: req.Description,
		Options: toCoreOptions(req.ConvertOptions), IdempotencyKey: req.IdempotencyKey,
	}, wait, func() { natsx.LeaveShare(ctx) })
	if err != nil {
		return dv1.ConvertReply{}, mapError(err)
	}
	if reply, done, err := convertOutcome(d, existing); done {
		return reply, err
	}
	return dv1.ConvertReply{DatasetID: d.ID, Status: dv1.StatusProcessing, Accepted: true, Existing: existing}, nil
}

// convertOutcome is the answer of a conversion that is over: the ready
// dataset, or the reason it failed; done is false while it is processing.
func convertOutcome(d datasets.Dataset, existing bool) (reply dv1.ConvertReply, done bool, err error) {
	switch d.Status {
	case datasets.StatusReady:
		out := fromCoreDataset(d)
		return dv1.ConvertReply{Dataset: &out, DatasetID: d.ID, Status: dv1.StatusReady, Existing: existing}, true, nil
	case datasets.StatusFailed:
		return dv1.ConvertReply{}, true, rpcerr.Field(rpcerr.Validation, "file_id",
			fmt.Sprintf("conversion failed (dataset %s): %s", d.ID, d.Error))
	}
	return dv1.ConvertReply{}, false, nil
}

func (a api) fileColumns(ctx context.Context, req dv1.FileColumnsRequest) (dv1.FileColumnsReply, error) {
	uid := natsx.UserID(ctx)
	fc, err := a.core.FileColumns(ctx, uid, req.ID, req.FileID)
	if err != nil {
		return dv1.FileColumnsReply{}, mapError(err)
	}
	out := dv1.FileColumnsReply{
		FileColumns: fc.Columns,
		FileInfo:    dv1.FileInfo{FileID: fc.File.ID, FileName: fc.File.Name, FileType: fc.File.ContentType},
		DatasetInfo: dv1.DatasetInfo{DatasetID: fc.Dataset.ID, DatasetName: fc.Dataset.Name, Description: fc.Dataset.Description},
	}
	for _, c := range fc.Dataset.Schema {
		out.DatasetColumns = append(out.DatasetColumns, dv1.DatasetColumn{ColumnName: c.Name, ColumnType: c.Type, Description: c.Desc})
	}
	return out, nil
}

func (a api) insert(ctx context.Context, req dv1.InsertRequest) (dv1.InsertReply, error) {
	uid := natsx.UserID(ctx)
	n, err := a.core.Insert(ctx, uid, req.ID, req.FileID)
	if err != nil {
		return dv1.InsertReply{}, mapError(err)
	}
	return dv1.InsertReply{InsertedRows: n}, nil
}

// export answers with a presigned GET of the produced file (see
// datasets.Service.Export): the gateway redirects or streams from it.
func (a api) export(ctx context.Context, req dv1.ExportRequest) (dv1.ExportReply, error) {
	uid := natsx.UserID(ctx)
	e, err := a.core.Export(ctx, uid, req.ID, req.Format)
	if err != nil {
		return dv1.ExportReply{}, mapError(err)
	}
	return dv1.ExportReply{URL: e.URL, ContentType: e.ContentType, FileName: e.FileName, ExpiresIn: int(e.ExpiresIn.Seconds())}, nil
}

func toCoreOptions(o dv1.ConvertOptions) datasets.ConvertOptions {
	return datasets.ConvertOptions{Sheet: o.Sheet, Delimiter: o.Delimiter, Encoding: o.Encoding, Quote: o.Quote,
		Header: o.Header, IgnoreErrors: o.IgnoreErrors, SkipRows: o.SkipRows, HeaderRow: o.HeaderRow,
		NullValues: o.NullValues, DecimalSeparator: o.DecimalSeparator}
}
