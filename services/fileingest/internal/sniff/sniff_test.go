package sniff_test

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"
	xunicode "golang.org/x/text/encoding/unicode"

	"github.com/nonefinity/backend/services/fileingest/internal/sniff"
)

func inspect(t *testing.T, content []byte, h sniff.Hints, lim sniff.Limits) sniff.Result {
	t.Helper()
	if lim.TempDir == "" {
		lim.TempDir = t.TempDir()
	}
	res, err := sniff.Inspect(context.Background(), bytes.NewReader(content), h, lim)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	sum := sha256.Sum256(content)
	if res.SHA256 != hex.EncodeToString(sum[:]) || res.Size != int64(len(content)) {
		t.Fatalf("hash/size = %s/%d, want %x/%d", res.SHA256, res.Size, sum, len(content))
	}
	return res
}

var csvHints = sniff.Hints{Ext: ".csv", DeclaredType: "text/csv"}

func TestCSVUTF8WithHeader(t *testing.T) {
	content := []byte("id,name,amount\n1,alice,10.5\n2,\"bob, jr\",20\n")
	res := inspect(t, content, csvHints, sniff.Limits{})
	want := &sniff.Preview{
		Columns: []string{"id", "name", "amount"}, Encoding: "utf-8", Delimiter: ",", HasHeader: true,
		Rows: [][]string{{"1", "alice", "10.5"}, {"2", "bob, jr", "20"}},
	}
	if res.DetectedType != "text/csv" || res.Confident || !res.Text || res.Problem != "" {
		t.Fatalf("result = %+v", res)
	}
	if !reflect.DeepEqual(res.Preview, want) {
		t.Fatalf("preview = %+v\nwant %+v", res.Preview, want)
	}
}

func TestCSVUTF8BOMWithoutHeader(t *testing.T) {
	content := append([]byte{0xEF, 0xBB, 0xBF}, "1|x|3\n4|y|6\n"...)
	res := inspect(t, content, csvHints, sniff.Limits{})
	p := res.Preview
	if p == nil || p.Encoding != "utf-8-sig" || p.Delimiter != "|" || p.HasHeader {
		t.Fatalf("preview = %+v", p)
	}
	if !reflect.DeepEqual(p.Columns, []string{"column_1", "column_2", "column_3"}) || len(p.Rows) != 2 || p.Rows[0][0] != "1" {
		t.Fatalf("preview = %+v", p)
	}
}

func TestCSVUTF16WithBOM(t *testing.T) {
	text := "städt\tzahl\nMünchen\t1\nKöln\t2\n"
	for _, tc := range []struct {
		enc  string
		code xunicode.Endianness
	}{{"utf-16le", xunicode.LittleEndian}, {"utf-16be", xunicode.BigEndian}} {
		t.Run(tc.enc, func(t *testing.T) {
			content, err := xunicode.UTF16(tc.code, xunicode.UseBOM).NewEncoder().Bytes([]byte(text))
			if err != nil {
				t.Fatal(err)
			}
			res := inspect(t, content, csvHints, sniff.Limits{})
			want := &sniff.Preview{
				Columns: []string{"städt", "zahl"}, Encoding: tc.enc, Delimiter: "\t", HasHeader: true,
				Rows: [][]string{{"München", "1"}, {"Köln", "2"}},
			}
			if !reflect.DeepEqual(res.Preview, want) {
				t.Fatalf("preview = %+v\nwant %+v", res.Preview, want)
			}
		})
	}
}

func TestCSVWindows1252Semicolons(t *testing.T) {
	content, err := charmap.Windows1252.NewEncoder().Bytes([]byte("id;city;amount\n1;Zürich;12,50\n2;Köln;\n3;Besançon;€ 4\n"))
	if err != nil {
		t.Fatal(err)
	}
	res := inspect(t, content, csvHints, sniff.Limits{})
	want := &sniff.Preview{
		Columns: []string{"id", "city", "amount"}, Encoding: "windows-1252", Delimiter: ";", HasHeader: true,
		Rows: [][]string{{"1", "Zürich", "12,50"}, {"2", "Köln", ""}, {"3", "Besançon", "€ 4"}},
	}
	if !reflect.DeepEqual(res.Preview, want) {
		t.Fatalf("preview = %+v\nwant %+v", res.Preview, want)
	}
}

// A head cut in the middle of a line, and of a multi-byte character, still
// previews the complete lines.
func TestCSVLongerThanHead(t *testing.T) {
	var b strings.Builder
	b.WriteString("n,word\n")
	for i := range 5000 {
		fmt.Fprintf(&b, "%d,größe\n", i)
	}
	content := []byte(b.String())
	res := inspect(t, content, csvHints, sniff.Limits{HeadBytes: 4099})
	p := res.Preview
	if p == nil || p.Encoding != "utf-8" || len(p.Rows) != 20 || p.Rows[19][0] != "19" || p.Rows[19][1] != "größe" {
		t.Fatalf("preview = %+v", p)
	}
}

