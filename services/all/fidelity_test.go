package all_test

import (
	"bytes"
	"compress/gzip"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2" // the "duckdb" driver, for the report's DuckDB-alone column

	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	fv1 "github.com/nonefinity/backend/contracts/filev1"
)

var fidelityReport = flag.String("fidelity.report", "", "write the corpus report (markdown) to this file")

// fidelityCase is one file of testdata/fidelity and its reference answer,
// computed by make_corpus.py with Python's csv module and openpyxl.
type fidelityCase struct {
	Name          string           `json:"name"`
	Family        string           `json:"family"`
	File          string           `json:"file"`
	UploadName    string           `json:"upload_name"`
	ContentType   string           `json:"content_type"`
	Producer      string           `json:"producer"`
	Options       map[string]any   `json:"options"`
	RowsInFile    int64            `json:"rows_in_file"`
	Rows          int64            `json:"rows"`
	RejectedLines []int64          `json:"rejected_lines"`
	Warnings      []string         `json:"warnings"`
	Columns       []string         `json:"columns"`
	Types         []string         `json:"types"`
	Checks        []fidelityCheck  `json:"checks"`
	Pandas        map[string]any   `json:"pandas"`
	Fails         *string          `json:"fails"`
	Note          string           `json:"note"`
	result        *fidelityOutcome `json:"-"`
}

type fidelityCheck struct {
	SQL   string `json:"sql"`
	Value any    `json:"value"`
}

// fidelityOutcome is what the API made of a case, for the report.
type fidelityOutcome struct {
	rows, rejected int64
	warnings       []string
	failed         string
	path           string
}

// corpusDir is the corpus folder, absolute: the embedded S3 server changes
// the working directory once it starts.
var corpusDir = func() string {
	dir, err := filepath.Abs(filepath.Join("testdata", "fidelity"))
	if err != nil {
		panic(err)
	}
	return dir
}()

func loadCorpus(t *testing.T) []*fidelityCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpusDir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cases []*fidelityCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Cases) < 30 {
		t.Fatalf("corpus has %d cases", len(doc.Cases))
	}
	return doc.Cases
}

// corpusFile reads a corpus file, gunzipping a .gz, and writes the plain
// bytes to dir (for the report's DuckDB-alone reading).
func corpusFile(t *testing.T, c *fidelityCase, dir string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(corpusDir, c.File))
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(c.File, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	c.result = &fidelityOutcome{path: filepath.Join(dir, c.UploadName)}
	if err := os.WriteFile(c.result.path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return data
}

// TestFidelityCorpus uploads every file of the corpus through the API,
// converts it with default options (or the case's), and checks the dataset
// against the reference: row counts, rejected lines, warnings, column
// names and types, the preview's names, values (sums, non-ASCII text byte
// for byte, big identifiers exactly) and the column order of query rows.
func TestFidelityCorpus(t *testing.T) {
	cases := loadCorpus(t)
	s := startE2E(t, e2eOptions{})
	u := s.user(t, "user_fidelity", "")
	frames := u.subscribeEvents(t)
	dir := t.TempDir()

	files := map[string]fv1.File{}
	for _, c := range cases {
		data := corpusFile(t, c, dir)
		files[c.Name] = uploadFile(t, u, c.UploadName, c.ContentType, data)
	}
	pending := map[string]bool{}
	for _, f := range files {
		pending[f.ID] = true
	}
	for len(pending) > 0 {
		f := waitFrame(t, frames, func(f sseFrame) bool { return f.event == "file.processed" || f.event == "file.failed" })
		var ev struct {
			FileID string `json:"file_id"`
		}
		if err := json.Unmarshal(f.data, &ev); err != nil {
			t.Fatal(err)
		}
		delete(pending, ev.FileID)
	}

	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) { checkFidelityCase(t, u, c, files[c.Name]) })
	}
	if *fidelityReport != "" {
		writeFidelityReport(t, cases, *fidelityReport)
	}
}

