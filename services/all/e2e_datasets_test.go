package all_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	fv1 "github.com/nonefinity/backend/contracts/filev1"
)

const xlsxMIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

var objectIDPattern = regexp.MustCompile(`^[0-9a-f]{24}$`)

// saleRow is one line of the generated sales files; amounts are multiples
// of 1.25, exact in binary, so sums compare exactly.
type saleRow struct {
	id       int
	category string
	amount   float64
	soldOn   string
}

func saleRows(first, n int) []saleRow {
	categories := []string{"books", "games", "toys"}
	rows := make([]saleRow, n)
	for i := range rows {
		id := first + i
		rows[i] = saleRow{id: id, category: categories[id%3], amount: float64(id) * 1.25,
			soldOn: fmt.Sprintf("2024-%02d-%02d", 1+id%12, 1+id%28)}
	}
	return rows
}

// salesCSV writes rows under the dataset's own header.
func salesCSV(rows []saleRow) []byte {
	var b bytes.Buffer
	b.WriteString("id,category,amount,sold_on\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "%d,%s,%.2f,%s\n", r.id, r.category, r.amount, r.soldOn)
	}
	return b.Bytes()
}

// reorderedCSV writes rows with the columns in another order and case,
// plus a column the dataset does not have: an insert matches by name.
func reorderedCSV(rows []saleRow) []byte {
	var b bytes.Buffer
	b.WriteString("AMOUNT,Category,ID,sold_on,extra\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "%.2f,%s,%d,%s,x%d\n", r.amount, r.category, r.id, r.soldOn, r.id)
	}
	return b.Bytes()
}

type categoryTotal struct {
	n   int
	sum float64
}

func totalsByCategory(rows []saleRow) map[string]categoryTotal {
	out := map[string]categoryTotal{}
	for _, r := range rows {
		t := out[r.category]
		t.n++
		t.sum += r.amount
		out[r.category] = t
	}
	return out
}

func sumAmounts(rows []saleRow) float64 {
	var s float64
	for _, r := range rows {
		s += r.amount
	}
	return s
}

// stockWorkbook is a one-sheet XLSX: sku (text), qty (integers), price.
func stockWorkbook(t *testing.T) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	rows := [][]any{{"sku", "qty", "price"}, {"A-1", 5, 1.5}, {"B-2", 7, 2.25}, {"C-3", 11, 0.5}}
	for i, row := range rows {
		cell, err := excelize.CoordinatesToCellName(1, i+1)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.SetSheetRow("Sheet1", cell, &row); err != nil {
			t.Fatal(err)
		}
	}
	buf, err := f.WriteToBuffer()
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// waitAllProcessed waits for the file.processed events of every id: files
// are processed concurrently, so their events come in any order.
func waitAllProcessed(t *testing.T, frames <-chan sseFrame, ids ...string) map[string]fv1.FileProcessed {
	t.Helper()
	got := map[string]fv1.FileProcessed{}
	waitFrame(t, frames, func(f sseFrame) bool {
		if f.event != "file.processed" {
			return false
		}
		var ev fv1.FileProcessed
		if err := json.Unmarshal(f.data, &ev); err != nil {
			t.Fatalf("file.processed data: %v: %s", err, f.data)
		}
		if slices.Contains(ids, ev.FileID) {
			got[ev.FileID] = ev
		}
		return len(got) == len(ids)
	})
	return got
}

// expectAPIError fails unless r has one of the statuses and is an error
// envelope that says why: a message and at least one detailed error.
func expectAPIError(t *testing.T, r response, statuses ...int) envelope {
	t.Helper()
	if !slices.Contains(statuses, r.status) {
		t.Fatalf("status %d, want one of %v: %s", r.status, statuses, r.body)
	}
	env := decodeEnvelope(t, r)
	if env.Success || env.Message == "" || len(env.Errors) == 0 || env.Errors[0].Message == "" {
		t.Fatalf("error envelope without a message: %s", r.body)
	}
	return env
}

// schemaString is "name:type,..." of a dataset's columns.
func schemaString(d dv1.Dataset) string {
	parts := make([]string, len(d.DataSchema))
	for i, c := range d.DataSchema {
		parts[i] = c.ColumnName + ":" + c.ColumnType
	}
	return strings.Join(parts, ",")
}

func columnDesc(d dv1.Dataset, name string) string {
	for _, c := range d.DataSchema {
		if c.ColumnName == name {
			return c.Desc
		}
	}
	return "<no column " + name + ">"
}

func datasetIDs(ds []dv1.Dataset) []string {
	ids := make([]string, 0, len(ds))
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	slices.Sort(ids)
	return ids
}

// query runs sql as u (form body) and expects 200.
func query(t *testing.T, u apiUser, sql string) dv1.QueryReply {
	t.Helper()
	var q dv1.QueryReply
	expect(t, u.form(t, http.MethodPost, "/datasets/query", url.Values{"query": {sql}}), http.StatusOK, &q)
	return q
}

// rowIDs are the "id" values of rows, which JSON decodes as numbers.
func rowIDs(t *testing.T, rows []dv1.Row) []int {
	t.Helper()
	ids := make([]int, len(rows))
	for i, r := range rows {
		f, ok := r.Get("id").(float64)
		if !ok {
			t.Fatalf("row %d id = %#v", i, r.Get("id"))
		}
		ids[i] = int(f)
	}
	return ids
}

func idRange(first, last int) []int {
	var out []int
	for i := first; i <= last; i++ {
		out = append(out, i)
	}
	return out
}

// pageMeta is the "meta" of a paged list envelope.
type pageMeta struct {
	Total    int `json:"total"`
	Page     int `json:"page"`
	PageSize int `json:"page_size"`
	Pages    int `json:"pages"`
}

// listPageMeta is GET /datasets/list with its paging meta.
func listPageMeta(t *testing.T, u apiUser, query string) ([]dv1.Dataset, pageMeta) {
	t.Helper()
	r := u.get(t, "/datasets/list"+query)
	var list []dv1.Dataset
	expect(t, r, http.StatusOK, &list)
	var page struct {
		Meta *pageMeta `json:"meta"`
	}
	if err := json.Unmarshal(r.body, &page); err != nil || page.Meta == nil {
		t.Fatalf("list%s without meta: %v %s", query, err, r.body)
	}
	return list, *page.Meta
}

