// Package datasets is the core of the datasetquery service: datasets (a
// name, a typed schema and Parquet parts in object storage), the rules for
// their names and column types, and the operations on them. It has no NATS
// or MongoDB imports; adapters implement Store.
package datasets

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/nonefinity/backend/services/datasetquery/internal/duck"
)

// Status of a dataset.
type Status string

const (
	StatusProcessing Status = "processing"
	StatusReady      Status = "ready"
	StatusFailed     Status = "failed"
)

// Column is one column of a dataset's schema; Type is in the lower-case
// vocabulary of the original service.
type Column struct {
	Name string
	Type string
	Desc string
}

// Dataset is one user's dataset.
type Dataset struct {
	ID          string
	OwnerID     string
	Name        string
	Description string
	Schema      []Column
	RowCount    int64
	Status      Status
	Error       string
	FileID      string
	Parts       []duck.Part
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Changes are the fields an update sets; nil leaves a field alone.
type Changes struct {
	Name        *string
	Description *string
	Schema      []Column
	Status      *Status
	Error       *string
	RowCount    *int64
	Parts       []duck.Part
}

// Sentinel errors; adapters map them to rpcerr codes once.
var (
	ErrNotFound      = errors.New("dataset not found")
	ErrDuplicateName = errors.New("a dataset with this name already exists")
	ErrInvalid       = errors.New("invalid dataset")
	ErrNotReady      = errors.New("dataset is not ready")
)

// ValidationError names the offending field.
type ValidationError struct {
	Field   string
	Message string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Message }
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// Store keeps dataset documents; every method is scoped to one owner, so
// another user's id is ErrNotFound.
type Store interface {
	Insert(ctx context.Context, d Dataset) (Dataset, error)
	List(ctx context.Context, ownerID string, skip, limit int) ([]Dataset, int, error)
	Get(ctx context.Context, ownerID, id string) (Dataset, error)
	Update(ctx context.Context, ownerID, id string, c Changes) (Dataset, error)
	Delete(ctx context.Context, ownerID, id string) (Dataset, error)
	DeleteOwner(ctx context.Context, ownerID string) (int, error)
	ReadyTables(ctx context.Context, ownerID string) ([]duck.Table, error)
	// AppendPart adds a Parquet part and its rows to a dataset that still
	// has expectParts parts, in one update; otherwise ErrConcurrentChange.
	AppendPart(ctx context.Context, ownerID, id string, expectParts int, p duck.Part, rows int64) (Dataset, error)
}

// PartKey is the object key of a dataset's n-th Parquet part.
func PartKey(ownerID, datasetID string, n int) string {
	return DatasetPrefix(ownerID, datasetID) + "part-" + strconv.Itoa(n) + ".parquet"
}

// DatasetPrefix is where every object of a dataset lives.
func DatasetPrefix(ownerID, datasetID string) string {
	return "users/" + ownerID + "/datasets/" + datasetID + "/"
}

// UserPrefix is where every dataset object of a user lives.
func UserPrefix(ownerID string) string { return "users/" + ownerID + "/datasets/" }
