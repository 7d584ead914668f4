// Package files is the core of the fileingest service: what a file is,
// the rules for naming, sizing and owning one, the processing outcome, and
// the Service that applies them. It declares the storage, object store and
// event publisher it needs as interfaces; adapters implement them.
package files

import (
	"fmt"
	"time"

	"github.com/nonefinity/backend/services/fileingest/internal/sniff"
)

// Status is where a file is in the processing pipeline.
type Status string

const (
	StatusUploaded   Status = "uploaded"
	StatusProcessing Status = "processing"
	StatusReady      Status = "ready"
	StatusFailed     Status = "failed"
)

// Preview is what processing learned about a CSV or XLSX.
type Preview = sniff.Preview

// File is one uploaded object and what is known about it. FileName is the
// original name without its extension; FileExt is the extension as given,
// with its dot. FileType is the MIME type the uploader declared (or guessed
// from the extension), DetectedType the one found in the bytes.
type File struct {
	ID       string
	OwnerID  string
	Bucket   string
	FilePath string
	FileName string
	FileExt  string
	FileType string
	FileSize int64
	URL      string
	// ETag is the object's ETag at commit: processing and conversion read
	// that version only, so an object replaced through a still valid
	// upload URL is refused rather than taken for the committed one.
	// Files committed before it was recorded have none.
	ETag string

	Status       Status
	Category     string
	DetectedType string
	SHA256       string
	Error        string
	Preview      *Preview
	Processing   Processing

	CreatedAt time.Time
	UpdatedAt time.Time
}

// Processing records the pipeline's attempts at a file.
type Processing struct {
	// Attempts counts the times processing started.
	Attempts  int
	StartedAt time.Time
	// FinishedAt is when the file became ready or failed.
	FinishedAt time.Time
	// OutcomePublished is set once the processed or failed event went out,
	// so a redelivery publishes it at most once more.
	OutcomePublished bool
}

// Outcome is the result of processing a file.
type Outcome struct {
	Status       Status
	Category     string
	DetectedType string
	SHA256       string
	Error        string
	Preview      *Preview
}

// Grant is a presigned upload: PUT at most MaxSize bytes to URL before it
// expires, then commit ObjectName.
type Grant struct {
	URL        string
	ObjectName string
	ExpiresIn  time.Duration
	// MaxSize is the most the uploader may send: the size limit or what is
	// left of the quota, whichever is smaller.
	MaxSize int64
}

// Reservation holds quota for an object that may be uploaded and not yet
// committed: an upload URL granted (its declared size) or an object being
// committed without one (its real size). A commit turns it into the file;
// otherwise the sweep removes the object and the reservation once the URL
// and a grace period as long again have passed (SweepAfter).
type Reservation struct {
	ID         string
	OwnerID    string
	ObjectKey  string
	Size       int64
	ExpiresAt  time.Time
	SweepAfter time.Time
	CreatedAt  time.Time
}

// UploadRequest asks for a Grant.
type UploadRequest struct {
	FileName string
	Size     int64
	Type     string
}

// MultipartGrant is an upload of unknown size as S3 parts: every part but
// the last has PartSize bytes, all of them at most MaxSize, each PUT to a
// URL from PartURLs.
type MultipartGrant struct {
	ObjectName string
	UploadID   string
	PartSize   int64
	MaxSize    int64
	ExpiresIn  time.Duration
}

// CommitRequest records an uploaded object as a file.
type CommitRequest struct {
	ObjectName string
	FileName   string
	Size       int64
	Type       string
}

// Page is a window of a file list, which runs newest first: at most Limit
// files after the file at After (from the newest when After is nil).
// Positions rather than offsets, so a file added or removed while a list
// is read page by page neither repeats nor hides another.
type Page struct {
	After *Position
	Limit int
}

// Position is a file's place in a list: its creation time, then its id.
type Position struct {
	CreatedAt time.Time
	ID        string
}

// PositionOf is where f stands in a list.
func PositionOf(f File) *Position { return &Position{CreatedAt: f.CreatedAt, ID: f.ID} }

// MaxPageLimit is the most files one page reads.
const MaxPageLimit = 1000

func (p Page) check() error {
	if p.Limit < 1 || p.Limit > MaxPageLimit {
		return invalid("limit", fmt.Sprintf("must be between 1 and %d", MaxPageLimit))
	}
	return nil
}

// SearchQuery finds files by name and type.
type SearchQuery struct {
	// Name is matched literally, case-insensitively, anywhere in the name.
	Name string
	// TypePrefix matches the start of the declared MIME type.
	TypePrefix string
	Limit      int
}

// Search limits.
const (
	SearchDefaultLimit = 50
	SearchMaxLimit     = 100
)

// BatchResult is the outcome of a batch delete.
type BatchResult struct {
	Deleted []string
	Failed  []BatchFailure
}

// BatchFailure is one id that could not be deleted.
type BatchFailure struct {
	ID     string
	Reason string
}

// Stats sums a user's files.
type Stats struct {
	TotalFiles int
	TotalSize  int64
	// ByMajorType counts files by the part of their MIME type before the
	// slash ("text", "image"); files without a type count as "unknown".
	ByMajorType map[string]int
}

// TypeSize is one file's declared type and size, what Stats needs.
type TypeSize struct {
	Type string
	Size int64
}

// Access is a presigned GET of a file's object.
type Access struct {
	URL       string
	ExpiresIn time.Duration
	File      File
}