// listPage is GET /datasets/list and the total it reports.
func listPage(t *testing.T, u apiUser, query string) ([]dv1.Dataset, int) {
	t.Helper()
	list, meta := listPageMeta(t, u, query)
	return list, meta.Total
}

func TestE2EDatasets(t *testing.T) {
	s := startE2E(t, e2eOptions{})
	a := s.user(t, "e2e_ds_a", "")
	b := s.user(t, "e2e_ds_b", "")
	admin := s.user(t, "e2e_ds_admin", "admin")
	eventsA := a.subscribeEvents(t)
	eventsB := b.subscribeEvents(t)

	base := saleRows(1, 50)
	more := saleRows(51, 10)
	bobs := saleRows(1000, 7)
	all := append(slices.Clone(base), more...)

	var salesFile, moreFile, missingFile, notesFile, stockFile, bobsFile fv1.File
	t.Run("upload files, allow-convert lists the spreadsheets", func(t *testing.T) {
		salesFile = uploadFile(t, a, "sales.csv", "text/csv", salesCSV(base))
		moreFile = uploadFile(t, a, "more.csv", "text/csv", reorderedCSV(more))
		missingFile = uploadFile(t, a, "missing.csv", "text/csv", []byte("id,category,sold_on\n61,books,2024-01-01\n"))
		notesFile = uploadFile(t, a, "notes.txt", "text/plain", []byte("not a table\n"))
		stockFile = uploadFile(t, a, "stock.xlsx", xlsxMIME, stockWorkbook(t))
		processed := waitAllProcessed(t, eventsA, salesFile.ID, moreFile.ID, missingFile.ID, notesFile.ID, stockFile.ID)
		for id, ev := range processed {
			if ev.Status != fv1.StatusReady {
				t.Fatalf("file %s processed %+v", id, ev)
			}
		}
		bobsFile = uploadFile(t, b, "bobs.csv", "text/csv", salesCSV(bobs))
		waitProcessed(t, eventsB, bobsFile.ID)

		var files []fv1.File
		expect(t, a.get(t, "/file/allow-convert"), http.StatusOK, &files)
		if got, want := fileIDs(files), sorted(salesFile.ID, moreFile.ID, missingFile.ID, stockFile.ID); !slices.Equal(got, want) {
			t.Fatalf("allow-convert = %v, want %v (not the .txt %s)", got, want, notesFile.ID)
		}
		expect(t, b.get(t, "/file/allow-convert"), http.StatusOK, &files)
		if got := fileIDs(files); !slices.Equal(got, []string{bobsFile.ID}) {
			t.Fatalf("B allow-convert = %v", got)
		}
	})

	var sales dv1.Dataset
	t.Run("convert form 201", func(t *testing.T) {
		env := expect(t, a.form(t, http.MethodPost, "/datasets/convert", url.Values{
			"file_id": {salesFile.ID}, "dataset_name": {"sales"}, "description": {"Orders of 2024"},
		}), http.StatusCreated, &sales)
		if !env.Success || env.Message == "" {
			t.Fatalf("envelope = %+v", env)
		}
		if !objectIDPattern.MatchString(sales.ID) || sales.Name != "sales" || sales.Description != "Orders of 2024" ||
			sales.OwnerID == "" || sales.Status != dv1.StatusReady || sales.RowCount != int64(len(base)) || sales.Error != "" ||
			sales.CreatedAt.IsZero() || sales.UpdatedAt.IsZero() {
			t.Fatalf("converted = %+v", sales)
		}
		if got := schemaString(sales); got != "id:bigint,category:string,amount:double,sold_on:date" {
			t.Fatalf("schema = %s", got)
		}
	})

	var salesAsync dv1.Dataset
	t.Run("convert async 202, then the converted event", func(t *testing.T) {
		r := a.form(t, http.MethodPost, "/datasets/convert", url.Values{
			"file_id": {salesFile.ID}, "dataset_name": {"sales_async"}, "async": {"true"},
		})
		var accepted map[string]any
		expect(t, r, http.StatusAccepted, &accepted)
		id, _ := accepted["dataset_id"].(string)
		if len(accepted) != 2 || !objectIDPattern.MatchString(id) || accepted["status"] != string(dv1.StatusProcessing) {
			t.Fatalf("202 data = %v", accepted)
		}
		var ev dv1.DatasetConverted
		waitFrame(t, eventsA, func(f sseFrame) bool {
			if f.event != "dataset.converted" {
				return false
			}
			if err := json.Unmarshal(f.data, &ev); err != nil {
				t.Fatalf("dataset.converted data: %v: %s", err, f.data)
			}
			return ev.DatasetID == id
		})
		if ev.RowCount != int64(len(base)) || ev.Name != "sales_async" || ev.FileID != salesFile.ID {
			t.Fatalf("dataset.converted = %+v", ev)
		}
		expect(t, a.get(t, "/datasets/"+id), http.StatusOK, &salesAsync)
		if salesAsync.Status != dv1.StatusReady || salesAsync.RowCount != int64(len(base)) || schemaString(salesAsync) != schemaString(sales) {
			t.Fatalf("after the event = %+v", salesAsync)
		}
	})

	t.Run("convert rejects", func(t *testing.T) {
		for name, bad := range map[string]string{
			"empty": "", "64 chars": strings.Repeat("n", 64), "leading digit": "1sales",
			"keyword": "select", "keyword any case": "Group", "dash": "bad-name",
		} {
			t.Run("name "+name, func(t *testing.T) {
				env := expectAPIError(t, a.form(t, http.MethodPost, "/datasets/convert", url.Values{
					"file_id": {salesFile.ID}, "dataset_name": {bad},
				}), http.StatusBadRequest, http.StatusUnprocessableEntity)
				if env.Errors[0].Field != "dataset_name" {
					t.Fatalf("errors = %+v", env.Errors)
				}
			})
		}
		t.Run("duplicate name 409", func(t *testing.T) {
			expectAPIError(t, a.form(t, http.MethodPost, "/datasets/convert", url.Values{
				"file_id": {salesFile.ID}, "dataset_name": {"sales"},
			}), http.StatusConflict)
		})
		t.Run("no file_id 422", func(t *testing.T) {
			env := expectAPIError(t, a.form(t, http.MethodPost, "/datasets/convert", url.Values{"dataset_name": {"nofile"}}), http.StatusUnprocessableEntity)
			if env.Errors[0].Field != "file_id" {
				t.Fatalf("errors = %+v", env.Errors)
			}
		})
		t.Run("text file 415", func(t *testing.T) {
			expectAPIError(t, a.form(t, http.MethodPost, "/datasets/convert", url.Values{
				"file_id": {notesFile.ID}, "dataset_name": {"notes"},
			}), http.StatusUnsupportedMediaType)
		})
		t.Run("another user's file 404", func(t *testing.T) {
			r := b.form(t, http.MethodPost, "/datasets/convert", url.Values{"file_id": {salesFile.ID}, "dataset_name": {"stolen"}})
			expectAPIError(t, r, http.StatusNotFound)
			missing := a.form(t, http.MethodPost, "/datasets/convert", url.Values{"file_id": {"000000000000000000000000"}, "dataset_name": {"ghost"}})
			expectAPIError(t, missing, http.StatusNotFound)
			// The same answer as for an id nobody has: existence is not revealed.
			if decodeEnvelope(t, r).Message != decodeEnvelope(t, missing).Message {
				t.Fatalf("another user's file answers %s, a missing one %s", r.body, missing.body)
			}
		})
		t.Run("no dataset left behind", func(t *testing.T) {
			list, total := listPage(t, a, "")
			if total != 2 || !slices.Equal(datasetIDs(list), sorted(sales.ID, salesAsync.ID)) {
				t.Fatalf("A's datasets after refused conversions: %d %v", total, datasetIDs(list))
			}
			list, total = listPage(t, b, "")
			if total != 0 || len(list) != 0 {
				t.Fatalf("B's datasets: %d %v", total, datasetIDs(list))
			}
		})
	})

	var stock dv1.Dataset
	t.Run("convert XLSX with a JSON body 201", func(t *testing.T) {
		expect(t, a.json(t, http.MethodPost, "/datasets/convert", map[string]any{
			"file_id": stockFile.ID, "dataset_name": "stock",
		}), http.StatusCreated, &stock)
		if stock.RowCount != 3 || stock.Status != dv1.StatusReady || schemaString(stock) != "sku:string,qty:bigint,price:double" {
			t.Fatalf("xlsx dataset = %+v (%s)", stock, schemaString(stock))
		}
		// sum of a BIGINT is a HUGEINT, which the API writes as a string.
		q := query(t, a, "SELECT sum(qty) AS q, sum(price) AS p FROM stock")
		if q.RowCount != 1 || q.Data[0].Get("q") != "23" || q.Data[0].Get("p") != 4.25 {
			t.Fatalf("stock sums = %+v", q.Data)
		}
	})

	var planned, plannedJSON dv1.Dataset
	t.Run("create", func(t *testing.T) {
		schema := `[{"column_name":"region","column_type":"string","desc":"sales region"},` +
			`{"column_name":"target","column_type":"double"},{"column_name":"due","column_type":"date"}]`
		expect(t, a.form(t, http.MethodPost, "/datasets/create", url.Values{
			"dataset_name": {"planned"}, "description": {"targets"}, "schema": {schema},
		}), http.StatusCreated, &planned)
		if !objectIDPattern.MatchString(planned.ID) || planned.Name != "planned" || planned.Description != "targets" ||
			planned.RowCount != 0 || planned.Status != dv1.StatusReady || schemaString(planned) != "region:string,target:double,due:date" ||
			columnDesc(planned, "region") != "sales region" {
			t.Fatalf("created = %+v", planned)
		}
		expect(t, a.json(t, http.MethodPost, "/datasets/create", map[string]any{
			"dataset_name": "planned_json",
			"schema":       []dv1.Column{{ColumnName: "n", ColumnType: "integer"}, {ColumnName: "ok", ColumnType: "BOOLEAN"}},
		}), http.StatusCreated, &plannedJSON)
		if schemaString(plannedJSON) != "n:integer,ok:boolean" || plannedJSON.RowCount != 0 {
			t.Fatalf("created from JSON = %+v", plannedJSON)
		}
		q := query(t, a, "SELECT count(*) AS n FROM planned")
		if q.Data[0].Get("n") != float64(0) {
			t.Fatalf("empty dataset count = %+v", q.Data)
		}
		q = query(t, a, "DESCRIBE planned")
		if q.RowCount != 3 || q.Data[1].Get("column_type") != "DOUBLE" || q.Data[2].Get("column_type") != "DATE" {
			t.Fatalf("DESCRIBE planned = %+v", q.Data)
		}
		var data dv1.DataReply
		expect(t, a.get(t, "/datasets/"+planned.ID+"/data"), http.StatusOK, &data)
		if data.TotalRows != 0 || len(data.Data) != 0 {
			t.Fatalf("empty dataset data = %+v", data)
		}

		longest := strings.Repeat("n", 63)
		var d dv1.Dataset
		expect(t, a.json(t, http.MethodPost, "/datasets/create", map[string]any{
			"dataset_name": longest, "schema": []dv1.Column{{ColumnName: "x", ColumnType: "string"}},
		}), http.StatusCreated, &d)
		if d.Name != longest {
			t.Fatalf("63-char name = %q", d.Name)
		}
		expect(t, a.do(t, http.MethodDelete, "/datasets/"+d.ID, nil, ""), http.StatusOK, nil)
	})

	t.Run("create rejects", func(t *testing.T) {
		for name, body := range map[string]map[string]any{
			"unknown type":     {"dataset_name": "typed", "schema": []dv1.Column{{ColumnName: "x", ColumnType: "money"}}},
			"sized type":       {"dataset_name": "typed", "schema": []dv1.Column{{ColumnName: "x", ColumnType: "VARCHAR(10)"}}},
			"empty schema":     {"dataset_name": "typed", "schema": []dv1.Column{}},
			"duplicate column": {"dataset_name": "typed", "schema": []dv1.Column{{ColumnName: "x", ColumnType: "string"}, {ColumnName: "X", ColumnType: "bigint"}}},
			"no column name":   {"dataset_name": "typed", "schema": []dv1.Column{{ColumnType: "string"}}},
			"keyword name":     {"dataset_name": "from", "schema": []dv1.Column{{ColumnName: "x", ColumnType: "string"}}},
			"digit name":       {"dataset_name": "9lives", "schema": []dv1.Column{{ColumnName: "x", ColumnType: "string"}}},
		} {
			t.Run(name, func(t *testing.T) {
				expectAPIError(t, a.json(t, http.MethodPost, "/datasets/create", body), http.StatusBadRequest, http.StatusUnprocessableEntity)
			})
		}
		t.Run("schema not JSON in a form", func(t *testing.T) {
			expectAPIError(t, a.form(t, http.MethodPost, "/datasets/create", url.Values{
				"dataset_name": {"typed"}, "schema": {"region string"},
			}), http.StatusBadRequest, http.StatusUnprocessableEntity)
		})
		t.Run("duplicate name 409", func(t *testing.T) {
			expectAPIError(t, a.json(t, http.MethodPost, "/datasets/create", map[string]any{
				"dataset_name": "sales", "schema": []dv1.Column{{ColumnName: "x", ColumnType: "string"}},
			}), http.StatusConflict)
		})
	})

	mine := []string{sales.ID, salesAsync.ID, stock.ID, planned.ID, plannedJSON.ID}
	t.Run("list pages", func(t *testing.T) {
		list, total := listPage(t, a, "")
		if total != len(mine) || !slices.Equal(datasetIDs(list), sorted(mine...)) {
			t.Fatalf("list = %d %v, want %v", total, datasetIDs(list), sorted(mine...))
		}
		var paged []dv1.Dataset
		for skip := 0; skip < 6; skip += 2 {
			page, total := listPage(t, a, fmt.Sprintf("?skip=%d&limit=2", skip))
			if total != len(mine) || len(page) != min(2, len(mine)-skip) {
				t.Fatalf("skip=%d: %d of %d", skip, len(page), total)
			}
			paged = append(paged, page...)
		}
		if !slices.Equal(datasetIDs(paged), sorted(mine...)) {
			t.Fatalf("pages together = %v", datasetIDs(paged))
		}
		byPage, meta := listPageMeta(t, a, "?page=2&page_size=2")
		if !slices.Equal(datasetIDs(byPage), datasetIDs(paged[2:4])) || meta != (pageMeta{Total: len(mine), Page: 2, PageSize: 2, Pages: 3}) {
			t.Fatalf("page=2&page_size=2 = %v %+v, want %v", datasetIDs(byPage), meta, datasetIDs(paged[2:4]))
		}
		if _, meta := listPageMeta(t, a, "?limit=5000"); meta.PageSize != 1000 {
			t.Fatalf("limit=5000 not capped at 1000: %+v", meta)
		}
		for query, field := range map[string]string{"?skip=-1": "skip", "?limit=0": "limit", "?page=0": "page", "?page_size=-5": "page_size"} {
			env := expectAPIError(t, a.get(t, "/datasets/list"+query), http.StatusUnprocessableEntity)
			if env.Errors[0].Field != field {
				t.Fatalf("%s: errors = %+v", query, env.Errors)
			}
			expectAPIError(t, a.get(t, "/datasets/"+sales.ID+"/data"+query), http.StatusUnprocessableEntity)
		}
		for _, d := range list {
			if d.ID == sales.ID && (d.RowCount != int64(len(base)) || d.Name != "sales" || schemaString(d) != schemaString(sales)) {
				t.Fatalf("listed sales = %+v", d)
			}
		}
	})

	t.Run("get and update", func(t *testing.T) {
		var got dv1.Dataset
		expect(t, a.get(t, "/datasets/"+sales.ID), http.StatusOK, &got)
		if got.ID != sales.ID || got.Name != "sales" || got.RowCount != sales.RowCount || schemaString(got) != schemaString(sales) ||
			!got.CreatedAt.Equal(sales.CreatedAt) {
			t.Fatalf("get = %+v, converted %+v", got, sales)
		}

		expect(t, a.json(t, http.MethodPut, "/datasets/"+planned.ID, map[string]any{"description": "Q3 targets"}), http.StatusOK, &got)
		if got.Name != "planned" || got.Description != "Q3 targets" {
			t.Fatalf("description update = %+v", got)
		}
		expect(t, a.json(t, http.MethodPut, "/datasets/"+planned.ID, map[string]any{"name": "targets"}), http.StatusOK, &got)
		if got.Name != "targets" || got.Description != "Q3 targets" || got.ID != planned.ID {
			t.Fatalf("rename = %+v", got)
		}
		if q := query(t, a, "SELECT count(*) AS n FROM targets"); q.Data[0].Get("n") != float64(0) {
			t.Fatalf("renamed table = %+v", q.Data)
		}
		expectAPIError(t, a.form(t, http.MethodPost, "/datasets/query", url.Values{"query": {"SELECT * FROM planned"}}), http.StatusBadRequest)

		expectAPIError(t, a.json(t, http.MethodPut, "/datasets/"+planned.ID, map[string]any{"name": "sales"}), http.StatusConflict)
		for _, bad := range []string{"", "select", "9lives", "two words", strings.Repeat("n", 64)} {
			expectAPIError(t, a.json(t, http.MethodPut, "/datasets/"+planned.ID, map[string]any{"name": bad}),
				http.StatusBadRequest, http.StatusUnprocessableEntity)
		}
		expect(t, a.get(t, "/datasets/"+planned.ID), http.StatusOK, &got)
		if got.Name != "targets" || got.Description != "Q3 targets" {
			t.Fatalf("after refused renames = %+v", got)
		}
	})

	t.Run("schema descriptions in both shapes", func(t *testing.T) {
		var got dv1.Dataset
		expect(t, a.json(t, http.MethodPut, "/datasets/"+sales.ID+"/schema", map[string]string{
			"amount": "EUR, gross", "category": "product group",
		}), http.StatusOK, &got)
		if columnDesc(got, "amount") != "EUR, gross" || columnDesc(got, "category") != "product group" || columnDesc(got, "id") != "" {
			t.Fatalf("object shape = %+v", got.DataSchema)
		}
		expect(t, a.json(t, http.MethodPut, "/datasets/"+sales.ID+"/schema", []map[string]string{
			{"column_name": "id", "desc": "order number"},
		}), http.StatusOK, &got)
		if columnDesc(got, "id") != "order number" || columnDesc(got, "amount") != "EUR, gross" || schemaString(got) != schemaString(sales) {
			t.Fatalf("array shape = %+v", got.DataSchema)
		}
		expect(t, a.get(t, "/datasets/"+sales.ID), http.StatusOK, &got)
		if columnDesc(got, "id") != "order number" || columnDesc(got, "category") != "product group" {
			t.Fatalf("stored schema = %+v", got.DataSchema)
		}
		expectAPIError(t, a.json(t, http.MethodPut, "/datasets/"+sales.ID+"/schema", map[string]string{"nope": "x"}),
			http.StatusBadRequest, http.StatusUnprocessableEntity)
		expectAPIError(t, a.json(t, http.MethodPut, "/datasets/"+sales.ID+"/schema", "just a string"),
			http.StatusBadRequest, http.StatusUnprocessableEntity)
	})

	t.Run("data windows", func(t *testing.T) {
		var w dv1.DataReply
		expect(t, a.get(t, "/datasets/"+sales.ID+"/data?skip=10&limit=5"), http.StatusOK, &w)
		if w.TotalRows != int64(len(base)) || w.Offset != 10 || w.Limit != 5 || !slices.Equal(rowIDs(t, w.Data), idRange(11, 15)) {
			t.Fatalf("window = %+v", w)
		}
		want := base[10]
		if row := w.Data[0].Map(); row["category"] != want.category || row["amount"] != want.amount ||
			!strings.HasPrefix(fmt.Sprint(row["sold_on"]), want.soldOn) || len(row) != 4 {
			t.Fatalf("row 11 = %v, want %+v", row, want)
		}
		var again dv1.DataReply
		expect(t, a.get(t, "/datasets/"+sales.ID+"/data?skip=10&limit=5"), http.StatusOK, &again)
		if !slices.Equal(rowIDs(t, again.Data), rowIDs(t, w.Data)) {
			t.Fatalf("same window twice: %v then %v", rowIDs(t, w.Data), rowIDs(t, again.Data))
		}
		expect(t, a.get(t, "/datasets/"+sales.ID+"/data?skip=45&limit=10"), http.StatusOK, &w)
		if w.TotalRows != int64(len(base)) || !slices.Equal(rowIDs(t, w.Data), idRange(46, 50)) {
			t.Fatalf("last window = %+v", w)
		}
		expect(t, a.get(t, "/datasets/"+sales.ID+"/data?skip=500"), http.StatusOK, &w)
		if w.TotalRows != int64(len(base)) || len(w.Data) != 0 {
			t.Fatalf("past the end = %+v", w)
		}
		expect(t, a.get(t, "/datasets/"+sales.ID+"/data"), http.StatusOK, &w)
		if w.Offset != 0 || w.Limit != 100 || !slices.Equal(rowIDs(t, w.Data), idRange(1, 50)) {
			t.Fatalf("default window: offset %d limit %d ids %v", w.Offset, w.Limit, rowIDs(t, w.Data))
		}
		expect(t, a.get(t, "/datasets/"+sales.ID+"/data?limit=5000"), http.StatusOK, &w)
		if w.Limit != 1000 || len(w.Data) != len(base) {
			t.Fatalf("limit=5000: limit %d, %d rows", w.Limit, len(w.Data))
		}
	})

	t.Run("query", func(t *testing.T) {
		q := query(t, a, "SELECT category, count(*) AS n, sum(amount) AS total FROM sales GROUP BY category ORDER BY category")
		wantCols := []dv1.QueryColumn{{Name: "category", Type: "VARCHAR"}, {Name: "n", Type: "BIGINT"}, {Name: "total", Type: "DOUBLE"}}
		if !slices.Equal(q.Columns, wantCols) || q.RowCount != 3 || len(q.Data) != 3 || q.Truncated || q.ElapsedMS < 0 {
			t.Fatalf("group by = %+v", q)
		}
		totals := totalsByCategory(base)
		for i, cat := range []string{"books", "games", "toys"} {
			row := q.Data[i].Map()
			if row["category"] != cat || row["n"] != float64(totals[cat].n) || row["total"] != totals[cat].sum {
				t.Errorf("row %d = %v, want %s %+v", i, row, cat, totals[cat])
			}
		}

		var capped dv1.QueryReply
		expect(t, a.json(t, http.MethodPost, "/datasets/query", map[string]any{"query": "SELECT id FROM sales ORDER BY id", "limit": 5}), http.StatusOK, &capped)
		if capped.RowCount != 5 || !capped.Truncated || !slices.Equal(rowIDs(t, capped.Data), idRange(1, 5)) {
			t.Fatalf("limit 5 = %+v", capped)
		}
		expect(t, a.form(t, http.MethodPost, "/datasets/query", url.Values{"query": {"SELECT id FROM sales ORDER BY id"}, "limit": {"1000"}}), http.StatusOK, &capped)
		if capped.RowCount != len(base) || capped.Truncated || !slices.Equal(rowIDs(t, capped.Data), idRange(1, 50)) {
			t.Fatalf("limit 1000: %d rows, truncated %v", capped.RowCount, capped.Truncated)
		}
		expect(t, a.form(t, http.MethodPost, "/datasets/query", url.Values{"query": {"SELECT id FROM sales ORDER BY id"}, "limit": {"50"}}), http.StatusOK, &capped)
		if capped.RowCount != len(base) || capped.Truncated {
			t.Fatalf("limit equal to the rows: %d rows, truncated %v", capped.RowCount, capped.Truncated)
		}
	})

	t.Run("query rejects what is not one read-only statement", func(t *testing.T) {
		for _, sql := range []string{
			"",
			"SELECT 1; SELECT 2",
			"COPY sales TO 'leak.csv'",
			"ATTACH 'other.duckdb' AS other",
			"SELECT * FROM read_csv('/etc/passwd')",
			"SET enable_external_access = true",
			"SELECT * FROM read_csv('/etc/passwd')",
			"SELECT * FROM read_text('/etc/hostname')",
			"INSERT INTO sales VALUES (999, 'x', 1.0, DATE '2024-01-01')",
			"DROP TABLE sales",
			"CREATE TABLE t AS SELECT 1",
		} {
			r := a.form(t, http.MethodPost, "/datasets/query", url.Values{"query": {sql}})
			if r.status != http.StatusBadRequest && r.status != http.StatusUnprocessableEntity {
				t.Errorf("%q: %d %s", sql, r.status, r.body)
				continue
			}
			if env := decodeEnvelope(t, r); env.Success || env.Message == "" || len(env.Errors) == 0 {
				t.Errorf("%q: error without a message: %s", sql, r.body)
			}
			if bytes.Contains(r.body, []byte("root:")) {
				t.Errorf("%q leaked a file: %s", sql, r.body)
			}
		}
		q := query(t, a, "SELECT count(*) AS n, sum(amount) AS s FROM sales")
		if q.Data[0].Get("n") != float64(len(base)) || q.Data[0].Get("s") != sumAmounts(base) {
			t.Fatalf("after the refusals = %+v", q.Data)
		}
	})

	var bSales dv1.Dataset
	t.Run("B's queries see B's datasets only", func(t *testing.T) {
		r := b.form(t, http.MethodPost, "/datasets/query", url.Values{"query": {"SELECT * FROM sales"}})
		if env := expectAPIError(t, r, http.StatusBadRequest); !strings.Contains(env.Message, "sales") {
			t.Fatalf("B's query of an unknown table does not name it: %s", r.body)
		}
		for _, cat := range []string{"books", "games", "toys"} {
			if bytes.Contains(r.body, []byte(cat)) {
				t.Fatalf("B's failed query shows A's rows: %s", r.body)
			}
		}
		tables := query(t, b, "SELECT table_name FROM information_schema.tables")
		for _, row := range tables.Data {
			if n := fmt.Sprint(row.Get("table_name")); slices.Contains([]string{"sales", "sales_async", "stock", "targets", "planned_json"}, n) {
				t.Fatalf("B's catalog lists A's table %s", n)
			}
		}
		// Names are unique per user: B may have a "sales" of its own.
		expect(t, b.form(t, http.MethodPost, "/datasets/convert", url.Values{
			"file_id": {bobsFile.ID}, "dataset_name": {"sales"},
		}), http.StatusCreated, &bSales)
		q := query(t, b, "SELECT count(*) AS n, sum(amount) AS s, min(id) AS first FROM sales")
		if q.Data[0].Get("n") != float64(len(bobs)) || q.Data[0].Get("s") != sumAmounts(bobs) || q.Data[0].Get("first") != float64(1000) {
			t.Fatalf("B's sales = %+v", q.Data)
		}
		q = query(t, a, "SELECT count(*) AS n, min(id) AS first FROM sales")
		if q.Data[0].Get("n") != float64(len(base)) || q.Data[0].Get("first") != float64(1) {
			t.Fatalf("A's sales after B's convert = %+v", q.Data)
		}
	})

	t.Run("file-columns", func(t *testing.T) {
		var fc dv1.FileColumnsReply
		expect(t, a.get(t, "/datasets/"+sales.ID+"/file-columns/"+moreFile.ID), http.StatusOK, &fc)
		if !slices.Equal(fc.FileColumns, []string{"AMOUNT", "Category", "ID", "sold_on", "extra"}) {
			t.Fatalf("file_columns = %v", fc.FileColumns)
		}
		wantCols := []dv1.DatasetColumn{
			{ColumnName: "id", ColumnType: "bigint", Description: "order number"},
			{ColumnName: "category", ColumnType: "string", Description: "product group"},
			{ColumnName: "amount", ColumnType: "double", Description: "EUR, gross"},
			{ColumnName: "sold_on", ColumnType: "date"},
		}
		if !slices.Equal(fc.DatasetColumns, wantCols) {
			t.Fatalf("dataset_columns = %+v", fc.DatasetColumns)
		}
		if fc.FileInfo.FileID != moreFile.ID || fc.FileInfo.FileName != "more" || fc.FileInfo.FileType == "" ||
			fc.DatasetInfo.DatasetID != sales.ID || fc.DatasetInfo.DatasetName != "sales" || fc.DatasetInfo.Description != "Orders of 2024" {
			t.Fatalf("file_info %+v dataset_info %+v", fc.FileInfo, fc.DatasetInfo)
		}
		expectAPIError(t, a.get(t, "/datasets/"+sales.ID+"/file-columns/"+notesFile.ID), http.StatusUnsupportedMediaType)
		expectAPIError(t, a.get(t, "/datasets/"+sales.ID+"/file-columns/"+bobsFile.ID), http.StatusNotFound)
		expectAPIError(t, a.get(t, "/datasets/"+sales.ID+"/file-columns/000000000000000000000000"), http.StatusNotFound)
	})

	t.Run("insert", func(t *testing.T) {
		var ins dv1.InsertReply
		expect(t, a.do(t, http.MethodPost, "/datasets/"+sales.ID+"/insert/"+moreFile.ID, nil, ""), http.StatusOK, &ins)
		if ins.InsertedRows != int64(len(more)) {
			t.Fatalf("inserted = %+v", ins)
		}
		var got dv1.Dataset
		expect(t, a.get(t, "/datasets/"+sales.ID), http.StatusOK, &got)
		if got.RowCount != int64(len(all)) || schemaString(got) != schemaString(sales) {
			t.Fatalf("after insert = %+v", got)
		}
		var w dv1.DataReply
		expect(t, a.get(t, "/datasets/"+sales.ID+"/data?skip=48&limit=20"), http.StatusOK, &w)
		if w.TotalRows != int64(len(all)) || !slices.Equal(rowIDs(t, w.Data), idRange(49, 60)) {
			t.Fatalf("window over the inserted rows: total %d ids %v", w.TotalRows, rowIDs(t, w.Data))
		}
		if row := w.Data[len(w.Data)-1].Map(); row["category"] != more[9].category || row["amount"] != more[9].amount || len(row) != 4 {
			t.Fatalf("inserted row 60 = %v, want %+v", row, more[9])
		}
		q := query(t, a, "SELECT count(*) AS n, sum(amount) AS s FROM sales")
		if q.Data[0].Get("n") != float64(len(all)) || q.Data[0].Get("s") != sumAmounts(all) {
			t.Fatalf("after insert = %+v", q.Data)
		}

		env := expectAPIError(t, a.do(t, http.MethodPost, "/datasets/"+sales.ID+"/insert/"+missingFile.ID, nil, ""), http.StatusUnprocessableEntity)
		if !strings.Contains(env.Message+env.Errors[0].Message+env.Errors[0].Field, "amount") {
			t.Fatalf("missing column error does not name it: %+v", env)
		}
		expectAPIError(t, a.do(t, http.MethodPost, "/datasets/"+sales.ID+"/insert/"+notesFile.ID, nil, ""), http.StatusUnsupportedMediaType)
		env = expectAPIError(t, a.do(t, http.MethodPost, "/datasets/"+sales.ID+"/insert/"+stockFile.ID, nil, ""), http.StatusUnprocessableEntity)
		if env.Errors[0].Field != "id" {
			t.Fatalf("an XLSX without the dataset's columns: %+v", env)
		}
		expectAPIError(t, a.do(t, http.MethodPost, "/datasets/"+sales.ID+"/insert/"+bobsFile.ID, nil, ""), http.StatusNotFound)
		expect(t, a.get(t, "/datasets/"+sales.ID), http.StatusOK, &got)
		if got.RowCount != int64(len(all)) {
			t.Fatalf("refused inserts changed the row count: %d", got.RowCount)
		}

		expect(t, a.do(t, http.MethodPost, "/datasets/"+stock.ID+"/insert/"+stockFile.ID, nil, ""), http.StatusOK, &ins)
		if ins.InsertedRows != 3 {
			t.Fatalf("XLSX insert = %+v", ins)
		}
		if q := query(t, a, "SELECT count(*) AS n, sum(qty) AS q FROM stock"); q.Data[0].Get("n") != float64(6) || q.Data[0].Get("q") != "46" {
			t.Fatalf("stock after the XLSX insert = %+v", q.Data)
		}
	})

	t.Run("export", func(t *testing.T) {
		r := a.get(t, "/datasets/"+sales.ID+"/export?format=csv")
		if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") ||
			!strings.Contains(r.header.Get("Content-Disposition"), "sales.csv") {
			t.Fatalf("csv export: %d %v %.200s", r.status, r.header, r.body)
		}
		records, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
		if err != nil || len(records) != len(all)+1 || !slices.Equal(records[0], []string{"id", "category", "amount", "sold_on"}) {
			t.Fatalf("csv export: %v %.300s", err, r.body)
		}
		var sum float64
		for i, rec := range records[1:] {
			amount, err := strconv.ParseFloat(rec[2], 64)
			if err != nil || rec[0] != strconv.Itoa(all[i].id) || rec[1] != all[i].category || rec[3] != all[i].soldOn {
				t.Fatalf("csv line %d = %v, want %+v", i+2, rec, all[i])
			}
			sum += amount
		}
		if sum != sumAmounts(all) {
			t.Fatalf("csv amounts sum to %v, want %v", sum, sumAmounts(all))
		}
		if dflt := a.get(t, "/datasets/"+sales.ID+"/export"); dflt.status != http.StatusOK || !bytes.Equal(dflt.body, r.body) {
			t.Fatalf("export without a format is not the CSV: %d %.200s", dflt.status, dflt.body)
		}

		r = a.get(t, "/datasets/"+sales.ID+"/export?format=json")
		if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Fatalf("json export: %d %v %.200s", r.status, r.header, r.body)
		}
		var rows []dv1.Row
		if err := json.Unmarshal(r.body, &rows); err != nil || len(rows) != len(all) {
			t.Fatalf("json export: %v, %d rows: %.300s", err, len(rows), r.body)
		}
		if !slices.Equal(rowIDs(t, rows), idRange(1, 60)) || rows[59].Get("category") != all[59].category || rows[59].Get("amount") != all[59].amount {
			t.Fatalf("json export rows: %v ... %v", rows[0], rows[59])
		}

		r = a.get(t, "/datasets/"+sales.ID+"/export?format=parquet")
		if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/vnd.apache.parquet" ||
			len(r.body) < 12 || !bytes.HasPrefix(r.body, []byte("PAR1")) || !bytes.HasSuffix(r.body, []byte("PAR1")) {
			t.Fatalf("parquet export: %d %v %d bytes %q", r.status, r.header, len(r.body), r.body[:min(len(r.body), 8)])
		}

		expectAPIError(t, a.get(t, "/datasets/"+sales.ID+"/export?format=xml"), http.StatusBadRequest, http.StatusUnprocessableEntity)
	})

	t.Run("B gets 404 on A's datasets", func(t *testing.T) {
		for _, id := range []string{sales.ID, stock.ID} {
			expectAPIError(t, b.get(t, "/datasets/"+id), http.StatusNotFound)
			expectAPIError(t, b.json(t, http.MethodPut, "/datasets/"+id, map[string]any{"name": "stolen", "description": "mine"}), http.StatusNotFound)
			expectAPIError(t, b.json(t, http.MethodPut, "/datasets/"+id+"/schema", map[string]string{"id": "mine"}), http.StatusNotFound)
			expectAPIError(t, b.get(t, "/datasets/"+id+"/data"), http.StatusNotFound)
			expectAPIError(t, b.get(t, "/datasets/"+id+"/export?format=csv"), http.StatusNotFound)
			expectAPIError(t, b.get(t, "/datasets/"+id+"/file-columns/"+bobsFile.ID), http.StatusNotFound)
			expectAPIError(t, b.do(t, http.MethodPost, "/datasets/"+id+"/insert/"+bobsFile.ID, nil, ""), http.StatusNotFound)
			expectAPIError(t, b.do(t, http.MethodDelete, "/datasets/"+id, nil, ""), http.StatusNotFound)
		}
		var got dv1.Dataset
		expect(t, a.get(t, "/datasets/"+sales.ID), http.StatusOK, &got)
		if got.Name != "sales" || got.Description != "Orders of 2024" || got.RowCount != int64(len(all)) || columnDesc(got, "id") != "order number" {
			t.Fatalf("A's dataset after B's attempts = %+v", got)
		}
		if q := query(t, a, "SELECT count(*) AS n FROM sales"); q.Data[0].Get("n") != float64(len(all)) {
			t.Fatalf("A's rows after B's attempts = %+v", q.Data)
		}
		list, total := listPage(t, b, "")
		if total != 1 || !slices.Equal(datasetIDs(list), []string{bSales.ID}) {
			t.Fatalf("B lists %d: %v", total, datasetIDs(list))
		}
	})

	t.Run("malformed and unknown ids 404", func(t *testing.T) {
		for _, id := range []string{"not-an-id", "zzzzzzzzzzzzzzzzzzzzzzzz", "000000000000000000000000"} {
			expectAPIError(t, a.get(t, "/datasets/"+id), http.StatusNotFound)
			expectAPIError(t, a.json(t, http.MethodPut, "/datasets/"+id, map[string]any{"description": "x"}), http.StatusNotFound)
			expectAPIError(t, a.get(t, "/datasets/"+id+"/data"), http.StatusNotFound)
			expectAPIError(t, a.do(t, http.MethodDelete, "/datasets/"+id, nil, ""), http.StatusNotFound)
		}
	})

	t.Run("duckdb stats and cleanup", func(t *testing.T) {
		// Instance-wide counts: admins only.
		expectAPIError(t, a.get(t, "/duckdb/stats"), http.StatusForbidden)
		r := admin.get(t, "/duckdb/stats")
		var st dv1.DuckDBStatsReply
		expect(t, r, http.StatusOK, &st)
		var raw map[string]json.RawMessage
		_ = json.Unmarshal(decodeEnvelope(t, r).Data, &raw)
		for _, k := range []string{"total_instances", "active_instances", "expired_instances", "instance_ttl", "cleanup_interval"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("stats without %s: %s", k, r.body)
			}
		}
		// A and B both queried, moments ago.
		if st.TotalInstances < 2 || st.ActiveInstances < 2 || st.ActiveInstances+st.ExpiredInstances != st.TotalInstances ||
			st.InstanceTTL <= 0 || st.CleanupInterval <= 0 {
			t.Fatalf("stats = %+v", st)
		}
		expectAPIError(t, a.do(t, http.MethodPost, "/duckdb/cleanup", nil, ""), http.StatusForbidden)
		expectAPIError(t, s.anonymous().do(t, http.MethodPost, "/duckdb/cleanup", nil, ""), http.StatusUnauthorized)
		expectAPIError(t, s.anonymous().get(t, "/duckdb/stats"), http.StatusUnauthorized)
		var cleaned dv1.CleanupReply
		expect(t, admin.do(t, http.MethodPost, "/duckdb/cleanup", nil, ""), http.StatusOK, &cleaned)
		if cleaned.ClosedInstances != 0 {
			t.Fatalf("cleanup closed %d sessions that had not expired", cleaned.ClosedInstances)
		}
		var after dv1.DuckDBStatsReply
		expect(t, admin.get(t, "/duckdb/stats"), http.StatusOK, &after)
		if after.ActiveInstances < st.ActiveInstances {
			t.Fatalf("active sessions %d after cleanup, %d before", after.ActiveInstances, st.ActiveInstances)
		}
		if q := query(t, a, "SELECT count(*) AS n FROM sales"); q.Data[0].Get("n") != float64(len(all)) {
			t.Fatalf("query after cleanup = %+v", q.Data)
		}
	})

	t.Run("delete", func(t *testing.T) {
		r := a.do(t, http.MethodDelete, "/datasets/"+salesAsync.ID, nil, "")
		env := expect(t, r, http.StatusOK, nil)
		if string(env.Data) != "true" {
			t.Fatalf("delete data = %s", env.Data)
		}
		var ev dv1.DatasetDeleted
		waitFrame(t, eventsA, func(f sseFrame) bool {
			if f.event != "dataset.deleted" {
				return false
			}
			if err := json.Unmarshal(f.data, &ev); err != nil {
				t.Fatalf("dataset.deleted data: %v: %s", err, f.data)
			}
			return ev.DatasetID == salesAsync.ID
		})
		expectAPIError(t, a.get(t, "/datasets/"+salesAsync.ID), http.StatusNotFound)
		expectAPIError(t, a.do(t, http.MethodDelete, "/datasets/"+salesAsync.ID, nil, ""), http.StatusNotFound)
		expectAPIError(t, a.get(t, "/datasets/"+salesAsync.ID+"/export?format=csv"), http.StatusNotFound)
		expectAPIError(t, a.form(t, http.MethodPost, "/datasets/query", url.Values{"query": {"SELECT * FROM sales_async"}}), http.StatusBadRequest)
		list, total := listPage(t, a, "")
		if want := sorted(sales.ID, stock.ID, planned.ID, plannedJSON.ID); total != 4 || !slices.Equal(datasetIDs(list), want) {
			t.Fatalf("after delete: %d %v, want %v", total, datasetIDs(list), want)
		}
		// The name is free again.
		expect(t, a.form(t, http.MethodPost, "/datasets/convert", url.Values{
			"file_id": {salesFile.ID}, "dataset_name": {"sales_async"},
		}), http.StatusCreated, nil)
	})

	t.Run("401 without a token", func(t *testing.T) {
		anon := s.anonymous()
		expectAPIError(t, anon.get(t, "/datasets/list"), http.StatusUnauthorized)
		expectAPIError(t, anon.get(t, "/datasets/"+sales.ID), http.StatusUnauthorized)
		expectAPIError(t, anon.form(t, http.MethodPost, "/datasets/query", url.Values{"query": {"SELECT 1"}}), http.StatusUnauthorized)
	})
}
