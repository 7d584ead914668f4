package files

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/nonefinity/backend/services/fileingest/internal/sniff"
)

// Process runs the pipeline on one uploaded file: read the object once,
// judge it, store the outcome, then announce it. It is safe to run again
// for the same file at any point:
//
//   - a file deleted meanwhile is skipped;
//   - a file already ready or failed is not inspected again, only its
//     outcome event is published if that had not happened yet;
//   - a file left in processing by an interrupted run is inspected anew.
//
// A returned error means "try again later" (storage or database trouble);
// problems with the content itself end as a failed file and a nil error.
func (s *Service) Process(ctx context.Context, owner, id string) error {
	f, started, err := s.store.StartProcessing(ctx, owner, id, s.now())
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("start processing: %w", err)
	}
	if !started {
		return s.publishOutcome(ctx, f)
	}
	// Past the limit: earlier runs died without an outcome (a crash).
	if f.Processing.Attempts > s.cfg.MaxAttempts {
		if err := s.MarkFailed(ctx, owner, id, GaveUpReason); err != nil {
			return err
		}
		return fmt.Errorf("%w: %d runs died without an outcome", ErrGaveUp, s.cfg.MaxAttempts)
	}
	outcome, err := s.inspect(ctx, f)
	if err != nil && f.Processing.Attempts >= s.cfg.MaxAttempts {
		if ferr := s.MarkFailed(ctx, owner, id, GaveUpReason); ferr != nil {
			return ferr
		}
		return fmt.Errorf("%w after %d attempts: %w", ErrGaveUp, f.Processing.Attempts, err)
	}
	if err != nil {
		return err
	}
	return s.finish(ctx, owner, id, outcome)
}

// ErrGaveUp is what Process returns after it failed a file that kept
// failing (Config.MaxAttempts): the work is over, and its consumer
// reports it as a poison message (an error event with an error id)
// rather than as a quiet success.
var ErrGaveUp = errors.New("processing gave up")

// GaveUpReason is the error a file gets when processing started
// Config.MaxAttempts times without an outcome. The causes were
// infrastructure errors, logged where they happened; the owner learns only
// that it did not work.
const GaveUpReason = "processing failed repeatedly; upload the file again"

// MarkFailed ends a file that processing gave up on (it failed too often)
// as failed with reason, and announces it. A file that finished meanwhile
// keeps its outcome.
func (s *Service) MarkFailed(ctx context.Context, owner, id, reason string) error {
	return s.finish(ctx, owner, id, Outcome{Status: StatusFailed, Error: reason})
}

// finish stores the outcome unless the file already has one, then makes
// sure the stored outcome was announced.
func (s *Service) finish(ctx context.Context, owner, id string, o Outcome) error {
	f, _, err := s.store.FinishProcessing(ctx, owner, id, o, s.now())
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store outcome: %w", err)
	}
	return s.publishOutcome(ctx, f)
}

// publishOutcome announces a finished file once: the flag is set after the
// publish, and the event id makes a repeat after a crash in between a no-op.
func (s *Service) publishOutcome(ctx context.Context, f File) error {
	if f.Processing.OutcomePublished {
		return nil
	}
	var err error
	switch f.Status {
	case StatusReady:
		err = s.events.Processed(ctx, f)
	case StatusFailed:
		err = s.events.Failed(ctx, f)
	default:
		return nil
	}
	if err != nil {
		return fmt.Errorf("announce outcome: %w", err)
	}
	if err := s.store.MarkOutcomePublished(ctx, f.OwnerID, f.ID); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("note outcome published: %w", err)
	}
	return nil
}

// ChangedObjectMessage is why a file whose object was replaced after its
// commit fails: processing (and conversion) read the committed version
// only.
const ChangedObjectMessage = "the stored object changed after it was uploaded; upload the file again"

// inspect reads the file's object once and judges it: the version
// committed, when its ETag was recorded.
func (s *Service) inspect(ctx context.Context, f File) (Outcome, error) {
	rc, err := s.openCommitted(ctx, f)
	if err == nil {
		defer rc.Close()
		var res sniff.Result
		if res, err = sniff.Inspect(ctx, rc, sniff.Hints{Ext: f.FileExt, DeclaredType: f.FileType}, s.cfg.Inspect); err == nil {
			return judge(f, res), nil
		}
	}
	// Either error may come from opening or from the first read.
	switch {
	case errors.Is(err, ErrObjectNotFound):
		return Outcome{Status: StatusFailed, Error: "the uploaded object is missing"}, nil
	case errors.Is(err, ErrObjectChanged):
		return Outcome{Status: StatusFailed, Error: ChangedObjectMessage}, nil
	case errors.Is(err, ErrStorageUnavailable):
		return Outcome{}, storageError("read object", err)
	}
	return Outcome{}, fmt.Errorf("inspect %s: %w", f.FilePath, err)
}

// openCommitted opens the version of f's object that was committed.
func (s *Service) openCommitted(ctx context.Context, f File) (io.ReadCloser, error) {
	if f.ETag == "" {
		rc, _, err := s.objects.Get(ctx, f.FilePath)
		return rc, err
	}
	return s.objects.GetVersion(ctx, f.FilePath, f.ETag)
}

// EraseUser deletes every object and every file of a deleted user. Both
// steps are idempotent, so an interrupted erase is finished by running it
// again. Objects go first: a document never outlives its object.
func (s *Service) EraseUser(ctx context.Context, owner string) error {
	if err := checkOwner(owner); err != nil {
		// Nothing can be stored under an unusable id.
		return nil
	}
	removed, err := s.objects.DeletePrefix(ctx, OwnerPrefix(owner))
	if err != nil {
		return storageError("erase objects", err)
	}
	docs, err := s.store.DeleteOwner(ctx, owner)
	if err != nil {
		return fmt.Errorf("erase files: %w", err)
	}
	s.log.InfoContext(ctx, "erased a deleted user's files", "owner_id", owner, "objects", removed, "files", docs)
	return nil
}
