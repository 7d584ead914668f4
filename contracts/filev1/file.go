package filev1

import (
	"encoding/json"
	"time"
)

// Status is where a file is in the processing pipeline:
// uploaded -> processing -> ready | failed.
type Status string

const (
	StatusUploaded   Status = "uploaded"
	StatusProcessing Status = "processing"
	StatusReady      Status = "ready"
	StatusFailed     Status = "failed"
)

// Categories of the original classifier.
const (
	CategorySpreadsheet = "spreadsheet"
	CategoryDocument    = "document"
	CategoryImage       = "image"
	CategoryText        = "text"
	CategoryVideo       = "video"
	CategoryAudio       = "audio"
	CategoryOther       = "other"
)

// File is a document of the files collection as the API shows it. FileName
// is the original name without extension; FileExt keeps the dot. FileType is
// the MIME type the client declared, DetectedType the one processing found in
// the bytes. Status, Category, SHA256, Error and Preview come from processing.
type File struct {
	ID           string    `json:"id"`
	OwnerID      string    `json:"owner_id"`
	Bucket       string    `json:"bucket"`
	FilePath     string    `json:"file_path"`
	FileName     string    `json:"file_name"`
	FileExt      string    `json:"file_ext"`
	FileType     string    `json:"file_type"`
	FileSize     int64     `json:"file_size"`
	URL          string    `json:"url,omitempty"`
	Status       Status    `json:"status"`
	Category     string    `json:"category,omitempty"`
	DetectedType string    `json:"detected_type,omitempty"`
	SHA256       string    `json:"sha256,omitempty"`
	Error        string    `json:"error,omitempty"`
	Preview      *Preview  `json:"preview,omitempty"`
	CreatedAt    time.Time `json:"created_at,omitzero"`
	UpdatedAt    time.Time `json:"updated_at,omitzero"`
}

// Preview is what processing learned about a CSV or XLSX: the dialect it
// detected and the first rows. For XLSX, Sheets lists every sheet and Sheet
// names the one previewed; Encoding and Delimiter are CSV only.
type Preview struct {
	Columns   []string   `json:"columns"`
	Encoding  string     `json:"encoding,omitempty"`
	Delimiter string     `json:"delimiter,omitempty"`
	HasHeader bool       `json:"has_header"`
	SkipRows  int        `json:"skip_rows,omitempty"`
	Rows      [][]string `json:"rows"`
	Sheets    []string   `json:"sheets,omitempty"`
	Sheet     string     `json:"sheet,omitempty"`
}

// MarshalJSON writes absent columns and rows as [], never null.
func (p Preview) MarshalJSON() ([]byte, error) {
	type plain Preview
	q := plain(p)
	if q.Columns == nil {
		q.Columns = []string{}
	}
	if q.Rows == nil {
		q.Rows = [][]string{}
	}
	return json.Marshal(q)
}

// GetRequest names one of the caller's files.
type GetRequest struct {
	ID string `json:"id"`
}

// ListRequest asks for one page of the caller's files (list,
// allow_convert). An empty Cursor starts with the newest file; a page's
// Next continues after it.
type ListRequest struct {
	Cursor string `json:"cursor,omitempty"`
}

// ListReply is one page of the caller's files (list, allow_convert), or
// the files a search found, newest first. A page of a list holds as many
// files as fit in one NATS message, so no list is ever too large to send;
// Next, when set, is the Cursor of the following page. A search is one
// reply: at most SearchMaxLimit files. Listed files carry no Preview: it
// can be large, and GET /file/{id} has it.
type ListReply struct {
	Files []File `json:"files"`
	Next  string `json:"next,omitempty"`
}

// MarshalJSON writes an empty list as [], never null.
func (r ListReply) MarshalJSON() ([]byte, error) {
	type plain ListReply
	p := plain(r)
	if p.Files == nil {
		p.Files = []File{}
	}
	return json.Marshal(p)
}

// Search limits.
const (
	SearchDefaultLimit = 50
	SearchMaxLimit     = 100
)

// SearchRequest finds the caller's files whose name contains Q literally,
// case-insensitively; FileType is a MIME prefix ("text/", "image").
type SearchRequest struct {
	Q        string `json:"q"`
	FileType string `json:"file_type,omitempty"`
	Limit    int    `json:"limit,omitempty"`
}

// RenameRequest changes a file's name; the object is not touched.
type RenameRequest struct {
	ID      string `json:"id"`
	NewName string `json:"new_name"`
}

// DeleteRequest names the file to delete (object, then document).
type DeleteRequest struct {
	ID string `json:"id"`
}

// DeleteReply names the deleted file.
type DeleteReply struct {
	FileID string `json:"file_id"`
}

// BatchDeleteRequest deletes several files; each id succeeds or fails alone.
type BatchDeleteRequest struct {
	FileIDs []string `json:"file_ids"`
}

// BatchDeleteReply lists the ids deleted and those that were not, with why.
type BatchDeleteReply struct {
	Successful []string       `json:"successful"`
	Failed     []BatchFailure `json:"failed"`
}

// MarshalJSON writes empty lists as [], never null.
func (r BatchDeleteReply) MarshalJSON() ([]byte, error) {
	type plain BatchDeleteReply
	p := plain(r)
	if p.Successful == nil {
		p.Successful = []string{}
	}
	if p.Failed == nil {
		p.Failed = []BatchFailure{}
	}
	return json.Marshal(p)
}

// BatchFailure is one id a batch delete could not delete.
type BatchFailure struct {
	FileID string `json:"file_id"`
	Error  string `json:"error"`
}

// StatsReply sums the caller's files; FileTypes counts them by major MIME
// type ("text", "image", "application").
type StatsReply struct {
	TotalFiles  int            `json:"total_files"`
	TotalSize   int64          `json:"total_size"`
	TotalSizeMB float64        `json:"total_size_mb"`
	FileTypes   map[string]int `json:"file_types"`
}

// MarshalJSON writes absent counts as {}, never null.
func (r StatsReply) MarshalJSON() ([]byte, error) {
	type plain StatsReply
	p := plain(r)
	if p.FileTypes == nil {
		p.FileTypes = map[string]int{}
	}
	return json.Marshal(p)
}

// TypesReply is the sorted distinct MIME types of the caller's files.
type TypesReply struct {
	Types []string `json:"types"`
}

// MarshalJSON writes an empty list as [], never null.
func (r TypesReply) MarshalJSON() ([]byte, error) {
	type plain TypesReply
	p := plain(r)
	if p.Types == nil {
		p.Types = []string{}
	}
	return json.Marshal(p)
}

// DownloadURLRequest names the file to download.
type DownloadURLRequest struct {
	ID string `json:"id"`
}

// DownloadURLReply is a presigned GET whose Content-Disposition carries the
// original file name; ExpiresIn is in seconds.
type DownloadURLReply struct {
	URL       string `json:"url"`
	ExpiresIn int    `json:"expires_in"`
}

// OpenRequest asks, on behalf of the calling user, for read access to one of
// their files (datasetquery converting it).
type OpenRequest struct {
	FileID string `json:"file_id"`
}

// OpenReply is a presigned GET of the file's object and the file's document,
// so the caller knows type, size and the processing preview. ExpiresIn is in
// seconds. ETag is the object's version at commit: send it as If-Match with
// the GET, so that an object replaced since (through its still valid upload
// URL) is refused with 412 instead of read as the file; empty for files
// committed before it was recorded.
type OpenReply struct {
	URL       string `json:"url"`
	ExpiresIn int    `json:"expires_in"`
	File      File   `json:"file"`
	ETag      string `json:"etag,omitempty"`
}
