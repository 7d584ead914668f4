package natsapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/nonefinity/backend/contracts"
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

// convert stores the dataset as processing, queues its job and waits for
// the outcome up to convertWait: it listens to the user's converted/failed
// events (subscribed before the job is queued, so the outcome cannot slip
// by) and, as a safety net for a lost event, re-reads the document now and
// then. Past the wait, or with Async, it answers Accepted (202).
func (a api) convert(ctx context.Context, req dv1.ConvertRequest) (dv1.ConvertReply, error) {
	uid, err := owner(ctx)
	if err != nil {
		return dv1.ConvertReply{}, err
	}
	if req.FileID == "" {
		return dv1.ConvertReply{}, rpcerr.Field(rpcerr.Validation, "file_id", "file_id is required")
	}
	var outcome <-chan string
	if !req.Async && a.nc != nil {
		ch, stop, err := a.watchOutcomes(ctx, uid)
		if err != nil {
			return dv1.ConvertReply{}, err
		}
		defer stop()
		outcome = ch
	}
	d, existing, err := a.core.StartConvert(ctx, uid, datasets.ConvertRequest{
		FileID: req.FileID, Name: req.DatasetName, Description: req.Description,
		Options: toCoreOptions(req.ConvertOptions), IdempotencyKey: req.IdempotencyKey,
	})
	if err != nil {
		return dv1.ConvertReply{}, mapError(err)
	}
	// A repeated request may find its conversion over already.
	if reply, done, err := convertOutcome(d, existing); done {
		return reply, err
	}
	accepted := dv1.ConvertReply{DatasetID: d.ID, Status: dv1.StatusProcessing, Accepted: true, Existing: existing}
	if req.Async {
		return accepted, nil
	}
	wait := time.NewTimer(natsx.Budget(ctx, a.convertWait, convertAnswerMargin))
	defer wait.Stop()
	recheck := time.NewTicker(2 * time.Second)
	defer recheck.Stop()
	for {
		select {
		case <-ctx.Done():
			// The caller gave up; the job goes on.
			return accepted, nil
		case <-wait.C:
			return accepted, nil
		case id := <-outcome:
			if id != d.ID {
				continue
			}
		case <-recheck.C:
		}
		cur, err := a.core.Get(ctx, uid, d.ID)
		if err != nil {
			return dv1.ConvertReply{}, mapError(err)
		}
		if reply, done, err := convertOutcome(cur, existing); done {
			return reply, err
		}
	}
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

// watchOutcomes delivers the dataset ids of the user's conversion outcome
// events until stop is called.
func (a api) watchOutcomes(ctx context.Context, uid string) (<-chan string, func(), error) {
	ch := make(chan string, 64)
	handler := func(m *nats.Msg) {
		var e struct {
			DatasetID string `json:"dataset_id"`
		}
		if json.Unmarshal(m.Data, &e) != nil {
			return
		}
		select {
		case ch <- e.DatasetID:
		default: // a busy user's other outcomes; the recheck covers ours
		}
	}
	var subs []*nats.Subscription
	stop := func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
	}
	for _, ev := range []string{contracts.EventConverted, contracts.EventFailed} {
		s, err := a.nc.Subscribe(contracts.EventSubject(contracts.DomainDataset, ev, uid), handler)
		if err != nil {
			stop()
			return nil, nil, fmt.Errorf("watch conversion outcome: %w", err)
		}
		subs = append(subs, s)
	}
	// The subscriptions must be live at the server before the job exists.
	if err := a.nc.FlushWithContext(ctx); err != nil {
		stop()
		return nil, nil, errors.Join(rpcerr.New(rpcerr.Unavailable, "message bus unavailable"), err)
	}
	return ch, stop, nil
}

func (a api) fileColumns(ctx context.Context, req dv1.FileColumnsRequest) (dv1.FileColumnsReply, error) {
	uid, err := owner(ctx)
	if err != nil {
		return dv1.FileColumnsReply{}, err
	}
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
	uid, err := owner(ctx)
	if err != nil {
		return dv1.InsertReply{}, err
	}
	n, err := a.core.Insert(ctx, uid, req.ID, req.FileID)
	if err != nil {
		return dv1.InsertReply{}, mapError(err)
	}
	return dv1.InsertReply{InsertedRows: n}, nil
}

// export answers with a presigned GET of the produced file (see
// datasets.Service.Export): the gateway redirects or streams from it.
func (a api) export(ctx context.Context, req dv1.ExportRequest) (dv1.ExportReply, error) {
	uid, err := owner(ctx)
	if err != nil {
		return dv1.ExportReply{}, err
	}
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
