package app_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	fv1 "github.com/nonefinity/backend/contracts/filev1"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/datasetquery/internal/datasets"
	"github.com/nonefinity/backend/services/datasetquery/internal/duck"
	"github.com/nonefinity/backend/services/datasetquery/salesbench"
)

const xlsxType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

// salesWorkbook is a two-sheet workbook: "Sales" (dates with the built-in
// format 14, date-times with a custom format, booleans, a code column that
// turns from numbers to text, floats) and "Stock" (an empty and a repeated
// header name).
func salesWorkbook(t *testing.T) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", "Sales"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.NewSheet("Stock"); err != nil {
		t.Fatal(err)
	}
	dateStyle, err := f.NewStyle(&excelize.Style{NumFmt: 14})
	if err != nil {
		t.Fatal(err)
	}
	stampFmt := "yyyy-mm-dd hh:mm"
	stampStyle, err := f.NewStyle(&excelize.Style{CustomNumFmt: &stampFmt})
	if err != nil {
		t.Fatal(err)
	}
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	sales := [][]any{
		{"id", "item", "sold_on", "code", "sold_at", "paid", "price"},
		{1, "book", day(2024, 1, 2), 10, time.Date(2024, 1, 2, 10, 30, 0, 0, time.UTC), true, 12.5},
		{2, "toy", day(2023, 12, 31), 20, time.Date(2023, 12, 31, 23, 59, 0, 0, time.UTC), false, 7},
		{3, "pen", day(2024, 2, 29), "X-30", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), true, 0.25},
	}
	for r, row := range sales {
		cell, _ := excelize.CoordinatesToCellName(1, r+1)
		if err := f.SetSheetRow("Sales", cell, &row); err != nil {
			t.Fatal(err)
		}
		if r == 0 {
			continue
		}
		if err := f.SetCellStyle("Sales", fmt.Sprintf("C%d", r+1), fmt.Sprintf("C%d", r+1), dateStyle); err != nil {
			t.Fatal(err)
		}
		if err := f.SetCellStyle("Sales", fmt.Sprintf("E%d", r+1), fmt.Sprintf("E%d", r+1), stampStyle); err != nil {
			t.Fatal(err)
		}
	}
	stock := [][]any{
		{"sku", "qty", nil, "SKU"},
		{"A-1", 5, "left", "a"},
		{"B-2", 7, "right", "b"},
	}
	for r, row := range stock {
		cell, _ := excelize.CoordinatesToCellName(1, r+1)
		if err := f.SetSheetRow("Stock", cell, &row); err != nil {
			t.Fatal(err)
		}
	}
	buf, err := f.WriteToBuffer()
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestConvertXLSX(t *testing.T) {
	e := start(t)
	fs := startFileService(t, e)
	book := salesWorkbook(t)
	fid := fs.add(t, alice, "sales.xlsx", xlsxType, book, nil)

	// Default: the first sheet, header detected, types inferred over all
	// rows; the code column mixes numbers and text so it is text, and
	// keeps every row.
	d := convert(t, e, alice, fid, "sales", dv1.ConvertOptions{})
	if want := "id:bigint,item:string,sold_on:date,code:string,sold_at:timestamp,paid:boolean,price:double"; d.RowCount != 3 || types(d) != want {
		t.Fatalf("sales %+v (%s)", d, types(d))
	}
	row := queryOne(t, e, alice, `SELECT count(*) AS n,
		count(*) FILTER (WHERE sold_on = DATE '2024-02-29') AS leap,
		count(*) FILTER (WHERE sold_on < DATE '2024-01-01') AS last_year,
		count(*) FILTER (WHERE sold_at = TIMESTAMP '2024-01-02 10:30:00') AS stamp,
		string_agg(code, '|' ORDER BY id) AS codes,
		count(*) FILTER (WHERE paid) AS paid,
		sum(price) AS total
		FROM sales`)
	if row["n"] != float64(3) || row["leap"] != float64(1) || row["last_year"] != float64(1) || row["stamp"] != float64(1) ||
		row["codes"] != "10|20|X-30" || row["paid"] != float64(2) || row["total"] != 19.75 {
		t.Fatalf("sales rows %+v", row)
	}
	if row := queryOne(t, e, alice, "SELECT CAST(sold_on AS VARCHAR) AS d, CAST(sold_at AS VARCHAR) AS ts FROM sales WHERE id = 2"); row["d"] != "2023-12-31" || row["ts"] != "2023-12-31 23:59:00" {
		t.Fatalf("dates %+v", row)
	}

	// The second sheet by name: its rows, empty and repeated header names
	// made unique.
	d = convert(t, e, alice, fid, "stock", dv1.ConvertOptions{Sheet: "Stock"})
	if d.RowCount != 2 || types(d) != "sku:string,qty:bigint,column_3:string,SKU_2:string" {
		t.Fatalf("stock %+v (%s)", d, types(d))
	}
	if row := queryOne(t, e, alice, "SELECT CAST(sum(qty) AS BIGINT) AS q, string_agg(column_3 || SKU_2, ',' ORDER BY sku) AS rest FROM stock"); row["q"] != float64(12) || row["rest"] != "lefta,rightb" {
		t.Fatalf("stock rows %+v", row)
	}

	// header=false: the header row is data, so qty widens to text and no
	// row is lost.
	d = convert(t, e, alice, fid, "stock_raw", dv1.ConvertOptions{Sheet: "Stock", Header: ptr(false)})
	if d.RowCount != 3 || types(d) != "column_1:string,column_2:string,column_3:string,column_4:string" {
		t.Fatalf("stock without header %+v (%s)", d, types(d))
	}

	// 422 naming an unknown sheet: found by the job, or up front when the
	// preview lists the sheets.
	_, err := e.ds.Convert(as(alice), dv1.ConvertRequest{FileID: fid, DatasetName: "nope", ConvertOptions: dv1.ConvertOptions{Sheet: "Nope"}})
	testkit.WantCode(t, err, rpcerr.Validation)
	if !strings.Contains(err.Error(), `"Nope"`) {
		t.Fatalf("unknown sheet %v", err)
	}
	listed := fs.add(t, alice, "listed.xlsx", xlsxType, book, &fv1.Preview{Sheets: []string{"Sales", "Stock"}, Sheet: "Sales"})
	_, err = e.ds.Convert(as(alice), dv1.ConvertRequest{FileID: listed, DatasetName: "nope2", ConvertOptions: dv1.ConvertOptions{Sheet: "Nope"}})
	testkit.WantCode(t, err, rpcerr.Validation)
	if re, _ := rpcerr.As(err); re.Field != "sheet" || !strings.Contains(err.Error(), `"Nope"`) {
		t.Fatalf("unknown listed sheet %v", err)
	}

	// A file that only claims to be a workbook fails the conversion.
	fake := fs.add(t, alice, "fake.xlsx", xlsxType, []byte("id,name\n1,a\n"), nil)
	_, err = e.ds.Convert(as(alice), dv1.ConvertRequest{FileID: fake, DatasetName: "fake"})
	testkit.WantCode(t, err, rpcerr.Validation)
	if !strings.Contains(err.Error(), "not a readable XLSX") {
		t.Fatalf("fake workbook %v", err)
	}
}

