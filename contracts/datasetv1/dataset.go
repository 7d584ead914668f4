package datasetv1

import (
	"encoding/json"
	"time"

	"github.com/nonefinity/backend/contracts/paging"
)

// Status is where a dataset is: processing while its conversion job runs,
// then ready or failed (with Error).
type Status string

const (
	StatusProcessing Status = "processing"
	StatusReady      Status = "ready"
	StatusFailed     Status = "failed"
)

// ColumnTypes is the lower-case type vocabulary the original service
// validated and reported; DuckDB types are mapped onto it.
func ColumnTypes() []string {
	return []string{
		"string", "varchar", "text",
		"integer", "bigint", "smallint", "tinyint", "hugeint",
		"float", "double", "decimal", "numeric",
		"boolean", "bool",
		"date", "timestamp", "datetime", "timestamptz", "time", "interval",
		"uuid", "blob",
		"json", "array", "struct",
	}
}

// Column is one column of a dataset's schema.
type Column struct {
	ColumnName string `json:"column_name"`
	ColumnType string `json:"column_type"`
	Desc       string `json:"desc,omitempty"`
}

// Dataset is a document of the datasets collection as the API shows it.
// Name is also the table name a query uses.
//
// A converted dataset also says how its file was read: RowsRead data rows,
// RowsRejected of them not kept (GET /datasets/{id}/rejects lists them),
// Warnings a user should check, and Source (dialect, layout, how text
// columns were typed). A ready dataset with warnings is "ready with
// warnings": its data is usable, but not everything went as the file
// literally says.
type Dataset struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	Description  string    `json:"description,omitempty"`
	OwnerID      string    `json:"owner_id"`
	DataSchema   []Column  `json:"data_schema"`
	RowCount     int64     `json:"row_count"`
	Status       Status    `json:"status"`
	Error        string    `json:"error,omitempty"`
	RowsRead     *int64    `json:"rows_read,omitempty" doc:"Converted datasets: data rows in the file (row_count + rows_rejected)"`
	RowsRejected *int64    `json:"rows_rejected,omitempty" doc:"Converted datasets: rows not kept; GET /datasets/{id}/rejects lists them"`
	Warnings     []Warning `json:"warnings,omitempty" doc:"What the user should check; a ready dataset with warnings is 'ready with warnings'"`
	Source       *Source   `json:"source,omitempty" doc:"How the file was read"`
	CreatedAt    time.Time `json:"created_at,omitzero"`
	UpdatedAt    time.Time `json:"updated_at,omitzero"`
}

// Warning codes.
const (
	WarningRowsRejected       = "rows_rejected"
	WarningRowsPadded         = "rows_padded"
	WarningQuotesAsText       = "quotes_as_text"
	WarningMixedEncoding      = "mixed_encoding"
	WarningReplacedCharacters = "replaced_characters"
	WarningNumbersAsText      = "numbers_as_text"
)

// Warning is one finding about a converted dataset: Count rows (or
// characters) concerned, Lines the first of their line numbers in the file.
type Warning struct {
	Code    string  `json:"code" enum:"rows_rejected,rows_padded,quotes_as_text,mixed_encoding,replaced_characters,numbers_as_text"`
	Message string  `json:"message"`
	Count   int64   `json:"count,omitempty" doc:"Rows (characters for replaced_characters) concerned"`
	Lines   []int64 `json:"lines,omitempty" doc:"The first (up to 100) of their line numbers in the file, from 1"`
	Column  string  `json:"column,omitempty"`
}

// Source is how a converted dataset's file was read.
type Source struct {
	FileID    string `json:"file_id,omitempty"`
	Format    string `json:"format"`
	Encoding  string `json:"encoding,omitempty"`
	Delimiter string `json:"delimiter,omitempty"`
	// Quote is the quote character; "" when quotes were read as text.
	Quote  string `json:"quote"`
	Header bool   `json:"header"`
	// SkipRows rows above the table were skipped; Preamble is their text.
	SkipRows  int             `json:"skip_rows"`
	Preamble  []string        `json:"preamble,omitempty"`
	Sheet     string          `json:"sheet,omitempty"`
	HeaderRow int             `json:"header_row,omitempty"`
	Columns   []ColumnReading `json:"columns,omitempty"`
}

// ColumnReading says how one column's text became its type.
type ColumnReading struct {
	Column           string   `json:"column"`
	NullTokens       []string `json:"null_tokens,omitempty"`
	DecimalSeparator string   `json:"decimal_separator,omitempty"`
	Exact            bool     `json:"exact,omitempty"`
	Duration         bool     `json:"duration,omitempty"`
}

// MarshalJSON writes an empty schema as [], never null.
func (d Dataset) MarshalJSON() ([]byte, error) {
	type plain Dataset
	p := plain(d)
	if p.DataSchema == nil {
		p.DataSchema = []Column{}
	}
	return json.Marshal(p)
}

