package duck

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/nonefinity/backend/services/datasetquery/internal/datasets"
)

// Reading a result under the byte budget (MaxResultBytes).
//
// duckdb-go turns every cell it scans into a Go value, and DuckDB hands
// over a statement's whole result at once: SELECT repeat('x', 100000000)
// would cost the service hundreds of megabytes before any cap could be
// checked, and SELECT * FROM range(1e9) would be materialized whole for the
// sake of a hundred rows. So a statement is run wrapped in a query in which
// DuckDB does the measuring (boundedQuery): it stops after limit+1 rows,
// computes each row's size from string and blob lengths and list sizes (a
// lower bound of the row's JSON), and gives a row larger than the whole
// budget as NULLs. Go then scans at most about one budget per row, and
// stops at the first row that does not fit in what is left.

// resultColumn is a column of a prepared statement's result.
type resultColumn struct {
	name string
	typ  *cellType
}

// describeColumns reads the result columns of a prepared statement.
func describeColumns(stmt *duckdb.Stmt) ([]resultColumn, error) {
	n, err := stmt.ColumnCount()
	if err != nil {
		return nil, err
	}
	cols := make([]resultColumn, n)
	for i := range cols {
		if cols[i].name, err = stmt.ColumnName(i); err != nil {
			return nil, err
		}
		ti, err := stmt.ColumnTypeInfo(i)
		if err != nil {
			return nil, err
		}
		cols[i].typ = columnType(ti)
	}
	return cols, nil
}

// sizeColumn is the last column of a bounded query: the row's size.
const sizeColumn = "__nf_size"

// boundedQuery wraps body (one query, its trailing semicolons removed) so
// that it returns at most limit+1 rows, each followed by its size, and
// NULLs instead of the values of a row whose size exceeds maxBytes. Columns
// duckdb-go cannot scan are read as text.
func boundedQuery(body string, cols []resultColumn, limit, maxBytes int) string {
	aliases := make([]string, len(cols))
	values := make([]string, len(cols))
	var sizes []string
	plain := true // nothing to measure or cast: only the row limit
	for i, c := range cols {
		aliases[i] = sqlIdent("__nf_c" + strconv.Itoa(i))
		v := aliases[i]
		switch {
		case c.typ.text:
			plain = false
			v = "CAST(" + v + " AS VARCHAR)"
		case c.typ.keyText:
			plain = false
			v = fmt.Sprintf("map_from_entries(list_transform(map_entries(%s), lambda __nf_e: {'key': CAST(__nf_e.key AS VARCHAR), 'value': __nf_e.value}))", v)
		}
		values[i] = fmt.Sprintf("CASE WHEN %s > %d THEN NULL ELSE %s END", sizeColumn, maxBytes, v)
		if s := sizeExpr(aliases[i], c.typ, 0); s != "" {
			sizes = append(sizes, "coalesce("+s+", 0)")
		}
	}
	if plain && len(sizes) == 0 {
		return fmt.Sprintf("SELECT *, 0 AS %s FROM (\n%s\n) AS __nf_q LIMIT %d", sizeColumn, body, limit+1)
	}
	size := "0"
	if len(sizes) > 0 {
		// A list, not a chain of +: thousands of columns would nest past
		// DuckDB's expression depth.
		size = "CAST(list_sum([" + strings.Join(sizes, ", ") + "]) AS BIGINT)"
	}
	return fmt.Sprintf("SELECT %s, %s FROM (SELECT *, %s AS %s FROM (\n%s\n) AS __nf_q(%s) LIMIT %d)",
		strings.Join(values, ", "), sizeColumn, size, sizeColumn, body, strings.Join(aliases, ", "), limit+1)
}

// sizeExpr is SQL for a lower bound of the JSON size of the value x of
// type t, or "" when that size is small and fixed (numbers, dates…) and
// need not be measured.
func sizeExpr(x string, t *cellType, depth int) string {
	if t.text {
		return "strlen(CAST(" + x + " AS VARCHAR))"
	}
	switch t.kind {
	case duckdb.TYPE_BOOLEAN, duckdb.TYPE_TINYINT, duckdb.TYPE_SMALLINT, duckdb.TYPE_INTEGER, duckdb.TYPE_BIGINT,
		duckdb.TYPE_UTINYINT, duckdb.TYPE_USMALLINT, duckdb.TYPE_UINTEGER, duckdb.TYPE_UBIGINT,
		duckdb.TYPE_HUGEINT, duckdb.TYPE_UHUGEINT, duckdb.TYPE_FLOAT, duckdb.TYPE_DOUBLE, duckdb.TYPE_DECIMAL,
		duckdb.TYPE_DATE, duckdb.TYPE_TIME, duckdb.TYPE_TIME_TZ, duckdb.TYPE_INTERVAL, duckdb.TYPE_UUID,
		duckdb.TYPE_TIMESTAMP, duckdb.TYPE_TIMESTAMP_S, duckdb.TYPE_TIMESTAMP_MS, duckdb.TYPE_TIMESTAMP_NS,
		duckdb.TYPE_TIMESTAMP_TZ, duckdb.TYPE_SQLNULL:
		return ""
	case duckdb.TYPE_BLOB, duckdb.TYPE_BIT:
		return "octet_length(" + x + ")"
	case duckdb.TYPE_LIST, duckdb.TYPE_ARRAY:
		return listSizeExpr(x, t.elem, depth)
	case duckdb.TYPE_MAP:
		// {"k":v,…}: at least 4 bytes an entry besides key and value.
		parts := []string{"4 * cardinality(" + x + ")"}
		for _, s := range []string{listSizeExpr("map_keys("+x+")", t.key, depth), listSizeExpr("map_values("+x+")", t.value, depth)} {
			parts = append(parts, "coalesce("+s+", 0)")
		}
		return strings.Join(parts, " + ")
	case duckdb.TYPE_STRUCT:
		var parts []string
		for i, f := range t.fields {
			if s := sizeExpr(fmt.Sprintf("struct_extract_at(%s, %d)", x, i+1), f.typ, depth); s != "" {
				parts = append(parts, "coalesce("+s+", 0)")
			}
		}
		if len(parts) == 0 {
			return ""
		}
		return "list_sum([" + strings.Join(parts, ", ") + "])"
	}
	// VARCHAR (JSON too), ENUM, UNION, BIGNUM and the rest: their text.
	return "strlen(CAST(" + x + " AS VARCHAR))"
}

