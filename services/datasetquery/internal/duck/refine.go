package duck

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/nonefinity/backend/pkg/tabular"
	"github.com/nonefinity/backend/services/datasetquery/internal/datasets"
)

// Patterns of numbers written as text, for DuckDB's regexp_full_match on
// trimmed values. Integers have no leading zeros (a zero-padded code such
// as 01234 stays text).
const (
	intPattern     = `[+-]?(0|[1-9][0-9]*)`
	decimalPattern = `[+-]?(0|[1-9][0-9]*)?\.[0-9]+([eE][+-]?[0-9]+)?|[+-]?(0|[1-9][0-9]*)[eE][+-]?[0-9]+`
	// Grouped numbers with a decimal comma: 1.234.567,89, 1 234,5, 7,5.
	commaPattern = `[+-]?([0-9]{1,3}([. \x{00A0}\x{202F}][0-9]{3})+|[0-9]+)(,[0-9]+)?`
	// Grouped numbers with a decimal point: 1,234,567.89.
	pointPattern = `[+-]?([0-9]{1,3}(,[0-9]{3})+|[0-9]+)(\.[0-9]+)?`
)

// refineSample is how many values of a text column are looked at before
// the whole column is profiled.
const refineSample = 2000

// columnProfile is what a text column holds, value by value (trimmed,
// null tokens apart).
type columnProfile struct {
	values, tokens                        int64
	ints, decimals, commas, points, dates int64
	stamps, bools                         int64
	withComma, withPoint                  int64
	intDigits, fracDigits                 int64
	found                                 []string
}

// refineText gives text columns the type their values have once missing-
// value tokens and decimal commas are understood, and exact DECIMALs to
// columns read as text because they hold numbers too long for a DOUBLE
// (exact). It rewrites dst when a column changes and returns the new
// columns and what was done.
func refineText(ctx context.Context, conn *sql.Conn, dst string, cols []datasets.ColumnDef, delim byte, opts datasets.CSVOptions, exact map[string]string) ([]datasets.ColumnDef, []datasets.ColumnNote, error) {
	tokens := append(slices.Clone(tabular.NullTokens), opts.NullValues...)
	file := "read_parquet(" + sqlString(dst) + ")"
	var notes []datasets.ColumnNote
	exprs := make([]string, len(cols))
	out := slices.Clone(cols)
	changed := false
	for i, c := range cols {
		exprs[i] = sqlIdent(c.Name)
		if c.Type != "VARCHAR" {
			continue
		}
		_, isExact := exact[c.Name]
		if !isExact {
			ok, err := mayBeTyped(ctx, conn, file, c.Name, tokens)
			if err != nil {
				return nil, nil, err
			}
			if !ok {
				continue
			}
		}
		p, err := profile(ctx, conn, file, c.Name, tokens)
		if err != nil {
			return nil, nil, err
		}
		typ, expr, note := decide(p, sqlIdent(c.Name), tokens, delim, opts.DecimalSeparator, isExact)
		if typ == "" {
			if isExact {
				notes = append(notes, datasets.ColumnNote{Column: c.Name, Type: "VARCHAR", Exact: true})
			}
			continue
		}
		note.Column, note.Type, note.Exact = c.Name, typ, isExact
		notes = append(notes, note)
		exprs[i] = expr + " AS " + sqlIdent(c.Name)
		out[i].Type = typ
		changed = true
	}
	if !changed {
		return cols, notes, nil
	}
	tmp := dst + ".refined"
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("COPY (SELECT %s FROM %s) TO %s ("+partFormat+")",
		strings.Join(exprs, ", "), file, sqlString(tmp))); err != nil {
		return nil, nil, fmt.Errorf("retype columns: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return nil, nil, err
	}
	cols, err := parquetColumns(ctx, conn, []string{dst})
	return cols, notes, err
}

func tokenList(tokens []string) string {
	quoted := make([]string, len(tokens))
	for i, t := range tokens {
		quoted[i] = sqlString(t)
	}
	return "(" + strings.Join(quoted, ", ") + ")"
}

