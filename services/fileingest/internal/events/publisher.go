// Package events connects the fileingest core to JetStream: it publishes
// the FILES events and runs the durable consumers that process uploaded
// files and erase deleted users' files.
package events

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nonefinity/backend/contracts/filev1"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/services/fileingest/internal/files"
)

// Publisher publishes file events on the FILES stream. Each event's
// Nats-Msg-Id names the file and what happened to it, so a repeated publish
// (a retried commit, a redelivered processing message) is dropped by the
// stream instead of announced twice.
type Publisher struct {
	js jetstream.JetStream
}

// NewPublisher returns a publisher over js.
func NewPublisher(js jetstream.JetStream) *Publisher { return &Publisher{js: js} }

// MsgID is the de-duplication id of an event about one file.
func MsgID(event, fileID string) string { return "file." + event + "." + fileID }

func (p *Publisher) Uploaded(ctx context.Context, f files.File) error {
	e := filev1.FileUploaded{
		FileID: f.ID, OwnerID: f.OwnerID, Bucket: f.Bucket, ObjectName: f.FilePath,
		Size: f.FileSize, ContentType: f.FileType, UploadedAt: f.CreatedAt,
	}
	return natsx.Publish(ctx, p.js, e.Subject(), MsgID("uploaded", f.ID), e)
}

func (p *Publisher) Processed(ctx context.Context, f files.File) error {
	e := filev1.FileProcessed{
		FileID: f.ID, OwnerID: f.OwnerID, Status: filev1.Status(f.Status), Category: f.Category,
		DetectedType: f.DetectedType, SHA256: f.SHA256, Size: f.FileSize,
		Preview: FromCorePreview(f.Preview), ProcessedAt: f.Processing.FinishedAt,
	}
	return natsx.Publish(ctx, p.js, e.Subject(), MsgID("processed", f.ID), e)
}

func (p *Publisher) Failed(ctx context.Context, f files.File) error {
	e := filev1.FileFailed{FileID: f.ID, OwnerID: f.OwnerID, Error: f.Error, FailedAt: f.Processing.FinishedAt}
	return natsx.Publish(ctx, p.js, e.Subject(), MsgID("failed", f.ID), e)
}

func (p *Publisher) Deleted(ctx context.Context, f files.File) error {
	e := filev1.FileDeleted{FileID: f.ID, OwnerID: f.OwnerID, ObjectName: f.FilePath, DeletedAt: time.Now().UTC()}
	return natsx.Publish(ctx, p.js, e.Subject(), MsgID("deleted", f.ID), e)
}

// FromCorePreview converts a preview to its contract form.
func FromCorePreview(p *files.Preview) *filev1.Preview {
	if p == nil {
		return nil
	}
	return &filev1.Preview{
		Columns: p.Columns, Encoding: p.Encoding, Delimiter: p.Delimiter, HasHeader: p.HasHeader, SkipRows: p.SkipRows,
		Rows: p.Rows, Sheets: p.Sheets, Sheet: p.Sheet,
	}
}

var _ files.Publisher = (*Publisher)(nil)
