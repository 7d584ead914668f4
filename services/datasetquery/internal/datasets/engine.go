package datasets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Engine is the SQL engine over the datasets' Parquet parts (package duck
// implements it with DuckDB): the users' query sessions with their local
// caches, and the private databases that convert, cast and export files.
// Where a method writes files, spill is a directory it may spill to.
type Engine interface {
	// Query runs one read-only statement of the user's over their ready
	// datasets and returns at most limit rows. Errors: ErrEmptyQuery,
	// ErrMultipleStatements, ErrNotReadOnly, ErrTooManyQueries,
	// ErrQueryTimeout, *QueryError, or an infrastructure error.
	Query(ctx context.Context, userID, query string, limit int) (Result, error)
	// Window reads rows [offset, offset+limit) of a table in file order.
	Window(ctx context.Context, userID string, t Table, offset, limit int) (Result, error)
	// CachedParts returns local copies of a table's parts; release must be
	// called when they are no longer read.
	CachedParts(ctx context.Context, userID string, t Table) (files []string, release func(), err error)
	// ForgetDataset drops this instance's cached copy of a dataset.
	ForgetDataset(userID, datasetID string)
	// DropUser closes the user's sessions and removes their cache.
	DropUser(userID string) error
	// Sessions describes this instance's sessions; CloseExpired closes
	// those past their TTL that run nothing and says how many.
	Sessions() SessionStats
	CloseExpired() int

	// ConvertCSV writes the prepared CSV src to dst as Parquet, giving
	// each column its type.
	ConvertCSV(ctx context.Context, spill string, src CSVSource, dst string, opts CSVOptions) (ConvertResult, error)
	// ConvertXLSX writes a sheet of the workbook src to dst as Parquet.
	ConvertXLSX(ctx context.Context, spill, src, dst string, opts XLSXOptions) (ConvertResult, error)
	// CastCSV and CastXLSX write the file's rows to dst as Parquet with
	// the columns and types of the Parquet file schemaFile, matching
	// columns by name; a column that cannot be filled is a *ColumnError.
	CastCSV(ctx context.Context, spill string, src CSVSource, schemaFile, dst string, opts CSVOptions) (int64, error)
	CastXLSX(ctx context.Context, spill, src, schemaFile, dst string, opts XLSXOptions) (int64, error)
	// Export writes the rows of the Parquet files, in file order, to dst
	// in one of ExportFormats.
	Export(ctx context.Context, spill string, files []string, format, dst string) error
	// WriteEmptyParquet writes a Parquet file with the columns and no
	// rows.
	WriteEmptyParquet(ctx context.Context, path string, cols []ColumnDef) error
	// WriteRejects writes the rejected rows csvPath holds (line, reason,
	// raw) to dst as Parquet; ReadRejects pages through such a file.
	WriteRejects(ctx context.Context, spill, csvPath, dst string) error
	ReadRejects(ctx context.Context, file string, offset, limit int) ([]Reject, int64, error)
}

// Table is a ready dataset as a query sees it: its name and Parquet parts.
type Table struct {
	Name      string
	DatasetID string
	Parts     []Part
}

// Part is one Parquet object of a dataset; ETag identifies its content.
type Part struct {
	Key  string
	ETag string
	Size int64
}

// ColumnDef is a column to create: its name and engine type.
type ColumnDef struct {
	Name, Type string
}

// ResultColumn is a result column and its engine type name.
type ResultColumn struct {
	Name string
	Type string
}

// Result is a query's answer. Each row holds one JSON-encoded value per
// column, in column order.
type Result struct {
	Columns   []ResultColumn
	Rows      [][]json.RawMessage
	Truncated bool
	Elapsed   time.Duration
}

// SessionStats counts an instance's query sessions (an expired one is past
// its TTL but not swept yet) and says how long they live.
type SessionStats struct {
	Total, Active, Expired       int
	InstanceTTL, CleanupInterval time.Duration
}

// Errors of a user's statement.
var (
	// ErrEmptyQuery: the text holds no statement.
	ErrEmptyQuery = errors.New("query is empty")
	// ErrMultipleStatements: more than one statement in one request.
	ErrMultipleStatements = errors.New("exactly one SQL statement is allowed")
	// ErrNotReadOnly: the statement is not a query (COPY, ATTACH, SET…).
	ErrNotReadOnly = errors.New("only read-only queries (SELECT, WITH, VALUES, PIVOT, DESCRIBE, SUMMARIZE, EXPLAIN) are allowed")
	// ErrTooManyQueries: the user already runs as many queries as allowed.
	ErrTooManyQueries = errors.New("too many queries running at once")
	// ErrQueryTimeout: the statement outlived the query timeout (or the
	// caller's deadline, less a margin to answer in) and was interrupted.
	ErrQueryTimeout = errors.New("query timed out")
)

// QueryError is the engine refusing or failing a user's statement; Message
// is the engine's own text with file system paths removed.
type QueryError struct {
	Message string
}

func (e *QueryError) Error() string { return fmt.Sprintf("query: %s", e.Message) }