func checkFidelityCase(t *testing.T, u apiUser, c *fidelityCase, f fv1.File) {
	body := map[string]any{"file_id": f.ID, "dataset_name": c.Name}
	for k, v := range c.Options {
		body[k] = v
	}
	r := u.json(t, http.MethodPost, "/datasets/convert", body)
	if c.Fails != nil {
		if r.status != http.StatusUnsupportedMediaType || !strings.Contains(string(r.body), *c.Fails) {
			t.Fatalf("convert: %d %s, want 415 saying %q", r.status, r.body, *c.Fails)
		}
		c.result.failed = *c.Fails
		return
	}
	var d dv1.Dataset
	env := expect(t, r, http.StatusCreated, &d)
	codes := []string{}
	for _, w := range d.Warnings {
		codes = append(codes, w.Code)
	}
	slices.Sort(codes)
	c.result.rows, c.result.warnings = d.RowCount, codes
	if d.RowsRejected != nil {
		c.result.rejected = *d.RowsRejected
	}
	if d.Status != dv1.StatusReady || d.RowCount != c.Rows || d.RowsRead == nil || *d.RowsRead != c.RowsInFile ||
		d.RowsRejected == nil || *d.RowsRejected != int64(len(c.RejectedLines)) {
		t.Fatalf("rows %d read %v rejected %v, want %d of %d with %d rejected (%+v)", d.RowCount, ptrValue(d.RowsRead),
			ptrValue(d.RowsRejected), c.Rows, c.RowsInFile, len(c.RejectedLines), d)
	}
	if !slices.Equal(codes, c.Warnings) {
		t.Errorf("warnings %v, want %v: %+v", codes, c.Warnings, d.Warnings)
	}
	if plain := env.Message == "dataset created"; plain != (len(c.Warnings) == 0) || (!plain && !strings.HasPrefix(env.Message, "dataset created with warnings: ")) {
		t.Errorf("message %q with warnings %v", env.Message, codes)
	}
	var names, types []string
	for _, col := range d.DataSchema {
		names, types = append(names, col.ColumnName), append(types, col.ColumnType)
	}
	if !slices.Equal(names, c.Columns) {
		t.Errorf("columns %q, want %q", names, c.Columns)
	}
	if c.Types != nil && !slices.Equal(types, c.Types) {
		t.Errorf("types %q, want %q", types, c.Types)
	}

	// The preview names the columns as the dataset does (when the layout
	// was left to detection: options given at conversion were not known
	// when the file was uploaded).
	var got fv1.File
	expect(t, u.get(t, "/file/"+f.ID), http.StatusOK, &got)
	_, skip := c.Options["skip_rows"]
	_, header := c.Options["header"]
	if !skip && !header && (got.Preview == nil || !slices.Equal(got.Preview.Columns, names)) {
		t.Errorf("preview columns %v, dataset columns %v", previewColumns(got.Preview), names)
	}

	for _, chk := range c.Checks {
		q := strings.ReplaceAll(chk.SQL, "{t}", c.Name)
		var res dv1.QueryReply
		expect(t, u.json(t, http.MethodPost, "/datasets/query", map[string]any{"query": q}), http.StatusOK, &res)
		if len(res.Data) != 1 {
			t.Errorf("%s: %d rows", q, len(res.Data))
			continue
		}
		if v := res.Data[0].Get("v"); !sameValue(v, chk.Value) {
			t.Errorf("%s = %#v, want %#v", q, v, chk.Value)
		}
	}

	var rj dv1.RejectsReply
	expect(t, u.get(t, "/datasets/"+d.ID+"/rejects?limit=1000"), http.StatusOK, &rj)
	lines := []int64{}
	for _, x := range rj.Rejects {
		lines = append(lines, x.Line)
		if x.Reason == "" || x.Raw == "" {
			t.Errorf("reject %+v lacks a reason or the row", x)
		}
	}
	if rj.Total != int64(len(c.RejectedLines)) || !slices.Equal(lines, c.RejectedLines) {
		t.Errorf("rejected lines %v (total %d), want %v", lines, rj.Total, c.RejectedLines)
	}

	// Rows of a result keep the table's column order.
	var all dv1.QueryReply
	expect(t, u.json(t, http.MethodPost, "/datasets/query", map[string]any{"query": "SELECT * FROM " + c.Name + " LIMIT 1"}), http.StatusOK, &all)
	if len(all.Data) == 1 && !slices.Equal(all.Data[0].Keys(), names) {
		t.Errorf("row keys %v, want %v", all.Data[0].Keys(), names)
	}
}

