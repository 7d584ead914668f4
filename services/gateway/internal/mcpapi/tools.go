package mcpapi

import (
	"context"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	fv1 "github.com/nonefinity/backend/contracts/filev1"
	"github.com/nonefinity/backend/contracts/paging"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/services/gateway/internal/access"
)

// The tools, by name.
const (
	toolListDatasets    = "list_datasets"
	toolDescribeDataset = "describe_dataset"
	toolQuery           = "query"
	toolListFiles       = "list_files"
	toolFilePreview     = "file_preview"
	toolConvertFile     = "convert_file"
)

var toolNames = []string{toolListDatasets, toolDescribeDataset, toolQuery, toolListFiles, toolFilePreview, toolConvertFile}

// sampleRows is how many rows describe_dataset and a dataset resource show.
const sampleRows = 5

// noInput is the arguments of a tool that takes none.
type noInput struct{}

// Column is one column of a dataset.
type Column struct {
	Name        string `json:"name"`
	Type        string `json:"type" jsonschema:"the column's type (string, bigint, double, date, timestamp, boolean…)"`
	Description string `json:"description,omitempty" jsonschema:"what the column holds, as the user described it"`
}

// Dataset is one of the caller's datasets as the tools show it.
type Dataset struct {
	Name        string   `json:"name" jsonschema:"the dataset's name, which is also its table name in SQL"`
	Description string   `json:"description,omitempty"`
	Status      string   `json:"status" jsonschema:"processing, ready or failed; only a ready dataset can be queried"`
	RowCount    int64    `json:"row_count"`
	Columns     []Column `json:"columns"`
	Warnings    []string `json:"warnings,omitempty" jsonschema:"what conversion found the user should check (rows rejected, values read as text…)"`
}

func fromCoreDataset(d dv1.Dataset) Dataset {
	out := Dataset{Name: d.Name, Description: d.Description, Status: string(d.Status), RowCount: d.RowCount, Columns: []Column{}}
	for _, c := range d.DataSchema {
		out.Columns = append(out.Columns, Column{Name: c.ColumnName, Type: c.ColumnType, Description: c.Desc})
	}
	for _, w := range d.Warnings {
		out.Warnings = append(out.Warnings, w.Message)
	}
	return out
}

// DatasetList is the result of list_datasets.
type DatasetList struct {
	Datasets []Dataset `json:"datasets"`
	Total    int       `json:"total" jsonschema:"how many datasets the user has"`
}

// DatasetName names one of the caller's datasets.
type DatasetName struct {
	Name string `json:"name" jsonschema:"the dataset's name (its table name), as list_datasets shows it"`
}

// DatasetDescription is the result of describe_dataset.
type DatasetDescription struct {
	Dataset
	Sample Table `json:"sample" jsonschema:"the dataset's first rows"`
}

// QueryInput is the arguments of query.
type QueryInput struct {
	SQL   string `json:"sql" jsonschema:"one read-only SQL statement (DuckDB dialect) over the user's datasets, each a table named after the dataset"`
	Limit int    `json:"limit,omitempty" jsonschema:"the most rows to return: default 100, at most 10000"`
}

// QueryResult is the result of query.
type QueryResult struct {
	Table
	ElapsedMS int64 `json:"elapsed_ms"`
}

// File is one of the caller's files as the tools show it.
type File struct {
	ID        string `json:"id" jsonschema:"the file's id, for file_preview and convert_file"`
	Name      string `json:"name" jsonschema:"the file's name with its extension"`
	Type      string `json:"type" jsonschema:"the MIME type"`
	Size      int64  `json:"size" jsonschema:"bytes"`
	Status    string `json:"status" jsonschema:"uploaded, processing, ready or failed"`
	Category  string `json:"category,omitempty" jsonschema:"spreadsheet, document, image, text, video, audio or other"`
	CreatedAt string `json:"created_at,omitempty" jsonschema:"RFC 3339"`
}

func fromCoreFile(f fv1.File) File {
	out := File{ID: f.ID, Name: f.FileName + f.FileExt, Type: f.FileType, Size: f.FileSize, Status: string(f.Status), Category: f.Category}
	if !f.CreatedAt.IsZero() {
		out.CreatedAt = f.CreatedAt.UTC().Format("2006-01-02T15:04:05Z07:00")
	}
	return out
}

// FileListInput is the arguments of list_files.
type FileListInput struct {
	Cursor string `json:"cursor,omitempty" jsonschema:"next_cursor of the previous page; empty for the newest files"`
}

// FileList is the result of list_files.
type FileList struct {
	Files      []File `json:"files" jsonschema:"newest first"`
	NextCursor string `json:"next_cursor,omitempty" jsonschema:"set when there are more files: pass it as cursor"`
}

// FileID names one of the caller's files.
type FileID struct {
	FileID string `json:"file_id" jsonschema:"the file's id, as list_files shows it"`
}

