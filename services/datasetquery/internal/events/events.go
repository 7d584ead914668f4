// Package events publishes dataset events on the DATASETS stream, runs
// the service's durable consumers (conversion jobs, user erasure) and
// watches dataset events for the core (conversion outcomes) and the query
// sessions (catalog changes).
package events

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nonefinity/backend/contracts"
	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/services/datasetquery/internal/datasets"
)

// Publisher implements datasets.Publisher over JetStream.
type Publisher struct {
	js          jetstream.JetStream
	conversions *conversionMetrics
}

// NewPublisher returns a publisher on js. metrics, when set, receives the
// conversion outcomes it announces (nonefinity_conversions_total).
func NewPublisher(js jetstream.JetStream, metrics prometheus.Registerer) (*Publisher, error) {
	p := &Publisher{js: js}
	if metrics != nil {
		m, err := newConversionMetrics(metrics)
		if err != nil {
			return nil, err
		}
		p.conversions = m
	}
	return p, nil
}

// Created announces a stored dataset.
func (p *Publisher) Created(ctx context.Context, d datasets.Dataset) error {
	e := dv1.DatasetCreated{DatasetID: d.ID, OwnerID: d.OwnerID, Name: d.Name, Status: dv1.Status(d.Status), CreatedAt: d.CreatedAt}
	return natsx.Publish(ctx, p.js, e.Subject(), "dataset.created."+d.ID, e)
}

// Updated announces a rename or a content change; the message id carries
// the update time so each change is one event.
func (p *Publisher) Updated(ctx context.Context, d datasets.Dataset, previousName string) error {
	e := dv1.DatasetUpdated{DatasetID: d.ID, OwnerID: d.OwnerID, Name: d.Name, PreviousName: previousName, RowCount: d.RowCount, UpdatedAt: d.UpdatedAt}
	return natsx.Publish(ctx, p.js, e.Subject(), "dataset.updated."+d.ID+"."+d.UpdatedAt.Format(time.RFC3339Nano), e)
}

// Deleted announces a removed dataset.
func (p *Publisher) Deleted(ctx context.Context, d datasets.Dataset) error {
	e := dv1.DatasetDeleted{DatasetID: d.ID, OwnerID: d.OwnerID, Name: d.Name, DeletedAt: time.Now().UTC()}
	return natsx.Publish(ctx, p.js, e.Subject(), "dataset.deleted."+d.ID, e)
}

// Converted announces a finished conversion.
func (p *Publisher) Converted(ctx context.Context, d datasets.Dataset) error {
	e := dv1.DatasetConverted{DatasetID: d.ID, OwnerID: d.OwnerID, FileID: d.FileID, Name: d.Name, RowCount: d.RowCount, ConvertedAt: d.UpdatedAt}
	if err := natsx.Publish(ctx, p.js, e.Subject(), "dataset.converted."+d.ID, e); err != nil {
		return err
	}
	p.conversions.finished("ready", d.CreatedAt, d.UpdatedAt)
	return nil
}

// Failed announces a failed conversion.
func (p *Publisher) Failed(ctx context.Context, d datasets.Dataset) error {
	e := dv1.DatasetFailed{DatasetID: d.ID, OwnerID: d.OwnerID, FileID: d.FileID, Error: d.Error, FailedAt: d.UpdatedAt}
	if err := natsx.Publish(ctx, p.js, e.Subject(), "dataset.failed."+d.ID, e); err != nil {
		return err
	}
	p.conversions.finished("failed", d.CreatedAt, d.UpdatedAt)
	return nil
}

// EnqueueConvert publishes a conversion job on the JOBS work queue; the
// dataset id is the message id, so a retried publish queues one job.
func (p *Publisher) EnqueueConvert(ctx context.Context, j datasets.ConvertJob) error {
	job := dv1.ConvertJob{DatasetID: j.DatasetID, OwnerID: j.OwnerID, FileID: j.FileID, RequestedAt: j.RequestedAt,
		ConvertOptions: fromCoreOptions(j.Options)}
	return natsx.Publish(ctx, p.js, job.Subject(), j.DatasetID, job)
}

