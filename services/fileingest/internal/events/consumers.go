package events

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/filev1"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/pkg/perkey"
	"github.com/nonefinity/backend/services/fileingest/internal/files"
)

// Processor is what the processing consumer needs from the core.
type Processor interface {
	Process(ctx context.Context, owner, fileID string) error
	MarkFailed(ctx context.Context, owner, fileID, reason string) error
}

// Eraser is what the erasure consumer needs from the core.
type Eraser interface {
	EraseOwner(ctx context.Context, owner string) error
}

// GaveUpReason is the error a file gets when processing keeps failing.
const GaveUpReason = files.GaveUpReason

// Fairness bounds how much of an instance's processing one owner may hold.
type Fairness struct {
	// PerOwner is how many files of one owner are processed at once on an
	// instance; a further one goes back to the queue (deferred) so other
	// owners' files behind it are taken first. Default 1.
	PerOwner int
	// Retry is how long a deferred file waits before it is offered again;
	// default 1s.
	Retry time.Duration
}

// StartProcessing runs the durable consumer that processes every uploaded
// file (evt.file.v1.uploaded.*), at most f.PerOwner of one owner at once.
// A message is acknowledged once the file's outcome is stored. The core
// counts attempts on the file (a deferral is not one), so o.MaxDeliver
// should be negative; a file that keeps failing ends failed.
func StartProcessing(ctx context.Context, js jetstream.JetStream, p Processor, o natsx.ConsumerOptions, f Fairness) (*natsx.Consumer, error) {
	o.Stream = contracts.StreamFiles
	o.Durable = contracts.DurableFileProcess
	o.FilterSubjects = []string{contracts.EventFilter(contracts.DomainFile, contracts.EventUploaded)}
	o.OnPoison = func(ctx context.Context, msg jetstream.Msg, lastErr error) error {
		var e filev1.FileUploaded
		if err := json.Unmarshal(msg.Data(), &e); err != nil || e.FileID == "" {
			// Names no file: there is nothing to mark failed.
			return nil
		}
		return p.MarkFailed(ctx, contracts.UserIDFromSubject(msg.Subject()), e.FileID, GaveUpReason)
	}
	gate := perkey.NewGate(f.PerOwner)
	retry := f.Retry
	if retry <= 0 {
		retry = time.Second
	}
	return natsx.Consume(ctx, js, o, func(ctx context.Context, d natsx.Delivery[filev1.FileUploaded]) error {
		if d.Data.FileID == "" {
			return natsx.Permanent(errors.New("uploaded event names no file"))
		}
		// The owner is the subject's last token: the stream's permissions
		// vouch for it, the body does not.
		owner := contracts.UserIDFromSubject(d.Subject)
		if !gate.Enter(owner) {
			return natsx.Defer(retry + rand.N(retry))
		}
		defer gate.Leave(owner)
		return p.Process(ctx, owner, d.Data.FileID)
	})
}

// StartErasing runs the durable consumer that erases a deleted user's
// objects and files (evt.user.v1.deleted.*), retrying until it succeeds
// (see natsx.ConsumeErasure).
func StartErasing(ctx context.Context, js jetstream.JetStream, e Eraser, o natsx.ErasureOptions) (*natsx.Consumer, error) {
	o.Durable = contracts.DurableFileUserErase
	return natsx.ConsumeErasure(ctx, js, o, e.EraseOwner)
}
