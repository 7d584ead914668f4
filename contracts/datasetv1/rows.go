package datasetv1

import (
	"encoding/json"

	"github.com/nonefinity/backend/contracts/paging"
)

// DataRequest reads a window of a dataset's rows in a stable order.
type DataRequest struct {
	ID string `json:"id"`
	paging.Page
}

// DataReply is a window of rows; TotalRows counts the whole dataset. Values
// are JSON-safe as in QueryReply.
type DataReply struct {
	Data      []Row `json:"data"`
	TotalRows int64 `json:"total_rows"`
	Offset    int   `json:"offset"`
	Limit     int   `json:"limit"`
}

// MarshalJSON writes an empty window as [], never null.
func (r DataReply) MarshalJSON() ([]byte, error) {
	type plain DataReply
	p := plain(r)
	if p.Data == nil {
		p.Data = []Row{}
	}
	return json.Marshal(p)
}

// RejectsRequest pages through the rows a conversion did not keep.
type RejectsRequest struct {
	ID string `json:"id"`
	paging.Page
}

// Reject is one row of the file a conversion did not keep: its line in the
// file (from 1, counting every line), why, and its text as it stands there
// (cut at 64 KiB).
type Reject struct {
	Line   int64  `json:"line" doc:"Line in the file, from 1, counting every line"`
	Reason string `json:"reason" doc:"Why the row was not kept"`
	Raw    string `json:"raw" doc:"The row as it stands in the file (cut at 64 KiB)"`
}

// RejectsReply is a page of rejected rows in line order; Total counts
// them all (the dataset's rows_rejected). A page holds at most what one
// message carries: when that cut it short of Limit, NextOffset is where
// the next page starts.
type RejectsReply struct {
	Rejects    []Reject `json:"rejects"`
	Total      int64    `json:"total"`
	Offset     int      `json:"offset"`
	Limit      int      `json:"limit"`
	NextOffset int      `json:"next_offset,omitempty" doc:"Set when the page was cut short of limit to fit one message: the offset of the next page"`
}

// MarshalJSON writes an empty page as [], never null.
func (r RejectsReply) MarshalJSON() ([]byte, error) {
	type plain RejectsReply
	p := plain(r)
	if p.Rejects == nil {
		p.Rejects = []Reject{}
	}
	return json.Marshal(p)
}

// FileColumnsRequest asks for a file's columns next to a dataset's, to map
// them before an insert.
type FileColumnsRequest struct {
	ID     string `json:"id"`
	FileID string `json:"file_id"`
}

// FileColumnsReply has the shape of the original service's answer, which
// the web client reads: note "description" in DatasetColumn, not "desc".
type FileColumnsReply struct {
	FileColumns    []string        `json:"file_columns"`
	DatasetColumns []DatasetColumn `json:"dataset_columns"`
	FileInfo       FileInfo        `json:"file_info"`
	DatasetInfo    DatasetInfo     `json:"dataset_info"`
}

// MarshalJSON writes empty lists as [], never null.
func (r FileColumnsReply) MarshalJSON() ([]byte, error) {
	type plain FileColumnsReply
	p := plain(r)
	if p.FileColumns == nil {
		p.FileColumns = []string{}
	}
	if p.DatasetColumns == nil {
		p.DatasetColumns = []DatasetColumn{}
	}
	return json.Marshal(p)
}

// DatasetColumn is a schema column as file_columns reports it.
type DatasetColumn struct {
	ColumnName  string `json:"column_name"`
	ColumnType  string `json:"column_type"`
	Description string `json:"description"`
}

// FileInfo names the file of a file_columns answer.
type FileInfo struct {
	FileID   string `json:"file_id"`
	FileName string `json:"file_name"`
	FileType string `json:"file_type"`
}

// DatasetInfo names the dataset of a file_columns answer.
type DatasetInfo struct {
	DatasetID   string `json:"dataset_id"`
	DatasetName string `json:"dataset_name"`
	Description string `json:"description"`
}

// InsertRequest appends a file's rows to a dataset: columns are matched by
// name case-insensitively and cast; all rows or none become visible.
type InsertRequest struct {
	ID     string `json:"id"`
	FileID string `json:"file_id"`
}

// InsertReply counts the rows appended.
type InsertReply struct {
	InsertedRows int64 `json:"inserted_rows"`
}

// Export formats.
const (
	FormatCSV     = "csv"
	FormatJSON    = "json"
	FormatParquet = "parquet"
)

// ExportRequest asks for a dataset in one format.
type ExportRequest struct {
	ID     string `json:"id"`
	Format string `json:"format"`
}

// ExportReply says where to stream the export from: a presigned GET valid
// for ExpiresIn seconds, the Content-Type and the file name to offer.
type ExportReply struct {
	URL         string `json:"url"`
	ContentType string `json:"content_type"`
	FileName    string `json:"file_name"`
	ExpiresIn   int    `json:"expires_in"`
}