func ptrValue(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func previewColumns(p *fv1.Preview) []string {
	if p == nil {
		return nil
	}
	return p.Columns
}

// sameValue compares a JSON value of the API with the reference: numbers
// (which exact types send as strings) within 1e-9, texts byte for byte.
func sameValue(got, want any) bool {
	switch w := want.(type) {
	case float64:
		var g float64
		switch v := got.(type) {
		case float64:
			g = v
		case string:
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return false
			}
			g = f
		default:
			return false
		}
		return math.Abs(g-w) <= 1e-9*math.Max(1, math.Abs(w))
	case string:
		g, ok := got.(string)
		return ok && g == w
	case nil:
		return got == nil
	}
	return fmt.Sprint(got) == fmt.Sprint(want)
}

// writeFidelityReport writes the table of the closing note: what the API,
// DuckDB alone (read_csv at its defaults) and pandas (read_csv or
// read_excel at their defaults) make of each file.
func writeFidelityReport(t *testing.T, cases []*fidelityCase, out string) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var b strings.Builder
	b.WriteString("| case | family | rows in file | rows in dataset | rejected | warnings | DuckDB alone | pandas |\n|---|---|---|---|---|---|---|---|\n")
	for _, c := range cases {
		o := c.result
		api := fmt.Sprint(o.rows)
		if o.failed != "" {
			api = "415: " + o.failed
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %d | %s | %s | %s |\n", c.Name, c.Family, c.RowsInFile, api, o.rejected,
			strings.Join(o.warnings, ", "), duckdbAlone(db, c), pandasReading(c))
	}
	if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func duckdbAlone(db *sql.DB, c *fidelityCase) string {
	if strings.HasSuffix(c.UploadName, ".xlsx") {
		return "no reader (excel extension not installable offline)"
	}
	var n int64
	if err := db.QueryRow("SELECT count(*) FROM read_csv(?)", c.result.path).Scan(&n); err != nil {
		msg, _, _ := strings.Cut(err.Error(), "\n")
		return "error: " + strings.ReplaceAll(truncate(msg, 70), "|", "/")
	}
	rows, err := db.Query("SELECT column_name FROM (DESCRIBE SELECT * FROM read_csv(?))", c.result.path)
	if err != nil {
		return fmt.Sprintf("%d rows", n)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		names = append(names, s)
	}
	verdict := "names as reference"
	if !slices.Equal(names, c.Columns) {
		verdict = "names " + strings.Join(names, ",")
	}
	return fmt.Sprintf("%d rows; %s", n, strings.ReplaceAll(truncate(verdict, 60), "|", "/"))
}

func pandasReading(c *fidelityCase) string {
	if e, ok := c.Pandas["error"].(string); ok {
		return "error: " + strings.ReplaceAll(truncate(e, 70), "|", "/")
	}
	rows, _ := c.Pandas["rows"].(float64)
	var names []string
	if cols, ok := c.Pandas["columns"].([]any); ok {
		for _, x := range cols {
			names = append(names, fmt.Sprint(x))
		}
	}
	verdict := "names as reference"
	if !slices.Equal(names, c.Columns) {
		verdict = "names " + strings.Join(names, ",")
	}
	return fmt.Sprintf("%d rows; %s", int(rows), strings.ReplaceAll(truncate(verdict, 60), "|", "/"))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