// listSizeExpr measures a LIST or ARRAY x of elements of type elem: at
// least 2 bytes an element ("1,"), or the sum of the elements' sizes.
func listSizeExpr(x string, elem *cellType, depth int) string {
	v := "__nf_e" + strconv.Itoa(depth)
	s := sizeExpr(v, elem, depth+1)
	if s == "" {
		return "2 * len(" + x + ")"
	}
	return fmt.Sprintf("list_sum(list_transform(%s, lambda %s: coalesce(%s, 0) + 1))", x, v, s)
}

// readBounded runs body (one query whose result has cols) through
// boundedQuery on conn and reads at most limit rows under the byte budget.
// statements is how many statements body holds for DuckDB (a PIVOT's
// value lists are statements of their own); the wrapped text must hold as
// many, since preparing runs all but the last.
func (m *Manager) readBounded(ctx context.Context, conn *duckdb.Conn, body string, cols []resultColumn, statements, limit int) (datasets.Result, error) {
	wrapped := boundedQuery(statementBody(body), cols, limit, m.cfg.MaxResultBytes)
	switch n, err := m.guard.count(wrapped); {
	case err != nil:
		return datasets.Result{}, err
	case n != statements:
		return datasets.Result{}, &datasets.QueryError{Message: "the statement cannot be run inside the service's result limits; remove anything after it"}
	}
	prepared, err := conn.PrepareContext(ctx, wrapped)
	if err != nil {
		return datasets.Result{}, err
	}
	stmt := prepared.(*duckdb.Stmt)
	defer stmt.Close()
	drows, err := stmt.QueryContext(ctx, nil)
	if err != nil {
		return datasets.Result{}, err
	}
	defer drows.Close()
	return m.readRows(drows, cols, limit, true)
}

// readRows reads up to limit rows and up to MaxResultBytes of encoded
// rows. With sized, the last column is each row's size from boundedQuery.
// cols may be nil: the result's own names and no types are used.
func (m *Manager) readRows(drows driver.Rows, cols []resultColumn, limit int, sized bool) (datasets.Result, error) {
	if cols == nil {
		for _, n := range drows.Columns() {
			cols = append(cols, resultColumn{name: n})
		}
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	names = uniqueNames(names)
	typed, _ := drows.(driver.RowsColumnTypeDatabaseTypeName)
	res := datasets.Result{Columns: make([]datasets.ResultColumn, len(cols)), Rows: [][]json.RawMessage{}}
	for i, n := range names {
		res.Columns[i].Name = n
		switch {
		case cols[i].typ != nil && cols[i].typ.kind == typeTimeNS:
			res.Columns[i].Type = "TIME_NS"
		case typed != nil:
			res.Columns[i].Type = typed.ColumnTypeDatabaseTypeName(i)
		}
	}
	enc := encoder{hide: m.cfg.Root}
	dest := make([]driver.Value, len(drows.Columns()))
	used := 2 // []
	for {
		if err := drows.Next(dest); err != nil {
			if errors.Is(err, io.EOF) {
				return res, nil
			}
			return datasets.Result{}, err
		}
		if len(res.Rows) == limit {
			res.Truncated = true
			return res, nil
		}
		if sized {
			if size, _ := dest[len(cols)].(int64); size > int64(m.cfg.MaxResultBytes-used) {
				res.Truncated = true
				return res, nil
			}
		}
		row := make([]json.RawMessage, len(cols))
		rowSize := 2 // {}
		for i := range cols {
			var t *cellType
			if !cols[i].typ.isText() {
				t = cols[i].typ
			}
			b, err := json.Marshal(enc.jsonSafe(dest[i], t))
			if err != nil {
				return datasets.Result{}, fmt.Errorf("encode row: %w", err)
			}
			row[i] = b
			rowSize += len(names[i]) + 4 + len(b)
		}
		used += rowSize + 1
		if used > m.cfg.MaxResultBytes {
			res.Truncated = true
			return res, nil
		}
		res.Rows = append(res.Rows, row)
	}
}

// isText reports whether the column is read as text (see cellType.text).
func (t *cellType) isText() bool { return t != nil && t.text }

// uniqueNames makes result column names usable as object keys: a repeated
// name gets a suffix ("a", "a_2").
func uniqueNames(cols []string) []string {
	seen := make(map[string]bool, len(cols))
	out := make([]string, len(cols))
	for i, c := range cols {
		name := c
		for k := 2; seen[name]; k++ {
			name = c + "_" + strconv.Itoa(k)
		}
		seen[name] = true
		out[i] = name
	}
	return out
}