func TestPreviewCaps(t *testing.T) {
	var b strings.Builder
	for i := range 30 {
		fmt.Fprintf(&b, "c%d,", i)
	}
	b.WriteString("last\n")
	b.WriteString(strings.Repeat("x", 1000) + strings.Repeat(",1", 30) + "\n")
	res := inspect(t, []byte(b.String()), csvHints, sniff.Limits{MaxColumns: 10, MaxCellRunes: 8})
	p := res.Preview
	if len(p.Columns) != 10 || len(p.Rows) != 1 || len(p.Rows[0]) != 10 || p.Rows[0][0] != "xxxxxxxx" {
		t.Fatalf("preview = %+v", p)
	}
}

// 500 columns of 40 characters that JSON escapes to six bytes make a
// preview of 2.5 MB (of 15 MB with 256-character cells): more than the
// file's answers and events may carry in one NATS message. Rows are
// dropped until it fits, all columns stay; a header too large on its own
// keeps the columns that fit.
func TestPreviewFitsItsByteBudget(t *testing.T) {
	var b strings.Builder
	for i := range 500 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "c%d", i)
	}
	b.WriteByte('\n')
	cell := strings.Repeat("<", 40)
	for range 21 {
		b.WriteString(strings.TrimSuffix(strings.Repeat(cell+",", 500), ","))
		b.WriteByte('\n')
	}
	res := inspect(t, []byte(b.String()), csvHints, sniff.Limits{HeadBytes: 4 << 20})
	p := res.Preview
	if p == nil || len(p.Columns) != 500 || len(p.Rows) == 0 || len(p.Rows) >= 20 || len(p.Rows[0]) != 500 {
		t.Fatalf("preview of %d columns, %d rows: %v", len(p.Columns), len(p.Rows), res.Problem)
	}
	if size := previewJSON(t, p); size > sniff.DefaultLimits.MaxPreviewBytes {
		t.Fatalf("preview is %d bytes of JSON, over %d", size, sniff.DefaultLimits.MaxPreviewBytes)
	}

	res = inspect(t, []byte(b.String()), csvHints, sniff.Limits{HeadBytes: 4 << 20, MaxPreviewBytes: 1000})
	if p := res.Preview; p == nil || len(p.Columns) == 0 || len(p.Columns) >= 500 || len(p.Rows) != 0 || previewJSON(t, p) > 1000 {
		t.Fatalf("preview under a 1000-byte budget: %+v", res.Preview)
	}
}

// previewJSON is the size of a preview's columns and rows as JSON arrays.
func previewJSON(t *testing.T, p *sniff.Preview) int {
	t.Helper()
	cols, err := json.Marshal(p.Columns)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := json.Marshal(p.Rows)
	if err != nil {
		t.Fatal(err)
	}
	return len(cols) + len(rows)
}

func pngBytes(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestMislabeledPNG(t *testing.T) {
	res := inspect(t, pngBytes(t), csvHints, sniff.Limits{})
	if res.DetectedType != "image/png" || !res.Confident || res.Text || res.Preview != nil || res.Problem != "" {
		t.Fatalf("result = %+v", res)
	}
}

func TestBinaryLabelledCSVIsNotText(t *testing.T) {
	content := []byte{0x01, 0x02, 0x03, 0x00, 0xff, 0x10, 'a', ',', 'b'}
	res := inspect(t, content, csvHints, sniff.Limits{})
	if res.DetectedType != "application/octet-stream" || res.Text || res.Preview != nil {
		t.Fatalf("result = %+v", res)
	}
}

func TestEmptyFile(t *testing.T) {
	res := inspect(t, nil, csvHints, sniff.Limits{})
	if res.Problem != "the file is empty" || res.Size != 0 {
		t.Fatalf("result = %+v", res)
	}
}

func TestOtherTypes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content []byte
		hints   sniff.Hints
		want    string
		text    bool
	}{
		{"pdf", []byte("%PDF-1.7\n%âãÏÓ\n1 0 obj\n"), sniff.Hints{Ext: ".pdf"}, "application/pdf", false},
		{"json", []byte(`{"a": 1}`), sniff.Hints{Ext: ".json"}, "application/json", true},
		{"plain", []byte("hello world\n"), sniff.Hints{Ext: ".txt"}, "text/plain", true},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), sniff.Hints{Ext: ".gif"}, "image/gif", false},
		{"jpeg", []byte("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00"), sniff.Hints{Ext: ".jpg"}, "image/jpeg", false},
		{"xls", []byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\x00\x00"), sniff.Hints{Ext: ".xls"}, "application/vnd.ms-excel", false},
		{"docx", zipOf(t, map[string]string{"word/document.xml": "<w/>"}), sniff.Hints{Ext: ".docx"}, sniff.TypeDOCX, false},
		{"zip", zipOf(t, map[string]string{"a.txt": "a"}), sniff.Hints{Ext: ".zip"}, "application/zip", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := inspect(t, tc.content, tc.hints, sniff.Limits{})
			if res.DetectedType != tc.want || res.Text != tc.text || res.Problem != "" {
				t.Fatalf("result = %+v, want type %s", res, tc.want)
			}
		})
	}
}

func zipOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TwoSheetWorkbook builds an XLSX with a "Summary" and a "Raw" sheet; the
// first has a picture-free header row and three rows of data.
func twoSheetWorkbook(t *testing.T, extraRows int) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", "Summary"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.NewSheet("Raw"); err != nil {
		t.Fatal(err)
	}
	rows := [][]any{{"region", "q1", "q2"}, {"EU", 10, 11.5}, {"US", 20, 21}, {"APAC", 30, "n/a"}}
	for i := range extraRows {
		rows = append(rows, []any{fmt.Sprintf("r%d-%s", i, strings.Repeat("z", 40)), i, i * 2})
	}
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Summary", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.SetCellValue("Raw", "A1", "other sheet"); err != nil {
		t.Fatal(err)
	}
	buf, err := f.WriteToBuffer()
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestXLSXTwoSheets(t *testing.T) {
	content := twoSheetWorkbook(t, 0)
	// Labelled CSV on purpose: the bytes decide.
	res := inspect(t, content, sniff.Hints{Ext: ".xlsx"}, sniff.Limits{})
	want := &sniff.Preview{
		Columns: []string{"region", "q1", "q2"}, HasHeader: true,
		Rows:   [][]string{{"EU", "10", "11.5"}, {"US", "20", "21"}, {"APAC", "30", "n/a"}},
		Sheets: []string{"Summary", "Raw"}, Sheet: "Summary",
	}
	if res.DetectedType != sniff.TypeXLSX || !res.Confident || res.Problem != "" {
		t.Fatalf("result = %+v", res)
	}
	if !reflect.DeepEqual(res.Preview, want) {
		t.Fatalf("preview = %+v\nwant %+v", res.Preview, want)
	}
}

// A workbook larger than the head goes through the temporary file.
func TestXLSXSpooled(t *testing.T) {
	content := twoSheetWorkbook(t, 3000)
	dir := t.TempDir()
	res := inspect(t, content, sniff.Hints{Ext: ".xlsx"}, sniff.Limits{HeadBytes: 4096, TempDir: dir})
	p := res.Preview
	if res.Problem != "" || p == nil || len(p.Rows) != 20 || p.Sheet != "Summary" || p.Rows[19][1] != "16" {
		t.Fatalf("result = %+v, preview %+v", res, p)
	}
	assertDirEmpty(t, dir)

	// Past the spool cap the type is still named, but not opened.
	res = inspect(t, content, sniff.Hints{Ext: ".xlsx"}, sniff.Limits{HeadBytes: 4096, MaxSpoolBytes: 8192, TempDir: dir})
	if res.DetectedType != sniff.TypeXLSX || res.Problem != "xlsx: file over 8 KiB cannot be inspected" {
		t.Fatalf("over the spool cap: %+v", res)
	}
	assertDirEmpty(t, dir)
}

// A sheet that expands far beyond the uncompressed cap fails before it is
// inflated; one whose header lies about its size fails while inflating.
func TestXLSXZipBomb(t *testing.T) {
	dir := t.TempDir()
	bomb := bombWorkbook(t, 24<<20, false)
	res := inspect(t, bomb, sniff.Hints{Ext: ".xlsx"}, sniff.Limits{HeadBytes: 4096, MaxUncompressed: 8 << 20, TempDir: dir})
	if res.DetectedType != sniff.TypeXLSX || res.Problem != "xlsx: the workbook expands to more than 8 MiB uncompressed" || res.Preview != nil {
		t.Fatalf("honest bomb: %+v", res)
	}
	assertDirEmpty(t, dir)

	liar := bombWorkbook(t, 24<<20, true)
	res = inspect(t, liar, sniff.Hints{Ext: ".xlsx"}, sniff.Limits{HeadBytes: 4096, MaxUncompressed: 8 << 20, TempDir: dir})
	if res.DetectedType != sniff.TypeXLSX || res.Problem != "xlsx: part xl/worksheets/sheet1.xml is corrupt or larger than it declares" || res.Preview != nil {
		t.Fatalf("lying bomb: %+v", res)
	}
	assertDirEmpty(t, dir)
}

