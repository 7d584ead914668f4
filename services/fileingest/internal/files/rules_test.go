package files

import (
	"errors"
	"strings"
	"testing"

	"github.com/nonefinity/backend/pkg/fielderr"
	"github.com/nonefinity/backend/services/fileingest/internal/sniff"
)

func TestCheckName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"report.csv", true},
		{"Ünïcødé name (1).xlsx", true},
		{strings.Repeat("a", 255), true},
		{strings.Repeat("a", 256), false},
		{strings.Repeat("é", 128), false}, // 256 bytes
		{"", false},
		{"   ", false},
		{"a/b.csv", false},
		{`a\b.csv`, false},
		{"../etc/passwd", false},
		{"tab\there.csv", false},
		{"nul\x00.csv", false},
		{"del\x7f.csv", false},
		{"\xff\xfe.csv", false},
		{".", false},
		{"..", false},
		{"report\u202Excs.exe", false},
		{"a\u202Ab.csv", false},
		{"a\u202Db.csv", false},
		{"a\u2066b.csv", false},
		{"a\u2069b.csv", false},
		{"a\u200Eb.csv", false},
		{"a\u200Fb.csv", false},
		{"a\u061Cb.csv", false},
		{"a\u2029b.csv", true}, // a paragraph separator, not a bidi control (and no Cc)
		{"a\u2065b.csv", true},
		{"שלום \u05d3.csv", true}, // right-to-left text itself is fine
	} {
		err := checkName("file_name", tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("checkName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
		fe, ok := fielderr.As(err)
		if err != nil && (!errors.Is(err, ErrInvalid) || !ok || fe.Field != "file_name") {
			t.Errorf("checkName(%q) error %v is not a file_name validation error", tc.name, err)
		}
	}
}

func TestSplitNameAndKeyExt(t *testing.T) {
	for _, tc := range []struct{ name, base, ext, key string }{
		{"sales 2024.csv", "sales 2024", ".csv", ".csv"},
		{"Report.XLSX", "Report", ".XLSX", ".xlsx"},
		{"archive.tar.gz", "archive.tar", ".gz", ".gz"},
		{".bashrc", ".bashrc", "", ""},
		{"..hidden.txt", "..hidden", ".txt", ".txt"},
		{"noext", "noext", "", ""},
		{"weird.c$v", "weird", ".c$v", ".cv"},
		{"emoji.🙂", "emoji", ".🙂", ""},
		{"long.abcdefghijklmnopqrstuvwxyz", "long", ".abcdefghijklmnopqrstuvwxyz", ".abcdefghijklmnop"},
	} {
		base, ext := SplitName(tc.name)
		if base != tc.base || ext != tc.ext || keyExt(ext) != tc.key {
			t.Errorf("SplitName(%q) = %q, %q (key %q); want %q, %q (key %q)", tc.name, base, ext, keyExt(ext), tc.base, tc.ext, tc.key)
		}
	}
}

func TestOwnedRawKey(t *testing.T) {
	const owner = "65f2a1b3c4d5e6f708192a3b"
	for _, tc := range []struct {
		key string
		ok  bool
	}{
		{"users/" + owner + "/raw/01J.csv", true},
		{"users/" + owner + "/raw/", false},
		{"users/" + owner + "/raw/sub/01J.csv", false},
		{"users/" + owner + "/raw/..", false},
		{"users/" + owner + "/datasets/x.parquet", false},
		{"users/someoneelse/raw/01J.csv", false},
		{"/users/" + owner + "/raw/01J.csv", false},
		{"users/" + owner + "/raw/a\nb", false},
	} {
		if _, ok := ownedRawKey(owner, tc.key); ok != tc.ok {
			t.Errorf("ownedRawKey(%q) = %v, want %v", tc.key, ok, tc.ok)
		}
	}
	for _, bad := range []string{"", "a/b", "..", "x y", strings.Repeat("a", 65)} {
		if checkOwner(bad) == nil {
			t.Errorf("checkOwner(%q) accepted", bad)
		}
	}
}

func TestDeclaredType(t *testing.T) {
	for _, tc := range []struct{ declared, ext, want string }{
		{"text/csv", ".csv", "text/csv"},
		{"", ".csv", "text/csv"},
		{"application/octet-stream", ".XLSX", sniff.TypeXLSX},
		{"Application/Octet-Stream", ".png", "image/png"},
		{"", ".unknownext", "application/octet-stream"},
		{"image/x-custom", ".csv", "image/x-custom"},
	} {
		got, err := declaredType(tc.declared, tc.ext)
		if err != nil || got != tc.want {
			t.Errorf("declaredType(%q, %q) = %q, %v; want %q", tc.declared, tc.ext, got, err, tc.want)
		}
	}
	if _, err := declaredType("text/csv\r\nX-Evil: 1", ".csv"); !errors.Is(err, ErrInvalid) {
		t.Errorf("type with a line break accepted: %v", err)
	}
}

func TestClassifyMatchesOriginal(t *testing.T) {
	for _, tc := range []struct{ mime, ext, want string }{
		{"text/csv", ".csv", CategorySpreadsheet},
		{"application/octet-stream", ".xlsx", CategorySpreadsheet},
		{"application/vnd.ms-excel", "", CategorySpreadsheet},
		{"application/pdf", "", CategoryDocument},
		{"", ".PDF", CategoryDocument},
		{"image/png", ".csv", CategorySpreadsheet}, // the label: first match wins, as in the original
		{"image/png", "", CategoryImage},
		{"text/plain; charset=utf-8", "", CategoryText},
		{"application/json", ".json", CategoryText},
		{"", ".md", CategoryText},
		{"video/mp4", "", CategoryVideo},
		{"", ".webm", CategoryVideo},
		{"audio/ogg", "", CategoryAudio},
		{"", ".m4a", CategoryAudio},
		{"application/zip", ".zip", CategoryOther},
		{"", "", CategoryOther},
	} {
		if got := Classify(tc.mime, tc.ext); got != tc.want {
			t.Errorf("Classify(%q, %q) = %s, want %s", tc.mime, tc.ext, got, tc.want)
		}
	}
}

func TestJudge(t *testing.T) {
	csvFile := File{FileExt: ".csv", FileType: "text/csv"}
	preview := &Preview{Columns: []string{"a"}}
	for _, tc := range []struct {
		name     string
		file     File
		res      sniff.Result
		status   Status
		category string
		errText  string
	}{
		{"csv", csvFile, sniff.Result{DetectedType: "text/csv", Text: true, Preview: preview}, StatusReady, CategorySpreadsheet, ""},
		{"png labelled csv", csvFile, sniff.Result{DetectedType: "image/png", Confident: true}, StatusFailed, CategoryImage, "content is image/png, not text/csv"},
		{"binary labelled csv", csvFile, sniff.Result{DetectedType: "application/octet-stream"}, StatusFailed, CategorySpreadsheet, "content is application/octet-stream, not text/csv"},
		{"xlsx labelled csv", csvFile, sniff.Result{DetectedType: sniff.TypeXLSX, Confident: true, Preview: preview}, StatusReady, CategorySpreadsheet, ""},
		{"zip bomb", File{FileExt: ".xlsx", FileType: sniff.TypeXLSX}, sniff.Result{DetectedType: sniff.TypeXLSX, Confident: true, Problem: "xlsx: uncompressed size over 1 GiB"}, StatusFailed, CategorySpreadsheet, "xlsx: uncompressed size over 1 GiB"},
		{"text labelled xlsx", File{FileExt: ".xlsx", FileType: octetStream}, sniff.Result{DetectedType: "text/plain", Text: true}, StatusFailed, CategorySpreadsheet, "content is text/plain, not a .xlsx file"},
		{"legacy xls", File{FileExt: ".xls", FileType: "application/vnd.ms-excel"}, sniff.Result{DetectedType: sniff.TypeXLS, Confident: true}, StatusReady, CategorySpreadsheet, ""},
		{"png labelled jpg", File{FileExt: ".jpg", FileType: "image/jpeg"}, sniff.Result{DetectedType: "image/png", Confident: true}, StatusReady, CategoryImage, ""},
		{"png labelled bin", File{FileExt: ".bin", FileType: octetStream}, sniff.Result{DetectedType: "image/png", Confident: true}, StatusReady, CategoryImage, ""},
		{"pdf", File{FileExt: ".pdf", FileType: "application/pdf"}, sniff.Result{DetectedType: "application/pdf", Confident: true}, StatusReady, CategoryDocument, ""},
		{"empty", csvFile, sniff.Result{DetectedType: "application/octet-stream", Problem: "the file is empty"}, StatusFailed, CategorySpreadsheet, "the file is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := judge(tc.file, tc.res)
			if o.Status != tc.status || o.Category != tc.category || o.Error != tc.errText {
				t.Fatalf("judge = %+v, want %s/%s/%q", o, tc.status, tc.category, tc.errText)
			}
			if o.Status == StatusFailed && o.Preview != nil {
				t.Fatalf("a failed file keeps a preview: %+v", o)
			}
		})
	}
}

func TestHumanSizeAndMB(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1 KiB", 1536: "1.5 KiB", 5 << 30: "5 GiB", 10 << 30: "10 GiB"} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
	if got := SizeMB(1572864); got != 1.5 {
		t.Errorf("SizeMB = %v", got)
	}
	if got := SizeMB(1234567); got != 1.18 {
		t.Errorf("SizeMB = %v", got)
	}
}