// BenchmarkConvertXLSX100k converts a 100,000-row, 4-column sheet (a)
// through the convert operation (NATS, file service, download, excelize,
// DuckDB, upload, MongoDB) and (b) with the conversion step alone on a
// local file, and reports rows/s.
func BenchmarkConvertXLSX100k(b *testing.B) {
	const rows = 100_000
	const wantTypes = "id:bigint,category:string,amount:double,sold_at:timestamp"
	data, err := salesbench.XLSX(rows)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("api", func(b *testing.B) {
		e := start(b)
		fs := startFileService(b, e)
		fid := fs.add(b, alice, "sales.xlsx", xlsxType, data, nil)
		b.SetBytes(int64(len(data)))
		b.ResetTimer()
		n := 0
		for b.Loop() {
			ctx, cancel := context.WithTimeout(as(alice), 5*time.Minute)
			r, err := e.ds.Convert(ctx, dv1.ConvertRequest{FileID: fid, DatasetName: fmt.Sprintf("sales_%d", n)})
			cancel()
			if err != nil || r.Dataset == nil || r.Dataset.RowCount != rows || types(*r.Dataset) != wantTypes {
				b.Fatalf("convert %v %+v", err, r)
			}
			n++
		}
		b.ReportMetric(float64(rows*n)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("convert", func(b *testing.B) {
		dir := b.TempDir()
		src := filepath.Join(dir, "sales.xlsx")
		if err := os.WriteFile(src, data, 0o600); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(data)))
		b.ResetTimer()
		n := 0
		for b.Loop() {
			res, err := duck.ConvertXLSX(context.Background(), duck.Limits{}, src, filepath.Join(dir, "out.parquet"), datasets.XLSXOptions{})
			if err != nil || res.Rows != rows || len(res.Columns) != 4 || res.Columns[3].Type != "TIMESTAMP" {
				b.Fatalf("convert %v %+v", err, res)
			}
			n++
		}
		b.ReportMetric(float64(rows*n)/b.Elapsed().Seconds(), "rows/s")
	})
}

// workbook is a one-sheet workbook of rows; time values get the built-in
// date format, as a spreadsheet user's dates would.
func workbook(t *testing.T, rows [][]any) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	dateStyle, err := f.NewStyle(&excelize.Style{NumFmt: 14})
	if err != nil {
		t.Fatal(err)
	}
	for r, row := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, r+1)
		if err := f.SetSheetRow("Sheet1", cell, &row); err != nil {
			t.Fatal(err)
		}
		for c, v := range row {
			if _, ok := v.(time.Time); ok {
				cell, _ := excelize.CoordinatesToCellName(c+1, r+1)
				if err := f.SetCellStyle("Sheet1", cell, cell, dateStyle); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	buf, err := f.WriteToBuffer()
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestInsertFromXLSX appends a workbook's first sheet to a dataset: columns
// matched by name case-insensitively and in any order, dates from their
// number format, extra columns ignored; a value that does not cast is a
// 422 naming the column and nothing of that file becomes visible.
func TestInsertFromXLSX(t *testing.T) {
	e := start(t)
	fs := startFileService(t, e)
	base := fs.add(t, alice, "base", "text/csv", []byte("id,item,sold_on,price\n1,book,2024-01-02,12.5\n"), csvPreview(",", "id", "item", "sold_on", "price"))
	d := convert(t, e, alice, base, "sales", dv1.ConvertOptions{})
	if types(d) != "id:bigint,item:string,sold_on:date,price:double" {
		t.Fatalf("base dataset %s", types(d))
	}
	day := func(y int, m time.Month, dd int) time.Time { return time.Date(y, m, dd, 0, 0, 0, 0, time.UTC) }
	more := fs.add(t, alice, "more.xlsx", xlsxType, workbook(t, [][]any{
		{"PRICE", "Sold_On", "note", "ID", "Item"},
		{7, day(2023, 12, 31), "x", 2, "toy"},
		{0.25, day(2024, 2, 29), "y", 3, "pen"},
	}), nil)
	ins, err := e.ds.Insert(as(alice), dv1.InsertRequest{ID: d.ID, FileID: more})
	if err != nil || ins.InsertedRows != 2 {
		t.Fatalf("insert %v %+v", err, ins)
	}
	row := queryOne(t, e, alice, `SELECT count(*) AS n, sum(price) AS total,
		string_agg(item || '@' || CAST(sold_on AS VARCHAR), ',' ORDER BY id) AS rows FROM sales`)
	if row["n"] != float64(3) || row["total"] != 19.75 || row["rows"] != "book@2024-01-02,toy@2023-12-31,pen@2024-02-29" {
		t.Fatalf("after insert %+v", row)
	}

	bad := fs.add(t, alice, "bad.xlsx", xlsxType, workbook(t, [][]any{
		{"id", "item", "sold_on", "price"},
		{4, "cup", day(2024, 3, 1), 3},
		{5, "mug", "soon", 4},
	}), nil)
	_, err = e.ds.Insert(as(alice), dv1.InsertRequest{ID: d.ID, FileID: bad})
	testkit.WantCode(t, err, rpcerr.Validation)
	if re, _ := rpcerr.As(err); re.Field != "sold_on" {
		t.Fatalf("uncastable column error names %q: %v", re.Field, err)
	}
	if row := queryOne(t, e, alice, "SELECT count(*) AS n FROM sales"); row["n"] != float64(3) {
		t.Fatalf("a failed insert became visible: %+v", row)
	}
}
