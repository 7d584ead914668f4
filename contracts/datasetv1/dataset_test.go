package datasetv1_test

import (
	"encoding/json"
	"flag"
	"testing"
	"time"

	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	"github.com/nonefinity/backend/contracts/internal/golden"
	"github.com/nonefinity/backend/contracts/paging"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the current types")

var (
	created = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	updated = time.Date(2025, 6, 1, 12, 0, 0, 123000000, time.UTC)
)

const (
	owner     = "65f2a1b3c4d5e6f708192a3b"
	fileID    = "65f2a1b3c4d5e6f708192b01"
	datasetID = "65f2a1b3c4d5e6f708192c01"
)

func ptr[T any](v T) *T { return &v }

func schema() []dv1.Column {
	return []dv1.Column{
		{ColumnName: "id", ColumnType: "bigint", Desc: "order number"},
		{ColumnName: "category", ColumnType: "string"},
		{ColumnName: "amount", ColumnType: "double", Desc: "EUR, gross"},
		{ColumnName: "sold_at", ColumnType: "timestamp"},
	}
}

func readyDataset() dv1.Dataset {
	return dv1.Dataset{
		ID: datasetID, Name: "sales", Description: "Orders of 2024", OwnerID: owner,
		DataSchema: schema(), RowCount: 1000000, Status: dv1.StatusReady,
		CreatedAt: created, UpdatedAt: updated,
	}
}

// rows are result rows in column order, with the values the service
// writes (HUGEINT and DECIMAL as strings, timestamps without a zone).
func rows() []dv1.Row {
	cols := []string{"id", "category", "amount", "sold_at", "total", "ok", "ratio", "raw"}
	return []dv1.Row{
		dv1.RowOf(cols, 1, "books", 12.5, "2024-02-29T23:59:59", "170141183460469231731687303715884105727", true, nil, "AAEC"),
		dv1.RowOf(cols, 2, "toys", 0, "2024-03-01T00:00:00", "0.10", false, 0.25, ""),
	}
}

func TestWireFormat(t *testing.T) {
	opts := dv1.ConvertOptions{
		Sheet: "Raw", Delimiter: ";", Header: ptr(true), Encoding: "utf-16", Quote: ptr(`"`), IgnoreErrors: ptr(false),
		SkipRows: ptr(2), NullValues: []string{"NA", "-"}, DecimalSeparator: ",",
	}
	quotesOff := dv1.ConvertOptions{Quote: ptr(""), HeaderRow: ptr(3)}
	warned := readyDataset()
	warned.RowsRead, warned.RowsRejected = ptr(int64(1000002)), ptr(int64(2))
	warned.Warnings = []dv1.Warning{
		{Code: dv1.WarningRowsRejected, Message: "2 rows of 1000002 could not be read", Count: 2, Lines: []int64{17, 90211}},
		{Code: dv1.WarningMixedEncoding, Message: "1 line was not UTF-8 and was read as windows-1252", Count: 1, Lines: []int64{5}},
	}
	warned.Source = &dv1.Source{FileID: fileID, Format: "csv", Encoding: "utf-8", Delimiter: ";", Quote: `"`, Header: true,
		SkipRows: 2, Preamble: []string{"Sales report 2024", ""},
		Columns: []dv1.ColumnReading{{Column: "amount", NullTokens: []string{"NA"}, DecimalSeparator: ","}}}
	failed := dv1.Dataset{
		ID: "65f2a1b3c4d5e6f708192c02", Name: "broken", OwnerID: owner, DataSchema: []dv1.Column{}, Status: dv1.StatusFailed,
		Error: "line 30001: value \"n/a\" is not a bigint", CreatedAt: created, UpdatedAt: updated,
	}
	golden.CheckAll(t, []golden.Case{
		{Name: "column", Value: schema()[0]},
		{Name: "dataset_ready", Value: readyDataset()},
		{Name: "dataset_failed", Value: failed},
		{Name: "dataset_ready_with_warnings", Value: warned},
		{Name: "convert_request_quotes_off", Value: dv1.ConvertRequest{FileID: fileID, DatasetName: "tokens", ConvertOptions: quotesOff}},
		{Name: "convert_request", Value: dv1.ConvertRequest{
			FileID: fileID, DatasetName: "sales", Description: "Orders of 2024", ConvertOptions: opts, Async: true,
		}},
		{Name: "convert_request_defaults", Value: dv1.ConvertRequest{FileID: fileID, DatasetName: "sales"}},
		{Name: "convert_request_idempotent", Value: dv1.ConvertRequest{FileID: fileID, DatasetName: "sales",
			IdempotencyKey: "3f0c2a9e-8d4b-4c1e-9a57-0b6e2d1f7c44"}},
		{Name: "convert_reply_done", Value: dv1.ConvertReply{
			Dataset: ptr(readyDataset()), DatasetID: datasetID, Status: dv1.StatusReady,
		}},
		{Name: "convert_reply_accepted", Value: dv1.ConvertReply{DatasetID: datasetID, Status: dv1.StatusProcessing, Accepted: true}},
		{Name: "convert_reply_existing", Value: dv1.ConvertReply{
			Dataset: ptr(readyDataset()), DatasetID: datasetID, Status: dv1.StatusReady, Existing: true,
		}},
		{Name: "create_request", Value: dv1.CreateRequest{DatasetName: "sales", Description: "Orders of 2024", Schema: schema()}},
		{Name: "list_request", Value: dv1.ListRequest{Page: paging.Page{Skip: 0, Limit: 100}}},
		{Name: "list_reply", Value: dv1.ListReply{Datasets: []dv1.Dataset{readyDataset(), failed}, Total: 2}},
		{Name: "get_request", Value: dv1.GetRequest{ID: datasetID}},
		{Name: "update_request", Value: dv1.UpdateRequest{ID: datasetID, Name: ptr("sales_2024"), Description: ptr("")}},
		{Name: "update_schema_request", Value: dv1.UpdateSchemaRequest{
			ID: datasetID, Descriptions: map[string]string{"amount": "EUR, net", "category": "product group"},
		}},
		{Name: "delete_request", Value: dv1.DeleteRequest{ID: datasetID}},
		{Name: "delete_reply", Value: dv1.DeleteReply{DatasetID: datasetID, Deleted: true}},
		{Name: "data_request", Value: dv1.DataRequest{ID: datasetID, Page: paging.Page{Skip: 200, Limit: 2}}},
		{Name: "data_reply", Value: dv1.DataReply{Data: rows(), TotalRows: 1000000, Offset: 200, Limit: 2}},
		{Name: "file_columns_request", Value: dv1.FileColumnsRequest{ID: datasetID, FileID: fileID}},
		{Name: "file_columns_reply", Value: dv1.FileColumnsReply{
			FileColumns: []string{"ID", "Category", "Amount", "Extra"},
			DatasetColumns: []dv1.DatasetColumn{
				{ColumnName: "id", ColumnType: "bigint", Description: "order number"},
				{ColumnName: "category", ColumnType: "string", Description: ""},
			},
			FileInfo:    dv1.FileInfo{FileID: fileID, FileName: "sales 2025", FileType: "text/csv"},
			DatasetInfo: dv1.DatasetInfo{DatasetID: datasetID, DatasetName: "sales", Description: "Orders of 2024"},
		}},
		{Name: "insert_request", Value: dv1.InsertRequest{ID: datasetID, FileID: fileID}},
		{Name: "insert_reply", Value: dv1.InsertReply{InsertedRows: 5000}},
		{Name: "export_request", Value: dv1.ExportRequest{ID: datasetID, Format: dv1.FormatParquet}},
		{Name: "export_reply", Value: dv1.ExportReply{
			URL:         "https://s3.example.com/nonefinity/users/" + owner + "/datasets/" + datasetID + "/export.parquet?X-Amz-Expires=900",
			ContentType: "application/vnd.apache.parquet", FileName: "sales.parquet", ExpiresIn: 900,
		}},
		{Name: "query_request", Value: dv1.QueryRequest{Query: "SELECT category, sum(amount) AS total FROM sales GROUP BY 1", Limit: 50}},
		{Name: "query_reply", Value: dv1.QueryReply{
			Columns: []dv1.QueryColumn{
				{Name: "id", Type: "BIGINT"}, {Name: "category", Type: "VARCHAR"}, {Name: "amount", Type: "DOUBLE"},
				{Name: "sold_at", Type: "TIMESTAMP"}, {Name: "total", Type: "HUGEINT"}, {Name: "ok", Type: "BOOLEAN"},
				{Name: "ratio", Type: "DOUBLE"}, {Name: "raw", Type: "BLOB"},
			},
			Data: rows(), RowCount: 2, Truncated: true, ElapsedMS: 17,
		}},
		{Name: "duckdb_stats_reply", Value: dv1.DuckDBStatsReply{
			TotalInstances: 5, ActiveInstances: 3, ExpiredInstances: 2, InstanceTTL: 3600, CleanupInterval: 300,
		}},
		{Name: "cleanup_reply", Value: dv1.CleanupReply{ClosedInstances: 2}},
		{Name: "job_convert", Value: dv1.ConvertJob{
			DatasetID: datasetID, OwnerID: owner, FileID: fileID, ConvertOptions: opts, RequestedAt: created,
		}},
		{Name: "event_dataset_created", Value: dv1.DatasetCreated{
			DatasetID: datasetID, OwnerID: owner, Name: "sales", Status: dv1.StatusProcessing, CreatedAt: created,
		}},
		{Name: "event_dataset_converted", Value: dv1.DatasetConverted{
			DatasetID: datasetID, OwnerID: owner, FileID: fileID, Name: "sales", RowCount: 1000000, ConvertedAt: updated,
		}},
		{Name: "event_dataset_failed", Value: dv1.DatasetFailed{
			DatasetID: datasetID, OwnerID: owner, FileID: fileID, Error: "file is not a CSV or XLSX", FailedAt: updated,
		}},
		{Name: "event_dataset_updated", Value: dv1.DatasetUpdated{
			DatasetID: datasetID, OwnerID: owner, Name: "sales_2024", PreviousName: "sales", RowCount: 1005000, UpdatedAt: updated,
		}},
		{Name: "event_dataset_deleted", Value: dv1.DatasetDeleted{DatasetID: datasetID, OwnerID: owner, Name: "sales", DeletedAt: updated}},
	}, *update)
}

func TestEmptyCollectionsEncodeAsArrays(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{dv1.ListReply{}, `{"datasets":[],"total":0}`},
		{dv1.DataReply{Limit: 100}, `{"data":[],"total_rows":0,"offset":0,"limit":100}`},
		{dv1.QueryReply{}, `{"columns":[],"data":[],"row_count":0,"truncated":false,"elapsed_ms":0}`},
		{dv1.FileColumnsReply{}, `{"file_columns":[],"dataset_columns":[],` +
			`"file_info":{"file_id":"","file_name":"","file_type":""},` +
			`"dataset_info":{"dataset_id":"","dataset_name":"","description":""}}`},
		{dv1.Dataset{ID: datasetID, Name: "empty", OwnerID: owner, Status: dv1.StatusReady, CreatedAt: created, UpdatedAt: created},
			`{"id":"` + datasetID + `","name":"empty","owner_id":"` + owner + `","data_schema":[],"row_count":0,` +
				`"status":"ready","created_at":"2025-03-14T09:26:53Z","updated_at":"2025-03-14T09:26:53Z"}`},
	} {
		b, err := json.Marshal(tc.v)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tc.want {
			t.Errorf("%T: got %s, want %s", tc.v, b, tc.want)
		}
	}
}

