package mcpapi

import (
	"encoding/json"
	"testing"

	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
)

// A result reads as one line per row whatever its values hold: tabs and
// newlines in text are escaped, NULL is written, big integers stay exact.
func TestTableText(t *testing.T) {
	reply := dv1.QueryReply{
		Columns: []dv1.QueryColumn{{Name: "id", Type: "BIGINT"}, {Name: "note\tx", Type: "VARCHAR"}, {Name: "tags", Type: "VARCHAR[]"}},
		Data: []dv1.Row{
			dv1.RowOf([]string{"id", "note\tx", "tags"}, int64(9007199254740993), "two\nlines\tand a tab", []string{"a", "b"}),
			dv1.RowOf([]string{"id", "note\tx", "tags"}, 2, nil, nil),
		},
		RowCount:  2,
		Truncated: true,
	}
	tab := queryTable(reply)
	if tab.RowCount != 2 || !tab.Truncated || len(tab.Rows) != 2 || len(tab.Rows[0]) != 3 {
		t.Fatalf("table %+v", tab)
	}
	want := "id:BIGINT\tnote\\tx:VARCHAR\ttags:VARCHAR[]\n" +
		"9007199254740993\ttwo\\nlines\\tand a tab\t[\"a\",\"b\"]\n" +
		"2\tNULL\tNULL\n" +
		"(2 rows; truncated: more rows exist, aggregate or lower the limit)"
	if got := tab.text(); got != want {
		t.Fatalf("text\n%s\nwant\n%s", got, want)
	}
	if got := emptyTable().text(); got != "\n(0 rows)" {
		t.Fatalf("empty table text %q", got)
	}
}

// Rows missing a column (a sample read before a schema change) leave it null
// rather than shifting the others.
func TestSampleTableFollowsTheSchema(t *testing.T) {
	d := dv1.Dataset{DataSchema: []dv1.Column{{ColumnName: "a", ColumnType: "bigint"}, {ColumnName: "b", ColumnType: "string"}}}
	tab := sampleTable(d, []dv1.Row{dv1.RowOf([]string{"b"}, "x")}, 10)
	if len(tab.Rows) != 1 || tab.Rows[0][0] != nil || string(tab.Rows[0][1].(json.RawMessage)) != `"x"` || !tab.Truncated {
		t.Fatalf("sample %+v", tab)
	}
}
