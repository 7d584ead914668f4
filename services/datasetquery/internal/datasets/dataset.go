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

	"github.com/nonefinity/backend/pkg/fielderr"
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
	Parts       []Part
	// Report is how a converted dataset's file was read; nil for a dataset
	// created empty or still converting.
	Report *Report
	// Rejects is the Parquet file of the rows a conversion did not keep.
	Rejects *Part
	// IdempotencyKey is the key the converting request carried ("" for
	// none); RequestFingerprint sums up what that request asked for (see
	// ConvertRequest), so a repeat can be told from a different request.
	IdempotencyKey     string
	RequestFingerprint string
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// Report is the account of a conversion: how many data rows the file had,
// how many the dataset did not keep, what the user should know and how the
// file was read.
type Report struct {
	RowsRead     int64
	RowsRejected int64
	Warnings     []Warning
	Source       Source
}

// Warning codes: things about a dataset's content a user should check.
const (
	WarnRowsRejected       = "rows_rejected"
	WarnRowsPadded         = "rows_padded"
	WarnQuotesAsText       = "quotes_as_text"
	WarnMixedEncoding      = "mixed_encoding"
	WarnReplacedCharacters = "replaced_characters"
	WarnNumbersAsText      = "numbers_as_text"
)

// Warning is one finding, with how many rows (or values) it concerns and
// the first of their line numbers in the file.
type Warning struct {
	Code    string
	Message string
	Count   int64
	Lines   []int64
	Column  string
}

// Source is how the file was read: the dialect and layout used, what was
// skipped above the table, and how text columns were read as other types.
type Source struct {
	FileID   string
	Format   string // csv or xlsx
	Encoding string
	// Delimiter and Quote as used ("" quote: quoting off).
	Delimiter string
	Quote     string
	Header    bool
	// SkipRows counts the rows (records) above the table; Preamble holds
	// the first of them as text.
	SkipRows int
	Preamble []string
	// Sheet and HeaderRow (from 1; 0 without a header) for a workbook.
	Sheet     string
	HeaderRow int
	Columns   []ColumnReading
}

// ColumnReading says how one column's text was read as its type.
type ColumnReading struct {
	Column string
	// NullTokens are the texts read as NULL (NA, N/A, …).
	NullTokens []string
	// DecimalSeparator is set for numbers read with digit groups or a
	// decimal comma.
	DecimalSeparator string
	// Exact says the column holds numbers too long for a double and was
	// kept exact (a decimal, or text beyond 38 digits).
	Exact bool
	// Duration says spreadsheet durations ([h]:mm:ss) were read as
	// intervals.
	Duration bool
}

// Changes are the fields an update sets; nil leaves a field alone.
type Changes struct {
	Name        *string
	Description *string
	Schema      []Column
	Status      *Status
	Error       *string
	RowCount    *int64
	Parts       []Part
	// Report replaces the conversion report, and Rejects the rejects file;
	// with a Report, the fields it leaves empty are removed (a re-run).
	Report      *Report
	Rejects     *Part
	ClearReport bool
}

// Sentinel errors; adapters map them to rpcerr codes once.
var (
	ErrNotFound      = errors.New("dataset not found")
	ErrDuplicateName = errors.New("a dataset with this name already exists")
	ErrInvalid       = errors.New("invalid dataset")
	ErrNotReady      = errors.New("dataset is not ready")
	// ErrDatabaseUnavailable: the store cannot serve now; a retry later
	// may succeed.
	ErrDatabaseUnavailable = errors.New("database unavailable")
)

// invalid is the error of an input field that breaks a rule: an ErrInvalid
// naming the field (a dataset column's name for a column).
func invalid(field, message string) error {
	return fielderr.New(ErrInvalid, field, message)
}

// Store keeps dataset documents; every method is scoped to one owner, so
// another user's id is ErrNotFound.
type Store interface {
	Insert(ctx context.Context, d Dataset) (Dataset, error)
	List(ctx context.Context, ownerID string, skip, limit int) ([]Dataset, int, error)
	Get(ctx context.Context, ownerID, id string) (Dataset, error)
	GetByName(ctx context.Context, ownerID, name string) (Dataset, error)
	// GetByIdempotencyKey returns the owner's dataset made by the request
	// with that key. A key is unique per owner: inserting a second
	// dataset with it is refused like a taken name (ErrDuplicateName).
	GetByIdempotencyKey(ctx context.Context, ownerID, key string) (Dataset, error)
	Update(ctx context.Context, ownerID, id string, c Changes) (Dataset, error)
	Delete(ctx context.Context, ownerID, id string) (Dataset, error)
	DeleteOwner(ctx context.Context, ownerID string) (int, error)
	ReadyTables(ctx context.Context, ownerID string) ([]Table, error)
	// AppendPart adds a Parquet part and its rows to a dataset that still
	// has expectParts parts, in one update; otherwise ErrConcurrentChange.
	AppendPart(ctx context.Context, ownerID, id string, expectParts int, p Part, rows int64) (Dataset, error)
	// CountProcessing counts the owner's datasets being converted.
	CountProcessing(ctx context.Context, ownerID string) (int, error)
	// AddAttempt counts a conversion run of a processing dataset and
	// returns how many have started; ErrNotFound when it is no longer
	// processing.
	AddAttempt(ctx context.Context, ownerID, id string) (int, error)
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
