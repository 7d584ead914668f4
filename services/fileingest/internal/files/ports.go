package files

import (
	"context"
	"io"
	"net/url"
	"time"
)

// Store keeps file documents. Every method is scoped to one owner; an id
// that is malformed or belongs to someone else is ErrNotFound.
type Store interface {
	// Insert stores a new file and returns it with its id; ErrDuplicate
	// when the owner already has a file for that object.
	Insert(ctx context.Context, f File) (File, error)
	Get(ctx context.Context, owner, id string) (File, error)
	GetByPath(ctx context.Context, owner, path string) (File, error)
	// List returns one page of the owner's files, newest first, without
	// their previews.
	List(ctx context.Context, owner string, p Page) ([]File, error)
	// Search returns the files q finds, newest first, without previews.
	Search(ctx context.Context, owner string, q SearchQuery) ([]File, error)
	// ReadyOfTypes returns one page of the ready files whose detected type
	// is one of types, newest first, without previews.
	ReadyOfTypes(ctx context.Context, owner string, types []string, p Page) ([]File, error)
	Rename(ctx context.Context, owner, id, name string, now time.Time) (File, error)
	Delete(ctx context.Context, owner, id string) error
	// DeleteOwner removes every file, reservation and quota ticket of
	// owner and says how many files.
	DeleteOwner(ctx context.Context, owner string) (int64, error)
	// UsedBytes sums the sizes of the owner's files.
	UsedBytes(ctx context.Context, owner string) (int64, error)

	// Reserve stores a reservation and returns it with its id.
	Reserve(ctx context.Context, r Reservation) (Reservation, error)
	// ReservationFor finds a reservation of the owner's object;
	// ErrNotFound when there is none.
	ReservationFor(ctx context.Context, owner, key string) (Reservation, error)
	// ReservedBytes sums the sizes of the owner's reservations.
	ReservedBytes(ctx context.Context, owner string) (int64, error)
	// Release deletes a reservation and says whether this call deleted
	// it: of callers racing to release the same one, exactly one is told
	// true. A commit and the sweep decide who owns an upload that way.
	Release(ctx context.Context, owner, id string) (bool, error)
	// DueReservations lists up to limit reservations whose SweepAfter is
	// before now, oldest first.
	DueReservations(ctx context.Context, now time.Time, limit int) ([]Reservation, error)
	// QuotaTicket is the number of the owner's latest quota ticket (0
	// before the first).
	QuotaTicket(ctx context.Context, owner string) (int64, error)
	// TakeQuotaTicket takes ticket number n of the owner; false when
	// another caller took that number first.
	TakeQuotaTicket(ctx context.Context, owner string, n int64) (bool, error)
	// DropTickets deletes the quota tickets taken before `before` that are
	// not their owner's latest.
	DropTickets(ctx context.Context, before time.Time) (int64, error)
	TypeSizes(ctx context.Context, owner string) ([]TypeSize, error)
	Types(ctx context.Context, owner string) ([]string, error)

	// StartProcessing moves an uploaded (or interrupted processing) file
	// to processing and counts the attempt. started is false, with the
	// file as stored, when it is already ready or failed.
	StartProcessing(ctx context.Context, owner, id string, now time.Time) (f File, started bool, err error)
	// FinishProcessing records the outcome if the file is still being
	// processed (or, for a failure, still uploaded); applied is false
	// otherwise.
	FinishProcessing(ctx context.Context, owner, id string, o Outcome, now time.Time) (f File, applied bool, err error)
	// MarkOutcomePublished notes that the outcome's event went out.
	MarkOutcomePublished(ctx context.Context, owner, id string) error
}

// ObjectStore is the bucket the files live in (package objects adapts
// pkg/objstore to it). Its errors wrap ErrObjectNotFound for a missing
// object or a key that can name none, ErrObjectChanged for a version that
// was replaced, ErrStorageUnavailable when the bucket cannot be reached;
// the readers it opens fail the same way.
type ObjectStore interface {
	Bucket() string
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	Get(ctx context.Context, key string) (io.ReadCloser, ObjectInfo, error)
	GetVersion(ctx context.Context, key, etag string) (io.ReadCloser, error)
	Delete(ctx context.Context, key string) error
	DeletePrefix(ctx context.Context, prefix string) (int, error)
	PresignPut(ctx context.Context, key string, size int64, expiry time.Duration) (*url.URL, error)
	PresignGet(ctx context.Context, key string, expiry time.Duration, downloadName string) (*url.URL, error)
	NewMultipartUpload(ctx context.Context, key, contentType string) (string, error)
	PresignUploadPart(ctx context.Context, key, uploadID string, number int, expiry time.Duration) (*url.URL, error)
	CompleteMultipartUpload(ctx context.Context, key, uploadID string, parts []Part) (ObjectInfo, error)
	AbortMultipartUpload(ctx context.Context, key, uploadID string) error
}

// Publisher announces what happened to files.
type Publisher interface {
	Uploaded(ctx context.Context, f File) error
	Processed(ctx context.Context, f File) error
	Failed(ctx context.Context, f File) error
	Deleted(ctx context.Context, f File) error
}
