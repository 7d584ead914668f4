package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	"github.com/nonefinity/backend/contracts/paging"
	"github.com/nonefinity/backend/contracts/rpcerr"
)

// convertAccepted is the 202 data of POST /datasets/convert when the
// conversion runs on.
type convertAccepted struct {
	DatasetID string     `json:"dataset_id"`
	Status    dv1.Status `json:"status"`
}

// idempotencyKeyHeader names a convert request for its retries.
const idempotencyKeyHeader = "Idempotency-Key"

func (a *API) datasetConvert(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, convertRequest, a.datasets.Convert, http.StatusCreated, "dataset created", convertAnswer)
}

// convertRequest is the body, named by the Idempotency-Key header when it
// is set (over a body idempotency_key).
func convertRequest(w http.ResponseWriter, r *http.Request) (dv1.ConvertRequest, *rpcerr.Error) {
	req, e := fromBody[dv1.ConvertRequest](w, r)
	if key := r.Header.Get(idempotencyKeyHeader); e == nil && key != "" {
		req.IdempotencyKey = key
	}
	return req, e
}

// convertAnswer is 201 with the dataset a conversion made, 200 with the
// one a repeated request made before, 202 with the id and status of one
// that runs on.
func convertAnswer(reply dv1.ConvertReply, created answer) answer {
	switch {
	case reply.Accepted || reply.Dataset == nil:
		return answer{status: http.StatusAccepted, message: "conversion started",
			data: convertAccepted{DatasetID: reply.DatasetID, Status: reply.Status}}
	case reply.Existing:
		// A repeated request: nothing was created now.
		return answer{status: http.StatusOK, message: convertedMessage(*reply.Dataset, "dataset already converted"), data: reply.Dataset}
	default:
		return answer{status: created.status, message: convertedMessage(*reply.Dataset, created.message), data: reply.Dataset}
	}
}

// convertedMessage says how a conversion went: a dataset with warnings is
// not reported as plain success.
func convertedMessage(d dv1.Dataset, done string) string {
	if len(d.Warnings) == 0 {
		return done
	}
	msgs := make([]string, len(d.Warnings))
	for i, w := range d.Warnings {
		msgs[i] = w.Message
	}
	return done + " with warnings: " + strings.Join(msgs, "; ")
}

func (a *API) datasetCreate(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, fromBody, a.datasets.Create, http.StatusCreated, "dataset created", asIs)
}

// datasetList follows the service's pages through the requested window:
// a page stops early (NextSkip) when its datasets fill one message.
func (a *API) datasetList(w http.ResponseWriter, r *http.Request) {
	var q pageQuery
	if e := bindQuery(r, &q); e != nil {
		a.reject(w, e)
		return
	}
	window := q.window()
	streamList(a, w, r, "datasets", window, func(ctx context.Context, p paging.Page) (listPage[dv1.Dataset, paging.Page], error) {
		reply, err := a.datasets.List(ctx, dv1.ListRequest{Page: p})
		if err != nil {
			return listPage[dv1.Dataset, paging.Page]{}, err
		}
		page := listPage[dv1.Dataset, paging.Page]{items: reply.Datasets, total: reply.Total}
		if reply.NextSkip > p.Skip && reply.NextSkip < window.Skip+window.Limit {
			page.next = paging.Page{Skip: reply.NextSkip, Limit: window.Skip + window.Limit - reply.NextSkip}
		}
		return page, nil
	}, func(first listPage[dv1.Dataset, paging.Page]) *PageMeta { return pageMeta(window, first.total) })
}

func (a *API) datasetGet(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, byID("id", "dataset", func(id string) dv1.GetRequest { return dv1.GetRequest{ID: id} }),
		a.datasets.Get, http.StatusOK, "dataset", asIs)
}

// datasetUpdate is the body of PUT /datasets/{id}.
type datasetUpdate struct {
	Name        *string `json:"name,omitempty"`
	Description *string `json:"description,omitempty"`
}

func toUpdateDataset(id string, b datasetUpdate) dv1.UpdateRequest {
	return dv1.UpdateRequest{ID: id, Name: b.Name, Description: b.Description}
}

func (a *API) datasetUpdate(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, byIDAndBody("id", "dataset", toUpdateDataset), a.datasets.Update, http.StatusOK, "dataset updated", asIs)
}

// schemaDescriptions is the body of PUT /datasets/{id}/schema in either
// shape API.md allows: {"column": "description", ...} or
// [{"column_name": "column", "desc": "description"}, ...].
type schemaDescriptions map[string]string

// UnmarshalJSON folds both shapes into column -> description.
func (s *schemaDescriptions) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) > 0 && b[0] == '{':
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			return &fieldError{field: "", message: "must map column names to description strings"}
		}
		*s = m
	case len(b) > 0 && b[0] == '[':
		var entries []struct {
			ColumnName  string `json:"column_name"`
			Desc        string `json:"desc"`
			Description string `json:"description"`
		}
		if err := json.Unmarshal(b, &entries); err != nil {
			return &fieldError{field: "", message: "must be an array of {column_name, desc}"}
		}
		m := make(map[string]string, len(entries))
		for i, e := range entries {
			if e.ColumnName == "" {
				return &fieldError{field: "[" + strconv.Itoa(i) + "].column_name", message: "required"}
			}
			desc := e.Desc
			if desc == "" {
				desc = e.Description
			}
			m[e.ColumnName] = desc
		}
		*s = m
	default:
		return &fieldError{field: "", message: "must be an object or an array"}
	}
	return nil
}