// The API's convert form has its options at the top level; embedding must
// keep them there, and decoding must find them there.
func TestConvertOptionsAreTopLevel(t *testing.T) {
	var req dv1.ConvertRequest
	body := `{"file_id":"` + fileID + `","dataset_name":"sales","sheet":"Raw","header":false,"async":true}`
	if err := json.Unmarshal([]byte(body), &req); err != nil {
		t.Fatal(err)
	}
	if req.Sheet != "Raw" || req.Header == nil || *req.Header || !req.Async || req.IgnoreErrors != nil {
		t.Errorf("decoded %+v", req)
	}
}

func TestSubjects(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{dv1.ConvertJob{OwnerID: owner}.Subject(), "job.dataset.v1.convert." + owner},
		{dv1.DatasetCreated{OwnerID: owner}.Subject(), "evt.dataset.v1.created." + owner},
		{dv1.DatasetConverted{OwnerID: owner}.Subject(), "evt.dataset.v1.converted." + owner},
		{dv1.DatasetFailed{OwnerID: owner}.Subject(), "evt.dataset.v1.failed." + owner},
		{dv1.DatasetUpdated{OwnerID: owner}.Subject(), "evt.dataset.v1.updated." + owner},
		{dv1.DatasetDeleted{OwnerID: owner}.Subject(), "evt.dataset.v1.deleted." + owner},
		{dv1.Subject(dv1.OpDuckDBCleanup), "svc.dataset.v1.duckdb_cleanup"},
	} {
		if tc.got != tc.want {
			t.Errorf("subject %q, want %q", tc.got, tc.want)
		}
	}
}
