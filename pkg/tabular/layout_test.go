package tabular_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/nonefinity/backend/pkg/tabular"
)

func TestKindOf(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want tabular.Kind
	}{
		{"", tabular.KindEmpty}, {"  ", tabular.KindEmpty}, {"NA", tabular.KindNull}, {"N/A", tabular.KindNull},
		{"null", tabular.KindNull}, {"true", tabular.KindBool}, {"FALSE", tabular.KindBool},
		{"42", tabular.KindInt}, {"-7", tabular.KindInt}, {"12345678901234567890", tabular.KindInt},
		{"1.5", tabular.KindDecimal}, {".5", tabular.KindDecimal}, {"1e6", tabular.KindDecimal},
		{"1.234,56", tabular.KindDecimal}, {"7,5", tabular.KindDecimal}, {"1,234.5", tabular.KindDecimal},
		{"1 234,5", tabular.KindDecimal}, {"inf", tabular.KindText}, {"0x1F", tabular.KindText},
		{"2024-01-31", tabular.KindDate}, {"31.01.2024", tabular.KindDate}, {"1/31/2024", tabular.KindDate},
		{"2024-13-01", tabular.KindText}, {"2024-01-31 10:00:00", tabular.KindTimestamp},
		{"2024-01-31T10:00:00Z", tabular.KindTimestamp}, {"10:30", tabular.KindTime}, {"36:00:00", tabular.KindText},
		{"name", tabular.KindText}, {"1.2.3", tabular.KindText}, {"12,34,5", tabular.KindText},
	} {
		if got := tabular.KindOf(tc.in); got != tc.want {
			t.Errorf("KindOf(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestParseGroupedDecimal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		dec  byte
		want string
		ok   bool
	}{
		{"1.234,56", ',', "1234.56", true}, {"-1.000.000,01", ',', "-1000000.01", true}, {"7,5", ',', "7.5", true},
		{"1234", ',', "1234", true}, {"1 234,5", ',', "1234.5", true}, {"1,234.56", '.', "1234.56", true},
		{"1.23,4", ',', "", false}, {"12.34", ',', "", false}, {",5", ',', "", false}, {"1,2,3", '.', "", false},
	} {
		got, ok := tabular.ParseGroupedDecimal(tc.in, tc.dec)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseGroupedDecimal(%q, %q) = %q %v, want %q %v", tc.in, tc.dec, got, ok, tc.want, tc.ok)
		}
	}
}

func TestColumnNames(t *testing.T) {
	for _, tc := range []struct {
		header []string
		width  int
		want   []string
	}{
		{nil, 3, []string{"column_1", "column_2", "column_3"}},
		{[]string{"", "a", "b"}, 3, []string{"column_1", "a", "b"}},
		{[]string{"id", "name", "name", "", "Name"}, 5, []string{"id", "name", "name_2", "column_4", "Name_3"}},
		{[]string{"a", "b", "c", ""}, 4, []string{"a", "b", "c", "column_4"}},
		{[]string{"a", "b"}, 4, []string{"a", "b", "column_3", "column_4"}},
		{[]string{" x\ny ", "\uFEFFid"}, 2, []string{"x y", "id"}},
		// A generated name never takes one the header uses.
		{[]string{"", "column_1"}, 2, []string{"column_1_2", "column_1"}},
	} {
		if got := tabular.ColumnNames(tc.header, tc.width); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ColumnNames(%q, %d) = %q, want %q", tc.header, tc.width, got, tc.want)
		}
	}
}

// headOf reads the head of a CSV text and returns its layout as
// "start header names…".
func layoutOf(t *testing.T, text string) tabular.Head {
	t.Helper()
	return tabular.ReadHead(text, false, tabular.HeadOptions{})
}

func TestHeaderDetection(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		header     bool
		start      int
		names      []string
	}{
		{"plain", "id,name,amount\n1,a,2.5\n2,b,3\n", true, 0, []string{"id", "name", "amount"}},
		{"pandas index", ",a,b,c\n0,1,x,2.5\n1,2,y,3.5\n2,3,z,4.5\n", true, 0, []string{"column_1", "a", "b", "c"}},
		{"R write.csv", "\"\",\"name\",\"score\",\"when\"\n\"1\",\"Ann\",NA,\"2024-01-02\"\n\"2\",\"Bob\",3.5,NA\n\"3\",\"Cé\",4,\"2024-03-04\"\n",
			true, 0, []string{"column_1", "name", "score", "when"}},
		{"trailing delimiter", "a,b,c,\n1,2,3,\n4,5,6,\n", true, 0, []string{"a", "b", "c", "column_4"}},
		{"duplicates and blanks", "id,name,name,,x\n1,a,b,c,2\n3,d,e,f,4\n", true, 0, []string{"id", "name", "name_2", "column_4", "x"}},
		{"year headers", "country,2019,2020\nDE,1.5,2.5\nFR,3.5,4.5\nIT,5,6\n", true, 0, []string{"country", "2019", "2020"}},
		{"CR line ends", "a,b,c\r1,2,3\r4,5,6\r", true, 0, []string{"a", "b", "c"}},
		{"no header, numbers", "1,2,3\n4,5,6\n7,8,9\n", false, 0, []string{"column_1", "column_2", "column_3"}},
		{"no header, years as data", "2019,5.5\n2020,6.1\n2021,7\n", false, 0, []string{"column_1", "column_2"}},
		{"no header, text then numbers", "DE,1.5,2.5\nFR,3.5,4.5\n", false, 0, []string{"column_1", "column_2", "column_3"}},
		{"preamble", "Sales report 2024\n\nregion,amount\nN,10\nS,20\nE,30\n", true, 1, []string{"region", "amount"}},
		{"padded preamble (Excel)", "Sales report 2024,,\n,,\nregion,amount,note\nN,10,x\nS,20,y\n", true, 2, []string{"region", "amount", "note"}},
		{"sep line", "sep=;\nregion;amount\nN;10,5\nS;20,25\n", true, 0, []string{"region", "amount"}},
		{"lone header", "a,b,c\n", true, 0, []string{"a", "b", "c"}},
		{"sparse first data row", "1,,,\n2,a,b,c\n3,d,e,f\n", false, 0, []string{"column_1", "column_2", "column_3", "column_4"}},
		{"data row repeats header word", "city,pop\nParis,1\ncity,2\n", true, 0, []string{"city", "pop"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := layoutOf(t, tc.text)
			if h.Layout.HasHeader != tc.header || h.Layout.Start != tc.start || !reflect.DeepEqual(h.Layout.Names, tc.names) {
				t.Fatalf("layout = %+v (dialect %+v, records %q)", h.Layout, h.Dialect, h.Records)
			}
		})
	}
}

func TestLayoutOptions(t *testing.T) {
	no, yes, two := false, true, 2
	h := tabular.ReadHead("a,b\nc,d\n", false, tabular.HeadOptions{Layout: tabular.LayoutOptions{Header: &no}})
	if h.Layout.HasHeader || !reflect.DeepEqual(h.Layout.Names, []string{"column_1", "column_2"}) {
		t.Fatalf("header=false: %+v", h.Layout)
	}
	h = tabular.ReadHead("x\ny\n1,2\n3,4\n", false, tabular.HeadOptions{Layout: tabular.LayoutOptions{Header: &yes, Start: &two}})
	if !h.Layout.HasHeader || h.Layout.Start != 2 || !reflect.DeepEqual(h.Layout.Names, []string{"1", "2"}) {
		t.Fatalf("skip=2, header: %+v", h.Layout)
	}
}

func TestDialectDetection(t *testing.T) {
	for _, tc := range []struct {
		name, text            string
		delim, quote, newline byte
		sep                   bool
	}{
		{"comma", "a,b,c\n1,\"x, y\",3\n", ',', '"', '\n', false},
		{"semicolon with decimal commas", "a;b\n1,5;2,5\n3,5;4\n", ';', '"', '\n', false},
		{"tab", "a\tb\tc\n1\t2\t3\n", '\t', '"', '\n', false},
		{"pipe", "a|b\n1|2\n", '|', '"', '\n', false},
		{"sep line", "sep=;\na;b\n1;2\n", ';', '"', '\n', true},
		{"cr", "a,b\r1,2\r", ',', '"', '\r', false},
		{"crlf", "a,b\r\n1,2\r\n", ',', '"', '\n', false},
		{"tsv with stray quotes", "id\tname\tnote\n1\t\"Mooi & Anders\": design tokens\tok\n2\tplain\tfine\n3\t\"quoted\" in part\tyes\n", '\t', 0, '\n', false},
		{"csv with one broken quote among good ones", "id,name,n\n1,\"Ann, Jr\",3\n2,\"Bob \"x\" y\",4\n3,\"Cy\",5\n", ',', '"', '\n', false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tabular.ReadHead(tc.text, false, tabular.HeadOptions{}).Dialect
			if d.Delimiter != tc.delim || d.Quote != tc.quote || d.Newline != tc.newline || d.SepLine != tc.sep {
				t.Fatalf("dialect = %+v", d)
			}
		})
	}
	// A head cut inside a quoted field still reads as quoted CSV.
	cut := "a,b\n1,\"x\n" + strings.Repeat("y", 10)
	if d := tabular.ReadHead("a,b\n1,\"p, q\"\n2,\"r\"\n"+cut, true, tabular.HeadOptions{}).Dialect; d.Quote != '"' || d.Delimiter != ',' {
		t.Fatalf("truncated head dialect = %+v", d)
	}
}
