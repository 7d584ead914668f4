package datasetv1

import (
	"time"

	"github.com/nonefinity/backend/contracts"
)

// ConvertJob is the unit of work on job.dataset.v1.convert.<owner_id>: fill
// the processing dataset DatasetID from the file FileID.
type ConvertJob struct {
	DatasetID string `json:"dataset_id"`
	OwnerID   string `json:"owner_id"`
	FileID    string `json:"file_id"`
	ConvertOptions
	RequestedAt time.Time `json:"requested_at"`
}

// Subject is the subject this job is published on.
func (j ConvertJob) Subject() string { return contracts.ConvertJobSubject(j.OwnerID) }

// DatasetCreated is published on evt.dataset.v1.created.<owner_id> when a
// dataset document is stored (empty from create, or processing from convert).
type DatasetCreated struct {
	DatasetID string    `json:"dataset_id"`
	OwnerID   string    `json:"owner_id"`
	Name      string    `json:"name"`
	Status    Status    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

// Subject is the subject this event is published on.
func (e DatasetCreated) Subject() string {
	return contracts.EventSubject(contracts.DomainDataset, contracts.EventCreated, e.OwnerID)
}

// DatasetConverted is published on evt.dataset.v1.converted.<owner_id> when
// a conversion job made the dataset ready.
type DatasetConverted struct {
	DatasetID   string    `json:"dataset_id"`
	OwnerID     string    `json:"owner_id"`
	FileID      string    `json:"file_id"`
	Name        string    `json:"name"`
	RowCount    int64     `json:"row_count"`
	ConvertedAt time.Time `json:"converted_at"`
}

// Subject is the subject this event is published on.
func (e DatasetConverted) Subject() string {
	return contracts.EventSubject(contracts.DomainDataset, contracts.EventConverted, e.OwnerID)
}

// DatasetFailed is published on evt.dataset.v1.failed.<owner_id> when a
// conversion job failed the dataset.
type DatasetFailed struct {
	DatasetID string    `json:"dataset_id"`
	OwnerID   string    `json:"owner_id"`
	FileID    string    `json:"file_id"`
	Error     string    `json:"error"`
	FailedAt  time.Time `json:"failed_at"`
}

// Subject is the subject this event is published on.
func (e DatasetFailed) Subject() string {
	return contracts.EventSubject(contracts.DomainDataset, contracts.EventFailed, e.OwnerID)
}

// DatasetUpdated is published on evt.dataset.v1.updated.<owner_id> when a
// dataset's rows, name or schema changed, so every instance drops its cached
// table (PreviousName is set on a rename: the table to drop).
type DatasetUpdated struct {
	DatasetID    string    `json:"dataset_id"`
	OwnerID      string    `json:"owner_id"`
	Name         string    `json:"name"`
	PreviousName string    `json:"previous_name,omitempty"`
	RowCount     int64     `json:"row_count"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Subject is the subject this event is published on.
func (e DatasetUpdated) Subject() string {
	return contracts.EventSubject(contracts.DomainDataset, contracts.EventUpdated, e.OwnerID)
}

// DatasetDeleted is published on evt.dataset.v1.deleted.<owner_id> after a
// dataset's objects and document were removed.
type DatasetDeleted struct {
	DatasetID string    `json:"dataset_id"`
	OwnerID   string    `json:"owner_id"`
	Name      string    `json:"name"`
	DeletedAt time.Time `json:"deleted_at"`
}

// Subject is the subject this event is published on.
func (e DatasetDeleted) Subject() string {
	return contracts.EventSubject(contracts.DomainDataset, contracts.EventDeleted, e.OwnerID)
}
