package datasetv1

import "encoding/json"

// Query row caps.
const (
	QueryDefaultLimit = 100
	QueryMaxLimit     = 10000
)

// QueryRequest runs one read-only SQL statement over the caller's datasets,
// which appear as tables named after them. Limit caps the rows returned.
type QueryRequest struct {
	Query string `json:"query"`
	Limit int    `json:"limit,omitempty"`
}

// QueryColumn is a result column with its DuckDB type.
type QueryColumn struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// QueryReply is the result. Values are JSON-safe: decimals and HUGEINT as
// strings, dates and timestamps RFC 3339, blobs base64, NaN and Inf as null.
// Truncated says the row cap cut the result.
type QueryReply struct {
	Columns   []QueryColumn `json:"columns"`
	Data      []Row         `json:"data"`
	RowCount  int           `json:"row_count"`
	Truncated bool          `json:"truncated"`
	ElapsedMS int64         `json:"elapsed_ms"`
}

// MarshalJSON writes empty lists as [], never null.
func (r QueryReply) MarshalJSON() ([]byte, error) {
	type plain QueryReply
	p := plain(r)
	if p.Columns == nil {
		p.Columns = []QueryColumn{}
	}
	if p.Data == nil {
		p.Data = []Row{}
	}
	return json.Marshal(p)
}

// DuckDBStatsReply describes the per-user DuckDB sessions of the instance
// that answered; InstanceTTL and CleanupInterval are in seconds.
type DuckDBStatsReply struct {
	TotalInstances   int `json:"total_instances"`
	ActiveInstances  int `json:"active_instances"`
	ExpiredInstances int `json:"expired_instances"`
	InstanceTTL      int `json:"instance_ttl"`
	CleanupInterval  int `json:"cleanup_interval"`
}

// CleanupReply counts the expired sessions closed.
type CleanupReply struct {
	ClosedInstances int `json:"closed_instances"`
}
