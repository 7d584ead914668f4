// Package datasetv1 is the contract of the datasetquery service: datasets
// made from uploaded spreadsheets, SQL over them, and the per-user DuckDB
// sessions, reached over NATS at svc.dataset.v1.<op>; the conversion job on
// the JOBS stream; and the events it publishes on the DATASETS stream.
package datasetv1

import (
	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/healthv1"
)

// Operation names, the last token of svc.dataset.v1.<op>.
const (
	OpConvert       = "convert"        // ConvertRequest -> ConvertReply
	OpCreate        = "create"         // CreateRequest -> Dataset
	OpList          = "list"           // ListRequest -> ListReply
	OpGet           = "get"            // GetRequest -> Dataset
	OpUpdate        = "update"         // UpdateRequest -> Dataset
	OpUpdateSchema  = "update_schema"  // UpdateSchemaRequest -> Dataset
	OpDelete        = "delete"         // DeleteRequest -> DeleteReply
	OpData          = "data"           // DataRequest -> DataReply
	OpRejects       = "rejects"        // RejectsRequest -> RejectsReply
	OpFileColumns   = "file_columns"   // FileColumnsRequest -> FileColumnsReply
	OpInsert        = "insert"         // InsertRequest -> InsertReply
	OpExport        = "export"         // ExportRequest -> ExportReply
	OpQuery         = "query"          // QueryRequest -> QueryReply
	OpDuckDBStats   = "duckdb_stats"   // {} -> DuckDBStatsReply
	OpDuckDBCleanup = "duckdb_cleanup" // {} -> CleanupReply (admin)
	OpHealth        = healthv1.Op      // {} -> healthv1.Reply
)

// Ops lists every operation of the service, for registration and checks.
func Ops() []string {
	return []string{
		OpConvert, OpCreate, OpList, OpGet, OpUpdate, OpUpdateSchema, OpDelete,
		OpData, OpRejects, OpFileColumns, OpInsert, OpExport, OpQuery, OpDuckDBStats,
		OpDuckDBCleanup, OpHealth,
	}
}

// Subject is the request subject of one operation.
func Subject(op string) string {
	return contracts.RequestSubject(contracts.ServiceDataset, op)
}