func (a *API) datasetUpdateSchema(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, schemaUpdateRequest, a.datasets.UpdateSchema, http.StatusOK, "schema updated", asIs)
}

// schemaUpdateRequest takes JSON only: a form cannot carry either shape of
// the body (a map of any column names, or a list of objects).
func schemaUpdateRequest(w http.ResponseWriter, r *http.Request) (dv1.UpdateSchemaRequest, *rpcerr.Error) {
	id, e := pathID(r, "id", "dataset")
	if e != nil {
		return dv1.UpdateSchemaRequest{}, e
	}
	if mt := mediaTypeOf(r); mt != "" && mt != mediaJSON {
		return dv1.UpdateSchemaRequest{}, rpcerr.New(rpcerr.UnsupportedMediaType, "this endpoint takes a JSON body")
	}
	var body schemaDescriptions
	if e := bindBody(w, r, &body); e != nil {
		return dv1.UpdateSchemaRequest{}, e
	}
	return dv1.UpdateSchemaRequest{ID: id, Descriptions: body}, nil
}

// datasetDelete answers true, as the original service did.
func (a *API) datasetDelete(w http.ResponseWriter, r *http.Request) {
	decode := byID("id", "dataset", func(id string) dv1.DeleteRequest { return dv1.DeleteRequest{ID: id} })
	serveCall(a, w, r, decode, a.datasets.Delete, http.StatusOK, "dataset deleted", func(_ dv1.DeleteReply, ans answer) answer {
		ans.data = true
		return ans
	})
}

func (a *API) datasetData(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, byIDAndQuery("id", "dataset", func(id string, q pageQuery) dv1.DataRequest { return dv1.DataRequest{ID: id, Page: q.window()} }),
		a.datasets.Data, http.StatusOK, "dataset rows", asIs)
}

func (a *API) datasetRejects(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, byIDAndQuery("id", "dataset", func(id string, q pageQuery) dv1.RejectsRequest { return dv1.RejectsRequest{ID: id, Page: q.window()} }),
		a.datasets.Rejects, http.StatusOK, "rejected rows", asIs)
}

func (a *API) datasetQuery(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, fromBody, a.datasets.Query, http.StatusOK, "query result", asIs)
}

func (a *API) datasetFileColumns(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, byDatasetAndFile(func(id, fileID string) dv1.FileColumnsRequest { return dv1.FileColumnsRequest{ID: id, FileID: fileID} }),
		a.datasets.FileColumns, http.StatusOK, "file columns", asIs)
}

func (a *API) datasetInsert(w http.ResponseWriter, r *http.Request) {
	serveCall(a, w, r, byDatasetAndFile(func(id, fileID string) dv1.InsertRequest { return dv1.InsertRequest{ID: id, FileID: fileID} }),
		a.datasets.Insert, http.StatusOK, "rows inserted", asIs)
}

// exportQuery is the query of GET /datasets/{id}/export.
type exportQuery struct {
	Format string `form:"format" json:"format,omitempty" enum:"csv,parquet,json" default:"csv"`
}

func toExportDataset(id string, q exportQuery) dv1.ExportRequest {
	if q.Format == "" {
		q.Format = dv1.FormatCSV
	}
	return dv1.ExportRequest{ID: id, Format: q.Format}
}

// datasetExport asks the service for the export and streams it from the
// presigned URL it grants: the gateway holds no storage credentials, and
// the body is copied, never buffered.
func (a *API) datasetExport(w http.ResponseWriter, r *http.Request) {
	req, e := byIDAndQuery("id", "dataset", toExportDataset)(w, r)
	if e != nil {
		a.reject(w, e)
		return
	}
	// The request deadline bounds the grant, not the stream.
	ctx, cancel := a.callCtx(r)
	reply, err := a.datasets.Export(ctx, req)
	cancel()
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.streamExport(w, r, reply)
}

func (a *API) streamExport(w http.ResponseWriter, r *http.Request, x dv1.ExportReply) {
	ctx := r.Context()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, x.URL, nil)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	resp, err := a.httpClient.Do(req)
	if err != nil {
		a.log.WarnContext(ctx, "fetch export", "err", err)
		a.reject(w, rpcerr.New(rpcerr.Unavailable, "export storage unavailable"))
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		a.log.WarnContext(ctx, "fetch export", "status", resp.StatusCode)
		a.reject(w, rpcerr.New(rpcerr.Unavailable, "export storage unavailable"))
		return
	}
	contentType := x.ContentType
	if contentType == "" {
		contentType = resp.Header.Get("Content-Type")
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	if x.FileName != "" {
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": x.FileName}))
	}
	if resp.ContentLength >= 0 {
		h.Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, resp.Body); err != nil {
		a.log.WarnContext(ctx, "stream export", "err", err)
	}
}

// defaultExportClient fetches exports: no overall timeout (a large export
// streams for as long as it takes) but bounded connect and first byte.
func defaultExportClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
	}}
}

func (a *API) duckdbStats(w http.ResponseWriter, r *http.Request) {
	serveNoInput(a, w, r, a.datasets.DuckDBStats, http.StatusOK, "duckdb stats", asIs)
}

func (a *API) duckdbCleanup(w http.ResponseWriter, r *http.Request) {
	serveNoInput(a, w, r, a.datasets.DuckDBCleanup, http.StatusOK, "expired sessions closed", asIs)
}