// CSVSource is a delimited text file prepared for a strict read: UTF-8,
// every data row as wide as Names (see package csvprep), so the engine has
// nothing left to guess but the types.
type CSVSource struct {
	Path string
	// Delimiter separates fields; Quote quotes them (0: never quoted).
	Delimiter, Quote byte
	// Newline fixes the line end ('\n', or '\r' for bare carriage
	// returns); 0 lets the engine tell "\n" from "\r\n".
	Newline byte
	// SkipLines physical lines come before the first data row.
	SkipLines int64
	Names     []string
	// Rows is how many rows the read must produce: a different count
	// means the engine read the file differently from the scan (a
	// *DisagreeError), never a silent loss. -1: a file of one record per
	// line, counted by the read itself.
	Rows int64
	// MaxRecordBytes is the longest record, to raise the engine's line
	// limit.
	MaxRecordBytes int
}

// CSVOptions are the user's reading choices.
type CSVOptions struct {
	// NullValues are texts read as NULL in every column (besides the
	// empty field).
	NullValues []string
	// DecimalSeparator is ',' or '.' when the user named it, 0 to detect:
	// then numbers with a decimal comma are recognised in files whose
	// delimiter is not a comma.
	DecimalSeparator byte
}

// XLSXOptions choose what of a workbook becomes the dataset.
type XLSXOptions struct {
	// Sheet names the sheet; empty takes the first one.
	Sheet string
	// Header says whether the table's first row names the columns; nil
	// decides (tabular.DetectLayout).
	Header *bool
	// SkipRows fixes how many rows come before the table; nil finds the
	// table below title and blank rows.
	SkipRows *int
	// MaxCells caps the cells read (rows × columns); 0 means 50,000,000.
	MaxCells int64
	// MaxUncompressed caps what the parts read for the sheet may inflate
	// to; 0 means 8 GiB.
	MaxUncompressed int64
	// TempDir takes the workbook copy and sheets too large for memory;
	// empty means the source file's directory.
	TempDir string
	// MaxColumns refuses a wider table; 0 means 16,384 (Excel's width).
	MaxColumns int
}

// ConvertResult describes the Parquet file a conversion wrote.
type ConvertResult struct {
	Columns []ColumnDef
	Rows    int64
	Notes   []ColumnNote
	// Sheet is how a workbook's sheet was read (XLSX only).
	Sheet SheetReading
}

// ColumnNote says how a column's text was read as another type.
type ColumnNote struct {
	Column string
	// Type is the engine type the column got.
	Type string
	// NullTokens are the texts read as NULL in it (NA, N/A, …).
	NullTokens []string
	// DecimalSeparator is set when numbers were read with it and digit
	// groups ("1.234,5" → 1234.5).
	DecimalSeparator string
	// Exact says the column holds integers or decimals too long for a
	// DOUBLE and was given an exact DECIMAL (or kept as text).
	Exact bool
}

// SheetReading is how a sheet was read.
type SheetReading struct {
	Name string
	// HeaderRow is the sheet row (from 1) that named the columns, 0 for
	// none; SkipRows the rows above the table, Preamble their text.
	HeaderRow int
	SkipRows  int
	Preamble  []string
	// Durations are the columns of elapsed times ([h]:mm:ss), read as
	// intervals.
	Durations []string
	// NullTokens are, by column, the texts read as NULL in columns of
	// another type.
	NullTokens map[string][]string
}

// Reject is one row a conversion did not keep.
type Reject struct {
	Line   int64
	Reason string
	Raw    string
}

// InputError is a conversion or insert that failed because of the file's
// content, not the infrastructure: retrying cannot help. Message has no
// file system paths.
type InputError struct {
	Message string
}

func (e *InputError) Error() string { return e.Message }

// ColumnError names a dataset column an inserted file cannot fill.
type ColumnError struct {
	Column string
	Reason string
}

func (e *ColumnError) Error() string { return "column " + e.Column + ": " + e.Reason }

// DisagreeError is a read of a prepared file that did not give the rows
// the scan counted (or rejected some): the caller reads the file again in
// the canonical dialect.
type DisagreeError struct{ Detail string }

func (e *DisagreeError) Error() string { return "the CSV reader disagreed with the scan: " + e.Detail }

// ExportFormats are the formats a dataset exports to, with the
// Content-Type of each.
var ExportFormats = map[string]string{
	"csv":     "text/csv",
	"json":    "application/json",
	"parquet": parquetType,
}

// quotedPath and barePath match file system paths in messages, which must
// not reach the user: a quoted absolute path, and an unquoted one of at
// least two segments that starts a word (so a value such as 'a/b/c' in a
// cast error stays readable, and a path cut short by "..." goes too).
var (
	quotedPath = regexp.MustCompile(`(["'])/[^"']*(["'])`)
	barePath   = regexp.MustCompile(`(^|[\s(=\[,:'"])/[^\s"':,)\]]*/[^\s"':,)\]]*`)
)

// ScrubPaths removes file system paths from a message shown to a user
// (the engine's, or a conversion's).
func ScrubPaths(msg string) string {
	msg = quotedPath.ReplaceAllString(msg, "${1}<path>${2}")
	return barePath.ReplaceAllString(msg, "${1}<path>")
}
