package files

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"time"
)

// Defaults of UploadSweeper.Run and of FILE_MULTIPART_SWEEP_INTERVAL and
// FILE_MULTIPART_MAX_AGE.
const (
	DefaultUploadSweepInterval = time.Hour
	DefaultUploadMaxAge        = 24 * time.Hour
)

// UploadStore is what the upload sweep needs of the bucket (package
// objects adapts pkg/objstore to it).
type UploadStore interface {
	IncompleteUploads(ctx context.Context, prefix string) iter.Seq2[IncompleteUpload, error]
	AbortMultipartUpload(ctx context.Context, key, uploadID string) error
}

// UncommittedSweeper releases the reservations of uploads whose URL
// expired without a commit and removes their objects; *Service implements
// it.
type UncommittedSweeper interface {
	SweepUncommitted(ctx context.Context) (int, error)
}

// UploadSweeper removes what uploads leave behind. It aborts the multipart
// uploads under users/ that were started more than MaxAge ago: the gateway
// relays an upload as a multipart upload and aborts it when the stream
// fails, but not when its process dies, and such an upload would keep its
// parts in the bucket forever. And, with Uncommitted, it removes objects
// PUT to a presigned URL and never committed, and releases the quota they
// held. Several instances may sweep the same bucket; aborting an upload
// that another one aborted first is not an error.
type UploadSweeper struct {
	Store UploadStore
	// Uncommitted sweeps the uncommitted single-PUT uploads; nil skips
	// them.
	Uncommitted UncommittedSweeper
	// MaxAge is how old an upload must be to be abandoned; no upload
	// through the gateway takes that long. Zero means DefaultUploadMaxAge.
	MaxAge time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	Log *slog.Logger
}

// Sweep aborts the multipart uploads initiated before Now minus MaxAge,
// then sweeps the uncommitted ones, and returns how many uploads it
// removed. A failed abort does not stop the others; the error then counts
// the failures and wraps the first one.
func (w UploadSweeper) Sweep(ctx context.Context) (int, error) {
	aborted, err := w.sweepMultipart(ctx)
	if w.Uncommitted == nil || ctx.Err() != nil {
		return aborted, err
	}
	released, uerr := w.Uncommitted.SweepUncommitted(ctx)
	if uerr != nil {
		uerr = fmt.Errorf("sweep uncommitted uploads: %w", uerr)
	}
	return aborted + released, errors.Join(err, uerr)
}

func (w UploadSweeper) sweepMultipart(ctx context.Context) (int, error) {
	maxAge := w.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultUploadMaxAge
	}
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	cutoff := now().Add(-maxAge)
	var aborted, failed int
	var firstErr error
	for u, err := range w.Store.IncompleteUploads(ctx, usersPrefix) {
		if err != nil {
			return aborted, w.failure(aborted, failed, firstErr, err)
		}
		if !u.Initiated.Before(cutoff) {
			continue
		}
		if err := w.Store.AbortMultipartUpload(ctx, u.Key, u.UploadID); err != nil {
			if ctx.Err() != nil {
				return aborted, w.failure(aborted, failed, firstErr, err)
			}
			failed++
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		aborted++
		w.log().DebugContext(ctx, "aborted abandoned multipart upload", "key", u.Key, "initiated", u.Initiated)
	}
	return aborted, w.failure(aborted, failed, firstErr, nil)
}

// failure is Sweep's error: the failed aborts, and what ended the sweep
// early if anything did.
func (w UploadSweeper) failure(aborted, failed int, firstAbortErr, stopErr error) error {
	var errs []error
	if failed > 0 {
		errs = append(errs, fmt.Errorf("%d of %d aborts failed, first: %w", failed, failed+aborted, firstAbortErr))
	}
	if stopErr != nil {
		errs = append(errs, stopErr)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sweep multipart uploads: %w", err)
	}
	return nil
}

// Run sweeps once now and then every interval (DefaultUploadSweepInterval
// when not positive) until ctx ends. A failed sweep is logged and the next
// one tries again.
func (w UploadSweeper) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultUploadSweepInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := w.Sweep(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			w.log().WarnContext(ctx, "upload sweep failed", "err", err, "removed", n)
		case n > 0:
			w.log().InfoContext(ctx, "removed abandoned uploads", "removed", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w UploadSweeper) log() *slog.Logger {
	if w.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return w.Log
}
