package mcpapi

import (
	"encoding/json"
	"strconv"
	"strings"

	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
)

// Table is a result as a model reads it best: the columns once, then the
// rows as arrays of values in column order. Values are the query API's
// JSON: decimals and HUGEINT as strings, dates and timestamps RFC 3339,
// NULL as null.
type Table struct {
	Columns   []TableColumn `json:"columns"`
	Rows      [][]any       `json:"rows"`
	RowCount  int           `json:"row_count" jsonschema:"rows returned"`
	Truncated bool          `json:"truncated" jsonschema:"true when the row limit cut the result: more rows exist"`
}

// TableColumn is a result column with its type.
type TableColumn struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

func emptyTable() Table { return Table{Columns: []TableColumn{}, Rows: [][]any{}} }

// queryTable is a query's reply as a table.
func queryTable(r dv1.QueryReply) Table {
	t := emptyTable()
	names := make([]string, len(r.Columns))
	for i, c := range r.Columns {
		t.Columns = append(t.Columns, TableColumn{Name: c.Name, Type: c.Type})
		names[i] = c.Name
	}
	t.Rows = rowValues(names, r.Data)
	t.RowCount, t.Truncated = len(t.Rows), r.Truncated
	return t
}

// sampleTable is a dataset's first rows as a table; total counts them all.
func sampleTable(d dv1.Dataset, rows []dv1.Row, total int64) Table {
	t := emptyTable()
	names := make([]string, len(d.DataSchema))
	for i, c := range d.DataSchema {
		t.Columns = append(t.Columns, TableColumn{Name: c.ColumnName, Type: c.ColumnType})
		names[i] = c.ColumnName
	}
	t.Rows = rowValues(names, rows)
	t.RowCount, t.Truncated = len(t.Rows), total > int64(len(t.Rows))
	return t
}

// rowValues lays rows out in the order of names, each value the JSON the
// service wrote (a BIGINT stays exact).
func rowValues(names []string, rows []dv1.Row) [][]any {
	out := make([][]any, len(rows))
	for i, row := range rows {
		vals := make([]any, len(names))
		for j, name := range names {
			if raw, ok := row.Raw(name); ok && len(raw) > 0 {
				vals[j] = raw
			}
		}
		out[i] = vals
	}
	return out
}

// text is the table as tab-separated lines, a header of name:type, and a
// last line that says how many rows came and whether more exist.
func (t Table) text() string {
	var b strings.Builder
	for i, c := range t.Columns {
		if i > 0 {
			b.WriteByte('\t')
		}
		b.WriteString(cell(c.Name) + ":" + c.Type)
	}
	b.WriteByte('\n')
	for _, row := range t.Rows {
		for i, v := range row {
			if i > 0 {
				b.WriteByte('\t')
			}
			b.WriteString(cellValue(v))
		}
		b.WriteByte('\n')
	}
	b.WriteString("(" + strconv.Itoa(t.RowCount) + " rows")
	if t.Truncated {
		b.WriteString("; truncated: more rows exist, aggregate or lower the limit")
	}
	b.WriteString(")")
	return b.String()
}

// cellValue writes a value as its text: strings unquoted, NULL as NULL,
// numbers, booleans, lists and structs as their JSON.
func cellValue(v any) string {
	raw, ok := v.(json.RawMessage)
	if !ok || len(raw) == 0 || string(raw) == "null" {
		return "NULL"
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return cell(s)
		}
	}
	return cell(string(raw))
}

// cell keeps one value on its line and in its column.
var cellEscaper = strings.NewReplacer("\\", "\\\\", "\t", "\\t", "\n", "\\n", "\r", "\\r")

func cell(s string) string { return cellEscaper.Replace(s) }
