package events

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/filev1"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/services/fileingest/internal/files"
)

// Processor is what the processing consumer needs from the core.
type Processor interface {
	Process(ctx context.Context, owner, fileID string) error
	MarkFailed(ctx context.Context, owner, fileID, reason string) error
}

// Eraser is what the erasure consumer needs from the core.
type Eraser interface {
	EraseUser(ctx context.Context, userID string) error
}

// StartProcessing runs the durable consumer that processes every uploaded
// file (evt.file.v1.uploaded.*), at most f.PerKey of one owner at once.
// A message is acknowledged once the file's outcome is stored. The core
// counts attempts on the file (a deferral is not one), so o.MaxDeliver
// should be negative; a file that keeps failing ends failed.
func StartProcessing(ctx context.Context, js jetstream.JetStream, p Processor, o natsx.ConsumerOptions, f natsx.Fairness) (*natsx.Consumer, error) {
	o.Stream = contracts.StreamFiles
	o.Durable = contracts.DurableFileProcess
	o.FilterSubjects = []string{contracts.EventFilter(contracts.DomainFile, contracts.EventUploaded)}
	o.OnPoison = func(ctx context.Context, msg jetstream.Msg, lastErr error) error {
		var e filev1.FileUploaded
		if err := json.Unmarshal(msg.Data(), &e); err != nil || e.FileID == "" {
			// Names no file: there is nothing to mark failed.
			return nil
		}
		return p.MarkFailed(ctx, contracts.UserIDFromSubject(msg.Subject()), e.FileID, files.GaveUpReason)
	}
	fair := f.Runner()
	return natsx.Consume(ctx, js, o, func(ctx context.Context, d natsx.Delivery[filev1.FileUploaded]) error {
		if d.Data.FileID == "" {
			return natsx.Permanent(errors.New("uploaded event names no file"))
		}
		// The owner is the subject's last token: the stream's permissions
		// vouch for it, the body does not.
		owner := contracts.UserIDFromSubject(d.Subject)
		err := fair(owner, func() error { return p.Process(ctx, owner, d.Data.FileID) })
		if errors.Is(err, files.ErrGaveUp) {
			return natsx.Permanent(err)
		}
		return err
	})
}

// StartErasure runs the durable consumer that erases a deleted user's
// objects and files (evt.user.v1.deleted.*), retrying until it succeeds
// (see natsx.ConsumeErasure).
func StartErasure(ctx context.Context, js jetstream.JetStream, e Eraser, o natsx.ErasureOptions) (*natsx.Consumer, error) {
	o.Durable = contracts.DurableFileUserErase
	return natsx.ConsumeErasure(ctx, js, o, e.EraseUser)
}
