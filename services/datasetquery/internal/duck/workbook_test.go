package duck

import (
	"archive/zip"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/metrics"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/nonefinity/backend/services/datasetquery/internal/datasets"
)

// bombWorkbook writes a workbook whose first sheet "Data" is three rows and
// which also holds extra: a zero-filled picture of media bytes, and a
// second sheet "Big" of about bigSheet bytes of XML. It is small on disk.
func bombWorkbook(t *testing.T, media, bigSheet int) string {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", "Data"); err != nil {
		t.Fatal(err)
	}
	for r, row := range [][]any{{"id", "name"}, {1, "a"}, {2, "b"}} {
		if err := f.SetSheetRow("Data", fmt.Sprintf("A%d", r+1), &row); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.NewSheet("Big"); err != nil {
		t.Fatal(err)
	}
	if err := f.SetCellValue("Big", "A1", "x"); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(t.TempDir(), "plain.xlsx")
	if err := f.SaveAs(plain); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(plain)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	path := filepath.Join(t.TempDir(), "bomb.xlsx")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	zw := zip.NewWriter(out)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) { return flate.NewWriter(w, flate.BestSpeed) })
	for _, e := range zr.File {
		if e.Name == "xl/worksheets/sheet2.xml" && bigSheet > 0 {
			w, err := zw.Create(e.Name)
			if err != nil {
				t.Fatal(err)
			}
			writeBigSheet(t, w, bigSheet)
			continue
		}
		raw, err := e.OpenRaw()
		if err != nil {
			t.Fatal(err)
		}
		hdr := e.FileHeader
		w, err := zw.CreateRaw(&hdr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, raw); err != nil {
			t.Fatal(err)
		}
	}
	if media > 0 {
		w, err := zw.Create("xl/media/image1.bin")
		if err != nil {
			t.Fatal(err)
		}
		zeros := make([]byte, 1<<20)
		for n := 0; n < media; n += len(zeros) {
			if _, err := w.Write(zeros); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeBigSheet(t *testing.T, w io.Writer, size int) {
	t.Helper()
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`)
	for r := 1; b.Len() < size; r++ {
		fmt.Fprintf(&b, `<row r="%d"><c r="A%d"><v>%d</v></c></row>`, r, r, r)
		if b.Len() > 1<<20 {
			if _, err := io.WriteString(w, b.String()); err != nil {
				t.Fatal(err)
			}
			size -= b.Len()
			b.Reset()
		}
	}
	b.WriteString(`</sheetData></worksheet>`)
	if _, err := io.WriteString(w, b.String()); err != nil {
		t.Fatal(err)
	}
}

// heapAllocated is the Go heap allocated so far, in bytes.
func heapAllocated() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// Converting one sheet reads only the parts it needs: a 128 MiB picture
// is never inflated into memory, and a 64 MiB second sheet is never
// written to a temporary directory (neither the OS's nor ours).
func TestConvertXLSXReadsOnlyTheSheetsParts(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	osTemp := os.TempDir()
	src := bombWorkbook(t, 128<<20, 64<<20)
	work := t.TempDir()

	before := heapAllocated()
	res, err := ConvertXLSX(context.Background(), Limits{}, src, filepath.Join(work, "out.parquet"), datasets.XLSXOptions{TempDir: work})
	allocated := heapAllocated() - before
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 2 || len(res.Columns) != 2 {
		t.Fatalf("converted %d rows, columns %+v", res.Rows, res.Columns)
	}
	if allocated > 32<<20 {
		t.Fatalf("converting a 3-row sheet allocated %d MiB of Go heap", allocated>>20)
	}
	if left, _ := os.ReadDir(osTemp); len(left) != 0 {
		t.Fatalf("the conversion wrote to the OS temporary directory: %v", left)
	}
	entries, _ := os.ReadDir(work)
	for _, e := range entries {
		if e.Name() != "out.parquet" {
			t.Fatalf("left %s in the work directory", e.Name())
		}
	}
}

// The parts a sheet needs are checked against MaxUncompressed before
// anything is inflated.
func TestConvertXLSXRefusesPartsOverTheLimit(t *testing.T) {
	src := bombWorkbook(t, 0, 8<<20)
	work := t.TempDir()
	_, err := ConvertXLSX(context.Background(), Limits{}, src, filepath.Join(work, "out.parquet"),
		datasets.XLSXOptions{Sheet: "Big", TempDir: work, MaxUncompressed: 4 << 20})
	var ie *datasets.InputError
	if !errors.As(err, &ie) || !strings.Contains(ie.Message, "over the limit of 4194304 bytes") {
		t.Fatalf("err = %v, want an InputError naming the limit", err)
	}
	// The first sheet's parts are within it.
	if _, err := ConvertXLSX(context.Background(), Limits{}, src, filepath.Join(work, "out.parquet"),
		datasets.XLSXOptions{TempDir: work, MaxUncompressed: 4 << 20}); err != nil {
		t.Fatalf("the small sheet: %v", err)
	}
}

// A sheet wider than MaxColumns is refused.
func TestConvertXLSXRefusesTooManyColumns(t *testing.T) {
	f := excelize.NewFile()
	defer f.Close()
	row := make([]any, 300)
	for i := range row {
		row[i] = fmt.Sprintf("c%d", i)
	}
	if err := f.SetSheetRow("Sheet1", "A1", &row); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "wide.xlsx")
	if err := f.SaveAs(src); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	_, err := ConvertXLSX(context.Background(), Limits{}, src, filepath.Join(work, "out.parquet"), datasets.XLSXOptions{TempDir: work, MaxColumns: 256})
	var ie *datasets.InputError
	if !errors.As(err, &ie) || !strings.Contains(ie.Message, "at most 256") {
		t.Fatalf("err = %v, want an InputError naming the column limit", err)
	}
}
