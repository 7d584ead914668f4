package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// fileSizes are the sizes of the attacker's files: the in a full
// run, smaller in a quick one but each still over the limit it attacks
// (the media part stays whole: it costs 2 s to build and 2 MB to send).
type fileSizes struct {
	mediaBytes  int64 // zero-filled xl/media/image1.bin, declared size
	sheet2Bytes int64 // XML of the workbook's second sheet
	wideColumns int   // columns of the wide CSV
}

func sizesFor(quick bool) fileSizes {
	if quick {
		return fileSizes{mediaBytes: 1536 << 20, sheet2Bytes: 50 << 20, wideColumns: 10_000}
	}
	return fileSizes{mediaBytes: 1536 << 20, sheet2Bytes: 400 << 20, wideColumns: 100_000}
}

// attackFiles are built once, before the system starts, and uploaded by
// the attacker again and again.
type attackFiles struct {
	// bomb has a small first sheet, the zero-filled media part and the
	// large second sheet: processing must refuse it by its declared sizes.
	bomb []byte
	// sheet2 has the small first sheet and the large second sheet only:
	// under the processing limit, so its conversion must open the first
	// sheet without inflating the second.
	sheet2 []byte
	// wide is a CSV of fileSizes.wideColumns columns.
	wide []byte
	// listWide is a CSV of listColumns columns with long names and values,
	// so a list of a few such files is larger than one NATS message.
	listWide []byte
	// small is a 100-row CSV the attacker converts in bursts.
	small []byte
}

const listColumns = 500

func buildAttackFiles(dir string, sz fileSizes) (attackFiles, error) {
	var f attackFiles
	var err error
	if f.bomb, err = buildWorkbook(filepath.Join(dir, "bomb.xlsx"), sz.mediaBytes, sz.sheet2Bytes); err != nil {
		return f, err
	}
	if f.sheet2, err = buildWorkbook(filepath.Join(dir, "sheet2.xlsx"), 0, sz.sheet2Bytes); err != nil {
		return f, err
	}
	f.wide = wideCSV(sz.wideColumns)
	f.listWide = listWideCSV()
	f.small = smallCSV()
	return f, nil
}

// buildWorkbook writes an XLSX to path with a 3-row first sheet, a second
// sheet of sheet2Bytes of rows and, when mediaBytes > 0, a zero-filled
// xl/media/image1.bin of that size, and returns the file's bytes. Parts are
// streamed through flate.BestSpeed, so the program never holds them: the
// 1.5 GB of zeros deflate to about 1.5 MB.
func buildWorkbook(path string, mediaBytes, sheet2Bytes int64) ([]byte, error) {
	out, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(out, 1<<20)
	zw := zip.NewWriter(bw)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestSpeed)
	})
	const ns = `xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"`
	parts := []struct{ name, body string }{
		{"[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
			`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
			`<Default Extension="xml" ContentType="application/xml"/><Default Extension="bin" ContentType="application/octet-stream"/>` +
			`<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>` +
			`<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>` +
			`<Override PartName="/xl/worksheets/sheet2.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>`},
		{"_rels/.rels", `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`},
		{"xl/workbook.xml", `<?xml version="1.0" encoding="UTF-8"?><workbook ` + ns + ` xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">` +
			`<sheets><sheet name="Data" sheetId="1" r:id="rId1"/><sheet name="Big" sheetId="2" r:id="rId2"/></sheets></workbook>`},
		{"xl/_rels/workbook.xml.rels", `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>` +
			`<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet2.xml"/></Relationships>`},
		{"xl/worksheets/sheet1.xml", `<?xml version="1.0" encoding="UTF-8"?><worksheet ` + ns + `><sheetData>` +
			`<row r="1"><c r="A1" t="inlineStr"><is><t>name</t></is></c><c r="B1" t="inlineStr"><is><t>n</t></is></c></row>` +
			`<row r="2"><c r="A2" t="inlineStr"><is><t>a</t></is></c><c r="B2"><v>1</v></c></row>` +
			`<row r="3"><c r="A3" t="inlineStr"><is><t>b</t></is></c><c r="B3"><v>2</v></c></row>` +
			`</sheetData></worksheet>`},
	}
	for _, p := range parts {
		w, err := zw.Create(p.name)
		if err != nil {
			return nil, err
		}
		if _, err := io.WriteString(w, p.body); err != nil {
			return nil, err
		}
	}
	w, err := zw.Create("xl/worksheets/sheet2.xml")
	if err != nil {
		return nil, err
	}
	io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><worksheet `+ns+`><sheetData>`)
	rows := []byte(strings.Repeat(`<row><c t="inlineStr"><is><t>boom</t></is></c></row>`, 1000))
	for written := int64(0); written < sheet2Bytes; written += int64(len(rows)) {
		if _, err := w.Write(rows); err != nil {
			return nil, err
		}
	}
	io.WriteString(w, `</sheetData></worksheet>`)
	if mediaBytes > 0 {
		w, err := zw.Create("xl/media/image1.bin")
		if err != nil {
			return nil, err
		}
		zeros := make([]byte, 1<<20)
		for written := int64(0); written < mediaBytes; written += int64(len(zeros)) {
			if _, err := w.Write(zeros[:min(int64(len(zeros)), mediaBytes-written)]); err != nil {
				return nil, err
			}
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	if err := out.Close(); err != nil {
		return nil, err
	}
	return os.ReadFile(path)
}

// wideCSV is a header of n columns and nine rows of one-digit values: 2.4
// MB for 100,000 columns, the file that held another user's conversion for
// nine minutes.
func wideCSV(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "c%d", i)
	}
	b.WriteByte('\n')
	for r := range 9 {
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte(byte('0' + (r+i)%10))
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// listWideCSV is listColumns columns with 40-byte names and 20 rows of
// 40-byte values: each file's preview is about 400 KB of JSON.
func listWideCSV() []byte {
	var b bytes.Buffer
	for i := range listColumns {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "column_%03d_%s", i, strings.Repeat("n", 29))
	}
	b.WriteByte('\n')
	for r := range 20 {
		for i := range listColumns {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "value_%02d_%03d_%s", r, i, strings.Repeat("v", 27))
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func smallCSV() []byte {
	var b bytes.Buffer
	b.WriteString("id,label,score\n")
	for i := range 100 {
		fmt.Fprintf(&b, "%d,label_%d,%d\n", i, i%5, i*3)
	}
	return b.Bytes()
}