// FilePreview is the result of file_preview: how processing read a CSV or
// XLSX file, and its first rows.
type FilePreview struct {
	File
	Columns   []string   `json:"columns"`
	Rows      [][]string `json:"rows"`
	HasHeader bool       `json:"has_header"`
	Encoding  string     `json:"encoding,omitempty"`
	Delimiter string     `json:"delimiter,omitempty"`
	Sheets    []string   `json:"sheets,omitempty" jsonschema:"every sheet of a workbook"`
	Sheet     string     `json:"sheet,omitempty" jsonschema:"the sheet previewed"`
}

// ConvertInput is the arguments of convert_file.
type ConvertInput struct {
	FileID      string `json:"file_id" jsonschema:"a ready CSV or XLSX file, as list_files shows it"`
	DatasetName string `json:"dataset_name" jsonschema:"the new dataset's name: a letter, then letters, digits or _, at most 63; not an SQL keyword"`
	Description string `json:"description,omitempty"`
}

// ConvertResult is the result of convert_file.
type ConvertResult struct {
	Status  string   `json:"status" jsonschema:"ready, or processing when the conversion runs on (list_datasets shows it when done)"`
	Dataset *Dataset `json:"dataset,omitempty" jsonschema:"the new dataset, once ready"`
}

func (s *Server) addTools() {
	ro := &mcp.ToolAnnotations{ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: new(bool)}
	addTool(s, &mcp.Tool{Name: toolListDatasets, Annotations: ro,
		Description: "List the user's datasets: name (its SQL table name), description, status, row count, columns with types and descriptions. Needs datasets:read."}, access.DatasetsRead, s.listDatasets)
	addTool(s, &mcp.Tool{Name: toolDescribeDataset, Annotations: ro,
		Description: "One dataset's schema and its first rows. Needs datasets:read."}, access.DatasetsRead, s.describeDataset)
	addTool(s, &mcp.Tool{Name: toolQuery, Annotations: ro,
		Description: "Run one read-only SQL statement (DuckDB) over the user's datasets, each a table named after it. " +
			"Returns the columns with their types and the rows; truncated says the row limit cut the result (aggregate, or ask for fewer rows). " +
			"Files, extensions, attaching databases and writes are refused. Needs datasets:query."}, access.DatasetsQuery, s.query)
	addTool(s, &mcp.Tool{Name: toolListFiles, Annotations: ro,
		Description: "List the user's uploaded files, newest first, a page at a time. Needs files:read."}, access.FilesRead, s.listFiles)
	addTool(s, &mcp.Tool{Name: toolFilePreview, Annotations: ro,
		Description: "How a CSV or XLSX file was read (columns, header, encoding, delimiter, sheets) and its first rows. Needs files:read."}, access.FilesRead, s.filePreview)
	addTool(s, &mcp.Tool{Name: toolConvertFile,
		Annotations: &mcp.ToolAnnotations{DestructiveHint: new(bool), OpenWorldHint: new(bool)},
		Description: "Turn a ready CSV or XLSX file into a new dataset that query can read. Needs datasets:write."}, access.DatasetsWrite, s.convertFile)
}

// addTool registers a tool with the exact schemas of its input and output.
func addTool[In, Out any](s *Server, t *mcp.Tool, scope access.Scope, run func(context.Context, In) (Out, error)) {
	t.InputSchema, t.OutputSchema = schemaFor[In](), schemaFor[Out]()
	mcp.AddTool(s.mcp, t, tool(s, t.Name, scope, run))
}

// tool is the pipeline of every tool: check the scope, run the calls under
// the timeout, answer a failure with the public error.
func tool[In, Out any](s *Server, name string, scope access.Scope, run func(context.Context, In) (Out, error)) mcp.ToolHandlerFor[In, Out] {
	return func(ctx context.Context, _ *mcp.CallToolRequest, in In) (*mcp.CallToolResult, Out, error) {
		var zero Out
		if err := require(ctx, scope); err != nil {
			return nil, zero, s.toolError(ctx, name, err)
		}
		ctx, cancel := s.call(ctx)
		defer cancel()
		out, err := run(ctx, in)
		if err != nil {
			return nil, zero, s.toolError(ctx, name, err)
		}
		var res *mcp.CallToolResult
		if t, ok := any(out).(interface{ text() string }); ok {
			// A table reads better as text than as JSON; the JSON is the
			// structured content.
			res = &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: t.text()}}}
		}
		return res, out, nil
	}
}

func (s *Server) listDatasets(ctx context.Context, _ noInput) (DatasetList, error) {
	ds, total, err := s.allDatasets(ctx)
	if err != nil {
		return DatasetList{}, err
	}
	out := DatasetList{Datasets: make([]Dataset, len(ds)), Total: total}
	for i, d := range ds {
		out.Datasets[i] = fromCoreDataset(d)
	}
	return out, nil
}

