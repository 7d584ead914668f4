package files

import (
	"errors"
	"time"
)

// Errors of the ObjectStore port, beside ErrStorageUnavailable.
var (
	// ErrObjectNotFound: no object at the key (or a key that cannot name
	// one), or no such multipart upload.
	ErrObjectNotFound = errors.New("object not found")
	// ErrObjectChanged: the object is no longer the version asked for.
	ErrObjectChanged = errors.New("object changed")
)

// MaxParts is S3's limit on the parts of one multipart upload.
const MaxParts = 10000

// ObjectInfo is what the service reads of a stored object.
type ObjectInfo struct {
	Size int64
	ETag string
}

// Part is one uploaded part of a multipart upload: its number (1-based)
// and the ETag the storage answered the part's PUT with.
type Part struct {
	Number int
	ETag   string
}

// IncompleteUpload is a multipart upload that was started and neither
// completed nor aborted.
type IncompleteUpload struct {
	Key       string
	UploadID  string
	Initiated time.Time
}
