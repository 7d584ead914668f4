package filev1

import (
	"time"

	"github.com/nonefinity/backend/contracts"
)

// FileUploaded is published on evt.file.v1.uploaded.<owner_id> once a file
// is committed; the processing consumer reads the object from it.
type FileUploaded struct {
	FileID      string    `json:"file_id"`
	OwnerID     string    `json:"owner_id"`
	Bucket      string    `json:"bucket"`
	ObjectName  string    `json:"object_name"`
	Size        int64     `json:"size"`
	ContentType string    `json:"content_type"`
	UploadedAt  time.Time `json:"uploaded_at"`
}

// Subject is the subject this event is published on.
func (e FileUploaded) Subject() string {
	return contracts.EventSubject(contracts.DomainFile, contracts.EventUploaded, e.OwnerID)
}

// FileProcessed is published on evt.file.v1.processed.<owner_id> when a file
// reached status ready.
type FileProcessed struct {
	FileID       string    `json:"file_id"`
	OwnerID      string    `json:"owner_id"`
	Status       Status    `json:"status"`
	Category     string    `json:"category"`
	DetectedType string    `json:"detected_type"`
	SHA256       string    `json:"sha256"`
	Size         int64     `json:"size"`
	Preview      *Preview  `json:"preview,omitempty"`
	ProcessedAt  time.Time `json:"processed_at"`
}

// Subject is the subject this event is published on.
func (e FileProcessed) Subject() string {
	return contracts.EventSubject(contracts.DomainFile, contracts.EventProcessed, e.OwnerID)
}

// FileFailed is published on evt.file.v1.failed.<owner_id> when processing
// gave up on a file (status failed).
type FileFailed struct {
	FileID   string    `json:"file_id"`
	OwnerID  string    `json:"owner_id"`
	Error    string    `json:"error"`
	FailedAt time.Time `json:"failed_at"`
}

// Subject is the subject this event is published on.
func (e FileFailed) Subject() string {
	return contracts.EventSubject(contracts.DomainFile, contracts.EventFailed, e.OwnerID)
}

// FileDeleted is published on evt.file.v1.deleted.<owner_id> after a file's
// object and document were removed.
type FileDeleted struct {
	FileID     string    `json:"file_id"`
	OwnerID    string    `json:"owner_id"`
	ObjectName string    `json:"object_name"`
	DeletedAt  time.Time `json:"deleted_at"`
}

// Subject is the subject this event is published on.
func (e FileDeleted) Subject() string {
	return contracts.EventSubject(contracts.DomainFile, contracts.EventDeleted, e.OwnerID)
}
