package files

import (
	"errors"

	"github.com/nonefinity/backend/pkg/fielderr"
)

// Sentinel errors of the core. Adapters map them to their own codes with
// errors.Is.
var (
	// ErrNotFound: no such file for this owner (including another owner's
	// file and an object outside the owner's prefix).
	ErrNotFound = errors.New("file not found")
	// ErrDuplicate: a file for this object already exists (store level).
	ErrDuplicate = errors.New("file already recorded")
	// ErrNoUser: the request carries no usable user id.
	ErrNoUser = errors.New("no user")
	// ErrInvalid: an input field breaks a rule; see fielderr.Error, whose
	// Kind is this or one of ErrTooLarge, ErrQuotaExceeded, ErrSizeMismatch.
	ErrInvalid = errors.New("invalid input")
	// ErrSizeMismatch: the object's size differs from the declared one.
	ErrSizeMismatch = errors.New("size mismatch")
	// ErrTooLarge: the file is over the size limit.
	ErrTooLarge = errors.New("file too large")
	// ErrQuotaExceeded: the file does not fit in the owner's quota.
	ErrQuotaExceeded = errors.New("quota exceeded")
	// ErrDatabaseUnavailable: the store cannot serve now; a retry later
	// may succeed.
	ErrDatabaseUnavailable = errors.New("database unavailable")
	// ErrStorageUnavailable: object storage cannot be reached.
	ErrStorageUnavailable = errors.New("object storage unavailable")
	// ErrUploadExpired: the upload was swept (its URL and the grace after
	// it passed) before it was committed.
	ErrUploadExpired = errors.New("the upload expired before it was committed; upload the file again")
	// ErrBusy: too many uploads of the same owner raced for the quota at
	// once; retrying succeeds.
	ErrBusy = errors.New("too many uploads are being started at once; retry")
)

func invalid(field, message string) error {
	return fielderr.New(ErrInvalid, field, message)
}