// mayBeTyped looks at the first values of a text column: a value that is
// neither a null token nor a number, date or boolean rules the column out
// cheaply (most text columns are ruled out by their first value).
func mayBeTyped(ctx context.Context, conn *sql.Conn, file, col string, tokens []string) (bool, error) {
	id := sqlIdent(col)
	q := fmt.Sprintf(`SELECT count(*) FILTER (WHERE NOT (v IN %s OR regexp_full_match(v, '%s') OR regexp_full_match(v, '%s')
		OR regexp_full_match(v, '%s') OR regexp_full_match(v, '%s') OR TRY_CAST(v AS TIMESTAMP) IS NOT NULL OR lower(v) IN ('true', 'false')))
		FROM (SELECT trim(%s) AS v FROM %s WHERE %s IS NOT NULL LIMIT %d)`,
		tokenList(tokens), intPattern, decimalPattern, commaPattern, pointPattern, id, file, id, refineSample)
	var others int64
	if err := conn.QueryRowContext(ctx, q).Scan(&others); err != nil {
		return false, fmt.Errorf("sample column %s: %w", col, err)
	}
	return others == 0, nil
}

func profile(ctx context.Context, conn *sql.Conn, file, col string, tokens []string) (columnProfile, error) {
	id := sqlIdent(col)
	tl := tokenList(tokens)
	q := fmt.Sprintf(`SELECT
		count(v), count(*) FILTER (WHERE v IN %[1]s),
		count(*) FILTER (WHERE regexp_full_match(v, '%[2]s')),
		count(*) FILTER (WHERE regexp_full_match(v, '%[3]s')),
		count(*) FILTER (WHERE regexp_full_match(v, '%[4]s')),
		count(*) FILTER (WHERE regexp_full_match(v, '%[5]s')),
		count(*) FILTER (WHERE v NOT IN %[1]s AND TRY_CAST(v AS DATE) IS NOT NULL AND TRY_CAST(v AS TIMESTAMP) = TRY_CAST(v AS DATE)),
		count(*) FILTER (WHERE v NOT IN %[1]s AND TRY_CAST(v AS TIMESTAMP) IS NOT NULL),
		count(*) FILTER (WHERE lower(v) IN ('true', 'false')),
		count(*) FILTER (WHERE v LIKE '%%,%%'), count(*) FILTER (WHERE v LIKE '%%.%%'),
		coalesce(max(length(regexp_extract(v, '^[+-]?([0-9]*)', 1))) FILTER (WHERE regexp_full_match(v, '%[2]s') OR regexp_full_match(v, '%[3]s')), 0),
		coalesce(max(length(regexp_extract(v, '\.([0-9]*)', 1))) FILTER (WHERE regexp_full_match(v, '%[3]s')), 0),
		coalesce(list_sort(list_distinct(list(v) FILTER (WHERE v IN %[1]s))), []::VARCHAR[])
		FROM (SELECT trim(%[6]s) AS v FROM %[7]s)`,
		tl, intPattern, decimalPattern, commaPattern, pointPattern, id, file)
	var p columnProfile
	var found []any
	err := conn.QueryRowContext(ctx, q).Scan(&p.values, &p.tokens, &p.ints, &p.decimals, &p.commas, &p.points,
		&p.dates, &p.stamps, &p.bools, &p.withComma, &p.withPoint, &p.intDigits, &p.fracDigits, &found)
	if err != nil {
		return p, fmt.Errorf("profile column %s: %w", col, err)
	}
	for _, f := range found {
		p.found = append(p.found, fmt.Sprint(f))
	}
	return p, nil
}