// allDatasets is the caller's datasets, up to paging.MaxLimit of them (a
// page stops early when its datasets fill a NATS message; the window goes
// on from NextSkip), and how many there are.
func (s *Server) allDatasets(ctx context.Context) ([]dv1.Dataset, int, error) {
	var out []dv1.Dataset
	page := paging.Page{Limit: paging.MaxLimit}
	for {
		reply, err := s.datasets.List(ctx, dv1.ListRequest{Page: page})
		if err != nil {
			return nil, 0, err
		}
		out = append(out, reply.Datasets...)
		if reply.NextSkip <= page.Skip || reply.NextSkip >= paging.MaxLimit {
			return out, reply.Total, nil
		}
		page = paging.Page{Skip: reply.NextSkip, Limit: paging.MaxLimit - reply.NextSkip}
	}
}

// datasetNamed finds the caller's dataset by name, as SQL would: exactly,
// else ignoring case.
func (s *Server) datasetNamed(ctx context.Context, name string) (dv1.Dataset, error) {
	if strings.TrimSpace(name) == "" {
		return dv1.Dataset{}, rpcerr.Invalid("name", "required")
	}
	ds, _, err := s.allDatasets(ctx)
	if err != nil {
		return dv1.Dataset{}, err
	}
	var folded *dv1.Dataset
	for i, d := range ds {
		if d.Name == name {
			return d, nil
		}
		if folded == nil && strings.EqualFold(d.Name, name) {
			folded = &ds[i]
		}
	}
	if folded != nil {
		return *folded, nil
	}
	return dv1.Dataset{}, rpcerr.NotFoundf("dataset " + quote(name) + " not found; list_datasets shows the user's datasets")
}

func (s *Server) describeDataset(ctx context.Context, in DatasetName) (DatasetDescription, error) {
	d, err := s.datasetNamed(ctx, in.Name)
	if err != nil {
		return DatasetDescription{}, err
	}
	out := DatasetDescription{Dataset: fromCoreDataset(d), Sample: emptyTable()}
	if d.Status != dv1.StatusReady {
		return out, nil
	}
	rows, err := s.datasets.Data(ctx, dv1.DataRequest{ID: d.ID, Page: paging.Page{Limit: sampleRows}})
	if err != nil {
		return DatasetDescription{}, err
	}
	out.Sample = sampleTable(d, rows.Data, rows.TotalRows)
	return out, nil
}

func (s *Server) query(ctx context.Context, in QueryInput) (QueryResult, error) {
	reply, err := s.datasets.Query(ctx, dv1.QueryRequest{Query: in.SQL, Limit: in.Limit})
	if err != nil {
		return QueryResult{}, err
	}
	return QueryResult{Table: queryTable(reply), ElapsedMS: reply.ElapsedMS}, nil
}

func (s *Server) listFiles(ctx context.Context, in FileListInput) (FileList, error) {
	reply, err := s.files.List(ctx, fv1.ListRequest{Cursor: in.Cursor})
	if err != nil {
		return FileList{}, err
	}
	out := FileList{Files: make([]File, len(reply.Files)), NextCursor: reply.Next}
	for i, f := range reply.Files {
		out.Files[i] = fromCoreFile(f)
	}
	return out, nil
}

func (s *Server) filePreview(ctx context.Context, in FileID) (FilePreview, error) {
	if strings.TrimSpace(in.FileID) == "" {
		return FilePreview{}, rpcerr.Invalid("file_id", "required")
	}
	f, err := s.files.Get(ctx, fv1.GetRequest{ID: in.FileID})
	if err != nil {
		return FilePreview{}, err
	}
	if f.Preview == nil {
		msg := "this file has no table preview: only CSV and XLSX files have one"
		if f.Status == fv1.StatusUploaded || f.Status == fv1.StatusProcessing {
			msg = "this file is still being processed; try again shortly"
		}
		return FilePreview{}, rpcerr.Field(rpcerr.Conflict, "file_id", msg)
	}
	p := f.Preview
	out := FilePreview{File: fromCoreFile(f), Columns: p.Columns, Rows: p.Rows, HasHeader: p.HasHeader,
		Encoding: p.Encoding, Delimiter: p.Delimiter, Sheets: p.Sheets, Sheet: p.Sheet}
	if out.Columns == nil {
		out.Columns = []string{}
	}
	if out.Rows == nil {
		out.Rows = [][]string{}
	}
	return out, nil
}

func (s *Server) convertFile(ctx context.Context, in ConvertInput) (ConvertResult, error) {
	reply, err := s.datasets.Convert(ctx, dv1.ConvertRequest{FileID: in.FileID, DatasetName: in.DatasetName, Description: in.Description})
	if err != nil {
		return ConvertResult{}, err
	}
	out := ConvertResult{Status: string(reply.Status)}
	if reply.Dataset != nil {
		d := fromCoreDataset(*reply.Dataset)
		out.Dataset, out.Status = &d, string(reply.Dataset.Status)
	}
	return out, nil
}

// quote writes a name the user gave in double quotes, as SQL would.
func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }
