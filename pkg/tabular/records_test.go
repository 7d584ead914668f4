package tabular_test

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/nonefinity/backend/pkg/tabular"
)

type readRecord struct {
	Line    int64
	Lines   int
	Fields  []string
	Problem string
}

func readAll(t *testing.T, text string, d tabular.Dialect) []readRecord {
	t.Helper()
	r := tabular.NewReader(strings.NewReader(text), d)
	r.WantFields = true
	var out []readRecord
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.NumFields != len(rec.Fields) {
			t.Fatalf("line %d: NumFields %d, %d fields", rec.Line, rec.NumFields, len(rec.Fields))
		}
		out = append(out, readRecord{rec.Line, rec.Lines, rec.Fields, rec.Problem})
	}
}

var csvDialect = tabular.Dialect{Delimiter: ',', Quote: '"', Newline: '\n'}

func TestReaderRecords(t *testing.T) {
	got := readAll(t, "\uFEFFa,b,c\r\n1,\"x, \"\"y\"\"\",3\n\n2,\"multi\r\nline\",\n3,x\"y,\"\"\n", csvDialect)
	want := []readRecord{
		{1, 1, []string{"a", "b", "c"}, ""},
		{2, 1, []string{"1", `x, "y"`, "3"}, ""},
		{4, 2, []string{"2", "multi\r\nline", ""}, ""},
		{6, 1, []string{"3", `x"y`, ""}, ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("records\n got %+v\nwant %+v", got, want)
	}
}

func TestReaderBrokenQuotes(t *testing.T) {
	// A closing quote followed by text, and a quote never closed: each
	// record is re-read from its first line with quoting off, and reading
	// goes on from the next line.
	text := "id,name,score\n1,\"Ann\",3\n2,\"Bob \"x\" y\",4\n3,\"Cy\",5\n4,\"unterminated,6\n5,Dee,7\n"
	got := readAll(t, text, csvDialect)
	want := []readRecord{
		{1, 1, []string{"id", "name", "score"}, ""},
		{2, 1, []string{"1", "Ann", "3"}, ""},
		{3, 1, []string{"2", `"Bob "x" y"`, "4"}, tabular.ProblemTextAfterQuote},
		{4, 1, []string{"3", "Cy", "5"}, ""},
		{5, 1, []string{"4", `"unterminated`, "6"}, tabular.ProblemUnterminated},
		{6, 1, []string{"5", "Dee", "7"}, ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("records\n got %+v\nwant %+v", got, want)
	}
	// A TSV field that starts with a quote without being quoted.
	got = readAll(t, "1\t\"Mooi & Anders\": design tokens\tok\n", tabular.Dialect{Delimiter: '\t', Quote: '"'})
	if len(got) != 1 || got[0].Problem == "" || !reflect.DeepEqual(got[0].Fields, []string{"1", `"Mooi & Anders": design tokens`, "ok"}) {
		t.Fatalf("tsv %+v", got)
	}
	// Quoting off: quotes are data.
	got = readAll(t, "1\t\"a\"\t\"b\tc\n", tabular.Dialect{Delimiter: '\t'})
	if len(got) != 1 || !reflect.DeepEqual(got[0].Fields, []string{"1", `"a"`, `"b`, "c"}) {
		t.Fatalf("no quoting %+v", got)
	}
}

func TestReaderLineEndsAndSepLine(t *testing.T) {
	got := readAll(t, "a,b\r1,2\r3,4", tabular.Dialect{Delimiter: ',', Quote: '"', Newline: '\r'})
	if len(got) != 3 || got[2].Line != 3 || !reflect.DeepEqual(got[2].Fields, []string{"3", "4"}) {
		t.Fatalf("cr %+v", got)
	}
	got = readAll(t, "sep=;\na;b\n1;2\n", tabular.Dialect{Delimiter: ';', Quote: '"', Newline: '\n', SepLine: true})
	if len(got) != 2 || got[0].Line != 2 || got[1].Line != 3 {
		t.Fatalf("sep line %+v", got)
	}
}

func TestReaderLimits(t *testing.T) {
	long := strings.Repeat("x", 3<<20)
	text := "a,b\n1," + long + "\n2,\"" + strings.Repeat("y\n", 20) + "\n3,z\n"
	r := tabular.NewReader(strings.NewReader(text), csvDialect)
	r.MaxRecordLines = 10
	var lines []int64
	var problems []string
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, rec.Line)
		problems = append(problems, rec.Problem)
	}
	if r.MaxBytes < 3<<20 {
		t.Fatalf("MaxBytes %d", r.MaxBytes)
	}
	// Record 3 opens a quote that runs 20 lines: re-read as its first line,
	// then the lines inside it come back as records of their own.
	if lines[2] != 3 || problems[2] != tabular.ProblemTooManyLines || lines[len(lines)-1] != 24 {
		t.Fatalf("lines %v problems %q", lines, problems)
	}
}

func TestReaderCountsWithoutFields(t *testing.T) {
	r := tabular.NewReader(strings.NewReader("a,b,c\n1,\"2,3\",4\n5,6\n"), csvDialect)
	var counts []int
	for {
		rec, err := r.Next()
		if err != nil {
			break
		}
		if rec.Fields != nil {
			t.Fatal("fields without WantFields")
		}
		counts = append(counts, rec.NumFields)
	}
	if !reflect.DeepEqual(counts, []int{3, 3, 2}) {
		t.Fatalf("counts %v", counts)
	}
}