// ConvertOptions override what conversion detects. Nil pointers and empty
// strings mean "as detected", except Quote: "" there turns quoting off.
// IgnoreErrors defaults to on, as in the original service: rows that
// cannot be read are set aside and reported; off, they fail the
// conversion.
type ConvertOptions struct {
	Sheet     string  `json:"sheet,omitempty" doc:"Sheet of a workbook; the first by default"`
	Delimiter string  `json:"delimiter,omitempty" doc:"One character, or \\t; detected by default"`
	Header    *bool   `json:"header,omitempty" doc:"Whether the table's first row names the columns; detected by default"`
	Encoding  string  `json:"encoding,omitempty" doc:"The file's encoding (utf-8, utf-16, cp1252, latin-1, shift_jis, gb18030, big5, euc-kr…); detected by default"`
	Quote     *string `json:"quote,omitempty" doc:"Quote character; empty reads quotation marks as text; detected when absent"`
	// SkipRows rows above the table are skipped; HeaderRow (from 1) names
	// the row holding the column names.
	SkipRows     *int  `json:"skip_rows,omitempty" doc:"Rows above the table (titles, notes) to skip; detected by default"`
	HeaderRow    *int  `json:"header_row,omitempty" doc:"The row (from 1) that names the columns"`
	IgnoreErrors *bool `json:"ignore_errors,omitempty" doc:"Default true: rows that cannot be read are set aside and reported; false fails the conversion"`
	// NullValues are texts read as NULL in every column.
	NullValues []string `json:"null_values,omitempty" doc:"Texts read as NULL in every column (besides the empty field)"`
	// DecimalSeparator is "," or "." to say how the file writes numbers.
	DecimalSeparator string `json:"decimal_separator,omitempty" doc:"\",\" or \".\": how the file writes numbers (1.234,56 with ','); detected by default"`
}

// ConvertRequest turns one of the caller's ready CSV/XLSX files into a
// dataset. With Async the reply comes as soon as the job is queued.
type ConvertRequest struct {
	FileID      string `json:"file_id"`
	DatasetName string `json:"dataset_name"`
	Description string `json:"description,omitempty"`
	ConvertOptions
	Async bool `json:"async,omitempty"`
	// IdempotencyKey names the request for its retries: the same key with
	// the same request answers with the dataset the first one made; with
	// another request it is a validation error. The gateway takes it from
	// the Idempotency-Key header.
	IdempotencyKey string `json:"idempotency_key,omitempty" doc:"The Idempotency-Key header, for clients that cannot set one (an HTML form); the header wins" maxLength:"255"`
}

// ConvertReply is either the finished dataset (Accepted false: HTTP 201) or,
// when the conversion was asked async or outlived the wait, only its id and
// status (Accepted true: HTTP 202 {dataset_id, status}). Existing says the
// dataset is an earlier request's, which this one repeated (HTTP 200 when
// it is ready).
type ConvertReply struct {
	Dataset   *Dataset `json:"dataset,omitempty"`
	DatasetID string   `json:"dataset_id"`
	Status    Status   `json:"status"`
	Accepted  bool     `json:"accepted"`
	Existing  bool     `json:"existing,omitempty"`
}

// CreateRequest makes an empty dataset with a declared schema.
type CreateRequest struct {
	DatasetName string   `json:"dataset_name"`
	Description string   `json:"description,omitempty"`
	Schema      []Column `json:"schema"`
}

// ListRequest pages through the caller's datasets.
type ListRequest struct {
	paging.Page
}

// ListReply is one page of datasets and how many the caller has in all.
// A page holds at most as many datasets as fit in one NATS message; when
// that stopped it before the requested limit, NextSkip is where the rest
// of the requested window starts.
type ListReply struct {
	Datasets []Dataset `json:"datasets"`
	Total    int       `json:"total"`
	NextSkip int       `json:"next_skip,omitempty"`
}

// MarshalJSON writes an empty list as [], never null.
func (r ListReply) MarshalJSON() ([]byte, error) {
	type plain ListReply
	p := plain(r)
	if p.Datasets == nil {
		p.Datasets = []Dataset{}
	}
	return json.Marshal(p)
}

// GetRequest names one of the caller's datasets.
type GetRequest struct {
	ID string `json:"id"`
}

// UpdateRequest renames a dataset or changes its description.
type UpdateRequest struct {
	ID          string  `json:"id"`
	Name        *string `json:"name,omitempty"`
	Description *string `json:"description,omitempty"`
}

// UpdateSchemaRequest sets column descriptions, keyed by column name; the
// gateway folds both body shapes of the API into this one.
type UpdateSchemaRequest struct {
	ID           string            `json:"id"`
	Descriptions map[string]string `json:"descriptions"`
}

// DeleteRequest names the dataset to delete.
type DeleteRequest struct {
	ID string `json:"id"`
}

// DeleteReply confirms a deletion; the API answers it as `true`.
type DeleteReply struct {
	DatasetID string `json:"dataset_id"`
	Deleted   bool   `json:"deleted"`
}