// decide picks the type of a profiled text column and the expression that
// reads it, or "" to keep it as text. DuckDB left the column as text for a
// reason this reading understands (null tokens, digit groups or a decimal
// comma, numbers too long for a DOUBLE); every other value must fit the
// type, and a column of nothing but tokens stays text.
func decide(p columnProfile, id string, tokens []string, delim, decSep byte, exact bool) (string, string, datasets.ColumnNote) {
	n := p.values - p.tokens
	note := datasets.ColumnNote{NullTokens: p.found}
	if n <= 0 {
		return "", "", note
	}
	v := "trim(" + id + ")"
	nullIf := func(expr string) string {
		return fmt.Sprintf("CASE WHEN %s IN %s THEN NULL ELSE %s END", v, tokenList(tokens), expr)
	}
	if exact || len(p.found) > 0 {
		switch {
		case p.ints == n && p.intDigits <= 18:
			return "BIGINT", nullIf("CAST(" + v + " AS BIGINT)"), note
		case p.ints == n && p.intDigits <= 38:
			return "DECIMAL(38,0)", nullIf("CAST(" + v + " AS DECIMAL(38,0))"), note
		case p.ints+p.decimals == n && decSep != ',' && (exact || p.intDigits+p.fracDigits > 15) && p.intDigits+p.fracDigits <= 38:
			// Exact where a DOUBLE would round.
			t := fmt.Sprintf("DECIMAL(38,%d)", max(p.fracDigits, 1))
			return t, nullIf("CAST(" + v + " AS " + t + ")"), note
		case p.ints+p.decimals == n && decSep != ',' && !exact:
			return "DOUBLE", nullIf("CAST(" + v + " AS DOUBLE)"), note
		case exact:
			return "", "", note
		}
	}
	switch decimalSeparatorOf(p, n, delim, decSep) {
	case ',':
		note.DecimalSeparator = ","
		plain := fmt.Sprintf(`replace(regexp_replace(%s, '[. \x{00A0}\x{202F}]', '', 'g'), ',', '.')`, v)
		return "DOUBLE", nullIf("CAST(" + plain + " AS DOUBLE)"), note
	case '.':
		note.DecimalSeparator = "."
		plain := fmt.Sprintf(`replace(%s, ',', '')`, v)
		return "DOUBLE", nullIf("CAST(" + plain + " AS DOUBLE)"), note
	}
	if len(p.found) == 0 {
		return "", "", note
	}
	switch {
	case p.dates == n:
		return "DATE", nullIf("CAST(" + v + " AS DATE)"), note
	case p.stamps == n:
		return "TIMESTAMP", nullIf("CAST(" + v + " AS TIMESTAMP)"), note
	case p.bools == n:
		return "BOOLEAN", nullIf("lower(" + v + ") = 'true'"), note
	}
	return "", "", note
}

// decimalSeparatorOf says how a column of grouped numbers is written:
// ',' when every value reads with a decimal comma, '.' with a decimal
// point and comma groups; where both readings fit (1,234), the user's
// choice, else the comma when the file's delimiter is not a comma (a
// European export) and the point otherwise. 0: neither.
func decimalSeparatorOf(p columnProfile, n int64, delim, decSep byte) byte {
	comma := p.commas == n && p.withComma > 0
	point := p.points == n && p.withComma > 0
	switch {
	case decSep == ',' && p.commas == n:
		return ','
	case decSep == '.' && point:
		return '.'
	case decSep != 0:
		return 0
	case comma && !point:
		return ','
	case point && !comma:
		return '.'
	case comma && point && delim != ',':
		return ','
	case comma && point:
		return '.'
	}
	return 0
}

// mismatch is the SQL condition under which a text value v does not fit
// type t without losing anything: DuckDB's own casts round decimals into
// integers and drop the time of a timestamp read as a date, so those are
// checked by the text's shape.
func mismatch(v, t string) string {
	base := fmt.Sprintf("%s IS NOT NULL AND TRY_CAST(%s AS %s) IS NULL", v, v, t)
	upper := strings.ToUpper(t)
	switch {
	case slices.Contains([]string{"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}, upper):
		return fmt.Sprintf("%s IS NOT NULL AND (TRY_CAST(%s AS %s) IS NULL OR NOT regexp_full_match(trim(%s), '[+-]?[0-9]+'))", v, v, t, v)
	case strings.HasPrefix(upper, "DECIMAL") || strings.HasPrefix(upper, "NUMERIC"):
		scale := 0
		if m := decimalScale.FindStringSubmatch(upper); m != nil {
			scale, _ = strconv.Atoi(m[1])
		}
		frac := ""
		if scale > 0 {
			frac = fmt.Sprintf(`(\.[0-9]{0,%d})?`, scale)
		}
		return fmt.Sprintf("%s IS NOT NULL AND (TRY_CAST(%s AS %s) IS NULL OR NOT regexp_full_match(trim(%s), '[+-]?([0-9]+%s|\\.[0-9]{1,%d})'))",
			v, v, t, v, frac, max(scale, 1))
	case upper == "DATE":
		return fmt.Sprintf("%s IS NOT NULL AND (TRY_CAST(%s AS DATE) IS NULL OR TRY_CAST(%s AS TIMESTAMP) IS DISTINCT FROM TRY_CAST(%s AS DATE))", v, v, v, v)
	}
	return base
}

var decimalScale = regexp.MustCompile(`\(\s*\d+\s*,\s*(\d+)\s*\)`)