// Converter runs conversion jobs.
type Converter interface {
	RunConvert(ctx context.Context, j datasets.ConvertJob) error
	FailConvert(ctx context.Context, j datasets.ConvertJob, reason string) error
}

// StartConverting consumes job.dataset.v1.convert.* with the durable
// contracts.DurableDatasetConvert, o.Concurrency jobs at once and at most
// f.PerKey of them of one owner. Attempts are counted by the core (a
// deferral is not one), so o.MaxDeliver should be negative; a job that
// cannot be decoded or keeps failing fails its dataset, which publishes
// evt.dataset.v1.failed.
func StartConverting(ctx context.Context, js jetstream.JetStream, c Converter, o natsx.ConsumerOptions, f natsx.Fairness) (*natsx.Consumer, error) {
	o.Stream = contracts.StreamJobs
	o.Durable = contracts.DurableDatasetConvert
	o.FilterSubjects = []string{contracts.ConvertJobSubject("*")}
	o.OnPoison = func(ctx context.Context, msg jetstream.Msg, lastErr error) error {
		var j dv1.ConvertJob
		if err := json.Unmarshal(msg.Data(), &j); err != nil || j.DatasetID == "" {
			return nil // nothing to fail
		}
		return c.FailConvert(ctx, coreJob(j), "conversion failed: "+lastErr.Error())
	}
	fair := f.Runner()
	return natsx.Consume(ctx, js, o, func(ctx context.Context, m natsx.Delivery[dv1.ConvertJob]) error {
		if m.Data.DatasetID == "" || m.Data.OwnerID == "" {
			return natsx.Permanent(errors.New("job names no dataset or owner"))
		}
		err := fair(m.Data.OwnerID, func() error { return c.RunConvert(ctx, coreJob(m.Data)) })
		if errors.Is(err, datasets.ErrGaveUp) {
			return natsx.Permanent(err)
		}
		return err
	})
}

func coreJob(j dv1.ConvertJob) datasets.ConvertJob {
	o := j.ConvertOptions
	return datasets.ConvertJob{DatasetID: j.DatasetID, OwnerID: j.OwnerID, FileID: j.FileID, RequestedAt: j.RequestedAt,
		Options: datasets.ConvertOptions{Sheet: o.Sheet, Delimiter: o.Delimiter, Encoding: o.Encoding, Quote: o.Quote,
			Header: o.Header, IgnoreErrors: o.IgnoreErrors, SkipRows: o.SkipRows, HeaderRow: o.HeaderRow,
			NullValues: o.NullValues, DecimalSeparator: o.DecimalSeparator}}
}

func fromCoreOptions(o datasets.ConvertOptions) dv1.ConvertOptions {
	return dv1.ConvertOptions{Sheet: o.Sheet, Delimiter: o.Delimiter, Header: o.Header, Encoding: o.Encoding,
		Quote: o.Quote, SkipRows: o.SkipRows, HeaderRow: o.HeaderRow, IgnoreErrors: o.IgnoreErrors,
		NullValues: o.NullValues, DecimalSeparator: o.DecimalSeparator}
}

// Eraser is what the erasure consumer needs from the core.
type Eraser interface {
	EraseUser(ctx context.Context, userID string) error
}

// StartErasure runs the durable consumer that erases a deleted user's
// datasets (evt.user.v1.deleted.*), retrying until it succeeds (see
// natsx.ConsumeErasure).
func StartErasure(ctx context.Context, js jetstream.JetStream, e Eraser, o natsx.ErasureOptions) (*natsx.Consumer, error) {
	o.Durable = contracts.DurableDatasetUserErase
	return natsx.ConsumeErasure(ctx, js, o, e.EraseUser)
}
