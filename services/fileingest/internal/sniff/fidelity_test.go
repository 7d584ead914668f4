package sniff_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	xunicode "golang.org/x/text/encoding/unicode"

	"github.com/nonefinity/backend/services/fileingest/internal/sniff"
)

// The preview follows the conversion's layout rule: real headers of
// real exporters are headers, with the names the dataset will have.
func TestCSVPreviewHeaders(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		header     bool
		skip       int
		columns    []string
		first      []string
	}{
		{"pandas index", ",a,b\n0,1,x\n1,2,y\n", true, 0, []string{"column_1", "a", "b"}, []string{"0", "1", "x"}},
		{"R write.csv", "\"\",\"n\",\"v\"\n\"1\",3,NA\n\"2\",4,5.5\n", true, 0, []string{"column_1", "n", "v"}, []string{"1", "3", "NA"}},
		{"year headers", "country,2019,2020\nDE,1.5,2.5\nFR,3.5,4.5\n", true, 0, []string{"country", "2019", "2020"}, []string{"DE", "1.5", "2.5"}},
		{"title above the table", "Sales report 2024\n\nregion,amount\nN,10\nS,20\n", true, 1, []string{"region", "amount"}, []string{"N", "10"}},
		{"excel sep line", "sep=;\nregion;amount\nN;10,5\n", true, 0, []string{"region", "amount"}, []string{"N", "10,5"}},
		{"no header", "1,2\n3,4\n", false, 0, []string{"column_1", "column_2"}, []string{"1", "2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := inspect(t, []byte(tc.text), csvHints, sniff.Limits{}).Preview
			if p == nil || p.HasHeader != tc.header || p.SkipRows != tc.skip || !reflect.DeepEqual(p.Columns, tc.columns) ||
				len(p.Rows) == 0 || !reflect.DeepEqual(p.Rows[0], tc.first) {
				t.Fatalf("preview = %+v", p)
			}
		})
	}
}

// The encoding is the whole file's: a UTF-8 file whose one Latin-1 line
// comes after the head still previews as UTF-8, its head byte for byte;
// a file whose accents first appear after the head is windows-1252.
func TestCSVEncodingFromTheWholeFile(t *testing.T) {
	head := "id,name\n1,Zoë\n"
	filler := strings.Repeat("2,plain\n", 1000)
	latin1, _ := charmap.ISO8859_1.NewEncoder().Bytes([]byte("3,Besançon\n"))
	content := append([]byte(head+filler), latin1...)
	p := inspect(t, content, csvHints, sniff.Limits{HeadBytes: 4096}).Preview
	if p == nil || p.Encoding != "utf-8" || p.Rows[0][1] != "Zoë" {
		t.Fatalf("mixed: %+v", p)
	}
	content = append([]byte("id,name\n"+filler), latin1...)
	if p := inspect(t, content, csvHints, sniff.Limits{HeadBytes: 4096}).Preview; p == nil || p.Encoding != "windows-1252" {
		t.Fatalf("late latin-1: %+v", p)
	}
	sjis, _ := japanese.ShiftJIS.NewEncoder().Bytes([]byte("名前,住所\n山田太郎,東京都新宿区西新宿\n鈴木花子,大阪府大阪市北区梅田\n"))
	if p := inspect(t, sjis, csvHints, sniff.Limits{}).Preview; p == nil || p.Encoding != "shift_jis" || p.Columns[0] != "名前" || p.Rows[1][1] != "大阪府大阪市北区梅田" {
		t.Fatalf("shift_jis: %+v", p)
	}
}

// Excel's "Text (Tab delimited)" and "Unicode Text" exports are .txt files:
// their content is a table, so they are TSV with a preview; prose is not.
func TestTxtExportsAreTables(t *testing.T) {
	txt := sniff.Hints{Ext: ".txt", DeclaredType: "text/plain"}
	tab := "region\tamount\tnote\nN\t10\tfirst\nS\t20\tsecond\n"
	res := inspect(t, []byte(tab), txt, sniff.Limits{})
	if res.DetectedType != sniff.TypeTSV || res.Preview == nil || !reflect.DeepEqual(res.Preview.Columns, []string{"region", "amount", "note"}) {
		t.Fatalf("tab-delimited txt: %+v %+v", res, res.Preview)
	}
	u16, _ := xunicode.UTF16(xunicode.LittleEndian, xunicode.UseBOM).NewEncoder().Bytes([]byte("städt\tzahl\r\nMünchen\t1\r\nKöln\t2\r\n"))
	res = inspect(t, u16, txt, sniff.Limits{})
	if res.DetectedType != sniff.TypeTSV || res.Preview == nil || res.Preview.Encoding != "utf-16le" || res.Preview.Rows[0][0] != "München" {
		t.Fatalf("unicode text: %+v %+v", res, res.Preview)
	}
	prose := "Dear team,\nthe numbers, as promised, are below; see you soon.\nBest, Ann\n"
	if res := inspect(t, []byte(prose), txt, sniff.Limits{}); res.DetectedType != sniff.TypeText || res.Preview != nil {
		t.Fatalf("prose: %+v", res)
	}
}

// An encrypted workbook is an OLE container holding an EncryptedPackage
// stream: it says it is password-protected, not "application/x-ole-storage".
func TestEncryptedWorkbook(t *testing.T) {
	var b bytes.Buffer
	b.Write([]byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"))
	b.Write(make([]byte, 5000))
	for _, r := range "EncryptionInfo" {
		b.WriteByte(byte(r))
		b.WriteByte(0)
	}
	b.Write(make([]byte, 3000))
	for _, r := range "EncryptedPackage" {
		b.WriteByte(byte(r))
		b.WriteByte(0)
	}
	b.Write(make([]byte, 70000))
	res := inspect(t, b.Bytes(), sniff.Hints{Ext: ".xlsx"}, sniff.Limits{HeadBytes: 4096})
	if !strings.Contains(res.Problem, "password-protected") {
		t.Fatalf("encrypted: %+v", res)
	}
	plain := append([]byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"), make([]byte, 9000)...)
	if res := inspect(t, plain, sniff.Hints{Ext: ".xls"}, sniff.Limits{}); res.Problem != "" || res.DetectedType != sniff.TypeXLS {
		t.Fatalf("legacy xls: %+v", res)
	}
}

// A sheet with a title and a blank row above a header whose year cells are
// numbers previews from the header, named as the dataset will be.
func TestXLSXTitleRowsAndNumericHeader(t *testing.T) {
	f := excelize.NewFile()
	defer f.Close()
	rows := [][]any{{"Quarterly revenue"}, {nil}, {"country", 2019, 2020}, {"DE", 1.5, 2.5}, {"FR", 3.5, 4.5}}
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Sheet1", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	buf, err := f.WriteToBuffer()
	if err != nil {
		t.Fatal(err)
	}
	p := inspect(t, buf.Bytes(), sniff.Hints{Ext: ".xlsx"}, sniff.Limits{}).Preview
	if p == nil || !p.HasHeader || p.SkipRows != 2 || !reflect.DeepEqual(p.Columns, []string{"country", "2019", "2020"}) ||
		!reflect.DeepEqual(p.Rows, [][]string{{"DE", "1.5", "2.5"}, {"FR", "3.5", "4.5"}}) {
		t.Fatalf("preview = %+v", p)
	}
}
