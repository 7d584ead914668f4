package app_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/testkit"
)

// reportWorkbook is a sheet as people make them: a title and a note above
// the header in row 4, a numeric column with "n/a" typed as text, elapsed
// times past 24 hours ([h]:mm:ss) and times of day.
func reportWorkbook(t *testing.T) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	elapsed := "[h]:mm:ss"
	elapsedStyle, err := f.NewStyle(&excelize.Style{CustomNumFmt: &elapsed})
	if err != nil {
		t.Fatal(err)
	}
	clock := "hh:mm"
	clockStyle, err := f.NewStyle(&excelize.Style{CustomNumFmt: &clock})
	if err != nil {
		t.Fatal(err)
	}
	rows := [][]any{
		{"Build times, week 12"},
		{"source: CI export"},
		{nil},
		{"job", "minutes", "took", "started"},
		{"lint", 3.5, 1.5, 0.25},
		{"test", "n/a", 0.75, 0.5},
		{"deploy", 12, 4.177430555555556, 0.9993055555555556},
	}
	for r, row := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, r+1)
		if err := f.SetSheetRow("Sheet1", cell, &row); err != nil {
			t.Fatal(err)
		}
	}
	for r := 5; r <= 7; r++ {
		if err := f.SetCellStyle("Sheet1", fmt.Sprintf("C%d", r), fmt.Sprintf("C%d", r), elapsedStyle); err != nil {
			t.Fatal(err)
		}
		if err := f.SetCellStyle("Sheet1", fmt.Sprintf("D%d", r), fmt.Sprintf("D%d", r), clockStyle); err != nil {
			t.Fatal(err)
		}
	}
	buf, err := f.WriteToBuffer()
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestConvertXLSXLayoutAndTypes(t *testing.T) {
	e := start(t)
	fs := startFileService(t, e)
	fid := fs.add(t, alice, "builds", xlsxType, reportWorkbook(t), nil)

	// Detected: the header is row 4, below the title rows.
	d := convert(t, e, alice, fid, "builds", dv1.ConvertOptions{})
	if types(d) != "job:string,minutes:double,took:interval,started:time" || d.RowCount != 3 || d.Source == nil ||
		d.Source.HeaderRow != 4 || d.Source.SkipRows != 3 || !slices.Equal(d.Source.Preamble, []string{"Build times, week 12", "source: CI export"}) {
		t.Fatalf("detected layout %s %+v %+v", types(d), d, d.Source)
	}
	reading := map[string]dv1.ColumnReading{}
	for _, c := range d.Source.Columns {
		reading[c.Column] = c
	}
	if !slices.Equal(reading["minutes"].NullTokens, []string{"n/a"}) || !reading["took"].Duration {
		t.Fatalf("column readings %+v", d.Source.Columns)
	}
	row := queryOne(t, e, alice, `SELECT CAST(took AS VARCHAR) AS took, CAST(started AS VARCHAR) AS started, (SELECT count(*) FROM builds) AS n,
		(SELECT count(*) FROM builds WHERE minutes IS NULL) AS missing FROM builds WHERE job = 'deploy'`)
	if row["took"] != "100:15:30" || row["started"] != "23:59:00" || row["n"] != float64(3) || row["missing"] != float64(1) {
		t.Fatalf("values %+v", row)
	}
	// The query result shows the interval as the sheet does.
	if row := queryOne(t, e, alice, "SELECT took FROM builds WHERE job = 'lint'"); row["took"] != "36:00:00" {
		t.Fatalf("interval in a result %+v", row)
	}

	// header_row names the row; skip_rows with header=false takes the
	// rows below as data.
	d = convert(t, e, alice, fid, "builds_row4", dv1.ConvertOptions{HeaderRow: ptr(4)})
	if types(d) != "job:string,minutes:double,took:interval,started:time" || d.RowCount != 3 {
		t.Fatalf("header_row %s %+v", types(d), d)
	}
	d = convert(t, e, alice, fid, "builds_raw", dv1.ConvertOptions{SkipRows: ptr(4), Header: ptr(false)})
	if d.RowCount != 3 || d.DataSchema[0].ColumnName != "column_1" {
		t.Fatalf("skip_rows %s %+v", types(d), d)
	}
	_, err := e.ds.Convert(as(alice), dv1.ConvertRequest{FileID: fid, DatasetName: "bad_opts", ConvertOptions: dv1.ConvertOptions{HeaderRow: ptr(0)}})
	testkit.WantCode(t, err, rpcerr.Validation)
	_, err = e.ds.Convert(as(alice), dv1.ConvertRequest{FileID: fid, DatasetName: "bad_opts", ConvertOptions: dv1.ConvertOptions{HeaderRow: ptr(2), SkipRows: ptr(1)}})
	testkit.WantCode(t, err, rpcerr.Validation)
}

// An insert takes every value exactly or refuses the file: DuckDB's own
// casts would round 1.5 into a BIGINT column and drop the time of a
// timestamp read into a DATE.
func TestInsertRefusesLossyCasts(t *testing.T) {
	e := start(t)
	fs := startFileService(t, e)
	fid := fs.add(t, alice, "base", "text/csv", []byte("id,day,price\n1,2024-01-02,1.25\n"), nil)
	d := convert(t, e, alice, fid, "base", dv1.ConvertOptions{})
	if types(d) != "id:bigint,day:date,price:double" {
		t.Fatalf("base %s", types(d))
	}
	for name, body := range map[string]string{
		"id":  "id,day,price\n2.5,2024-01-03,1\n",
		"day": "id,day,price\n2,2024-01-03 10:00:00,1\n",
	} {
		bad := fs.add(t, alice, "bad_"+name, "text/csv", []byte(body), nil)
		_, err := e.ds.Insert(as(alice), dv1.InsertRequest{ID: d.ID, FileID: bad})
		testkit.WantCode(t, err, rpcerr.Validation)
		if re, ok := rpcerr.As(err); !ok || re.Field != name {
			t.Fatalf("%s: %v", name, err)
		}
	}
	// A row the file cannot fit into the table refuses the whole insert,
	// here found only when DuckDB reads the file (it has no quotes, so it
	// is not scanned record by record), and a file of a header alone
	// inserts nothing.
	ragged := fs.add(t, alice, "ragged", "text/csv", []byte("id,day,price\n2,2024-01-03,1\n3,2024-01-04,2,extra\n4,2024-01-05,3\n"), nil)
	_, err := e.ds.Insert(as(alice), dv1.InsertRequest{ID: d.ID, FileID: ragged})
	testkit.WantCode(t, err, rpcerr.Validation)
	if !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("ragged insert: %v", err)
	}
	empty := fs.add(t, alice, "empty", "text/csv", []byte("id,day,price\n"), nil)
	if r, err := e.ds.Insert(as(alice), dv1.InsertRequest{ID: d.ID, FileID: empty}); err != nil || r.InsertedRows != 0 {
		t.Fatalf("header-only insert %v %+v", err, r)
	}
	good := fs.add(t, alice, "good", "text/csv", []byte("price,id,day\n2,2,2024-01-03\n,3,2024-01-04 00:00:00\n"), nil)
	if r, err := e.ds.Insert(as(alice), dv1.InsertRequest{ID: d.ID, FileID: good}); err != nil || r.InsertedRows != 2 {
		t.Fatalf("insert %v %+v", err, r)
	}
	if row := queryOne(t, e, alice, "SELECT count(*) AS n, sum(id) AS s FROM base"); row["n"] != float64(3) || row["s"] != "6" {
		t.Fatalf("after insert %+v", row)
	}
}