// Every entry counts, not only the parts a preview reads: a workbook whose
// sheet is tiny but whose xl/media/*.bin is zero-filled past the limit
// fails, so it never becomes convertible; the same workbook with a picture
// within the limit is previewed.
func TestXLSXMediaBomb(t *testing.T) {
	const limit = 1 << 20
	dir := t.TempDir()
	lim := sniff.Limits{HeadBytes: 4096, MaxUncompressed: limit, TempDir: dir}
	book := twoSheetWorkbook(t, 0)
	bomb := withZeroEntry(t, book, "xl/media/image1.bin", 3*limit)
	if len(bomb) > 64<<10 {
		t.Fatalf("the bomb should deflate small, it has %d bytes", len(bomb))
	}
	res := inspect(t, bomb, sniff.Hints{Ext: ".xlsx"}, lim)
	if res.DetectedType != sniff.TypeXLSX || res.Problem != "xlsx: the workbook expands to more than 1 MiB uncompressed" || res.Preview != nil {
		t.Fatalf("media bomb: %+v", res)
	}
	assertDirEmpty(t, dir)

	fine := withZeroEntry(t, book, "xl/media/image1.bin", limit/2)
	res = inspect(t, fine, sniff.Hints{Ext: ".xlsx"}, lim)
	if res.Problem != "" || res.Preview == nil || res.Preview.Sheet != "Summary" {
		t.Fatalf("workbook with a picture within the limit: %+v", res)
	}
}

// withZeroEntry copies a zip and adds an entry of size zero bytes.
func withZeroEntry(t *testing.T, archive []byte, name string, size int) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		if err := zw.Copy(f); err != nil {
			t.Fatal(err)
		}
	}
	w, err := zw.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, size)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bombWorkbook is a valid workbook whose only sheet holds size bytes of
// repeated rows, deflated to a few hundred KiB. With lie its header claims
// 1 KiB.
func bombWorkbook(t *testing.T, size int, lie bool) []byte {
	t.Helper()
	parts := map[string]string{
		"[Content_Types].xml": `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
			`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>` +
			`<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>` +
			`<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>`,
		"_rels/.rels": `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`,
		"xl/workbook.xml": `<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">` +
			`<sheets><sheet name="Bomb" sheetId="1" r:id="rId1"/></sheets></workbook>`,
		"xl/_rels/workbook.xml.rels": `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`,
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range []string{"[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels"} {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, parts[name])
	}
	// The sheet: deflate it ourselves so the header can say anything.
	row := `<row><c t="inlineStr"><is><t>boom</t></is></c></row>`
	var sheet bytes.Buffer
	sheet.WriteString(`<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`)
	for sheet.Len() < size {
		sheet.WriteString(row)
	}
	sheet.WriteString(`</sheetData></worksheet>`)
	var deflated bytes.Buffer
	fw, _ := flate.NewWriter(&deflated, flate.BestSpeed)
	fw.Write(sheet.Bytes())
	fw.Close()
	hdr := &zip.FileHeader{Name: "xl/worksheets/sheet1.xml", Method: zip.Deflate}
	hdr.CompressedSize64 = uint64(deflated.Len())
	hdr.UncompressedSize64 = uint64(sheet.Len())
	hdr.CRC32 = crc32Of(sheet.Bytes())
	if lie {
		hdr.UncompressedSize64 = 1024
	}
	w, err := zw.CreateRaw(hdr)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(deflated.Bytes())
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCorruptZipAndWorkbook(t *testing.T) {
	res := inspect(t, []byte("PK\x03\x04garbage that is not a zip"), sniff.Hints{Ext: ".xlsx"}, sniff.Limits{})
	if res.Problem != "zip: the archive is corrupt" {
		t.Fatalf("corrupt zip: %+v", res)
	}
	res = inspect(t, zipOf(t, map[string]string{"xl/workbook.xml": "<workbook><sheets></sheets></workbook>"}), sniff.Hints{Ext: ".xlsx"}, sniff.Limits{})
	if res.DetectedType != sniff.TypeXLSX || res.Problem != "xlsx: the workbook has no sheets" {
		t.Fatalf("no sheets: %+v", res)
	}
}

func TestReadErrorIsReturned(t *testing.T) {
	r := io.MultiReader(strings.NewReader("a,b\n"), errReader{})
	_, err := sniff.Inspect(context.Background(), r, csvHints, sniff.Limits{})
	if err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := sniff.Inspect(ctx, strings.NewReader("a"), csvHints, sniff.Limits{}); err == nil {
		t.Fatal("cancelled context: no error")
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, fmt.Errorf("read tcp: connection reset") }
