package duck

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// Limits bound the private DuckDB the service uses for its own work
// (conversion, insert, export): never the user's locked session.
type Limits struct {
	// TempDir is where DuckDB may spill; empty keeps DuckDB's default.
	TempDir string
	// MemoryLimit is a DuckDB size ("1GB"); empty keeps DuckDB's default.
	MemoryLimit string
	// Threads; 0 keeps DuckDB's default.
	Threads int
}

// CSVOptions is the dialect read_csv is given. The file is UTF-8 by then
// (the caller transcodes other encodings while downloading).
type CSVOptions struct {
	// Delimiter and Quote are single characters; empty lets DuckDB sniff.
	Delimiter, Quote string
	// Header says whether the first line names the columns; nil sniffs.
	Header *bool
	// IgnoreErrors skips malformed rows (counted and reported); off, any
	// malformed row fails the conversion.
	IgnoreErrors bool
}

// Reject is one malformed row that was skipped.
type Reject struct {
	Line    int64
	Kind    string
	Message string
}

// ConvertResult describes the Parquet file a conversion wrote.
type ConvertResult struct {
	Columns []ColumnDef
	Rows    int64
	// RejectedRows counts the malformed rows skipped; Rejects are the first
	// few of them by line.
	RejectedRows int64
	Rejects      []Reject
}

// InputError is a conversion or insert that failed because of the file's
// content, not the infrastructure: retrying cannot help. Message has no
// file system paths.
type InputError struct {
	Message string
	Rejects []Reject
}

func (e *InputError) Error() string { return e.Message }

// ColumnError names a dataset column an inserted file cannot fill.
type ColumnError struct {
	Column string
	Reason string
}

func (e *ColumnError) Error() string { return "column " + e.Column + ": " + e.Reason }

// maxReportedRejects is how many malformed rows a result lists.
const maxReportedRejects = 5

// ConvertCSV reads the CSV file src and writes it to dst as zstd Parquet.
//
// Types come from DuckDB's sniffer, which looks at a sample. A value past
// the sample that does not fit the guessed type shows up as a CAST reject;
// then the file is read again with the whole file as the sample (the column
// widens, e.g. BIGINT → VARCHAR), and should that still reject casts the
// offending columns are read as text. So a value is never dropped for its
// type; only rows that really are malformed (wrong column count, bad
// quoting, invalid UTF-8) are skipped and reported, or fail the conversion
// when opts.IgnoreErrors is off. The common case reads the file once.
func ConvertCSV(ctx context.Context, lim Limits, src, dst string, opts CSVOptions) (ConvertResult, error) {
	var res ConvertResult
	err := withScratchConn(ctx, lim, func(conn *sql.Conn) error {
		var err error
		res, err = convertCSV(ctx, conn, src, dst, opts)
		return err
	})
	return res, err
}

func convertCSV(ctx context.Context, conn *sql.Conn, src, dst string, opts CSVOptions) (ConvertResult, error) {
	var res ConvertResult
	var textCols []string
	for attempt := 0; ; attempt++ {
		extra := ""
		if attempt > 0 {
			extra = ", sample_size = -1"
		}
		if len(textCols) > 0 {
			pairs := make([]string, len(textCols))
			for i, c := range textCols {
				pairs[i] = sqlString(c) + ": 'VARCHAR'"
			}
			extra += ", types = {" + strings.Join(pairs, ", ") + "}"
		}
		for _, t := range []string{"reject_errors", "reject_scans"} {
			if _, err := conn.ExecContext(ctx, "DROP TABLE IF EXISTS "+t); err != nil {
				return res, fmt.Errorf("reset reject tables: %w", err)
			}
		}
		stmt := fmt.Sprintf("COPY (SELECT * FROM read_csv(%s%s, store_rejects = true%s)) TO %s ("+partFormat+")",
			sqlString(src), csvDialect(opts), extra, sqlString(dst))
		r, err := conn.ExecContext(ctx, stmt)
		if err != nil {
			return res, inputError(err)
		}
		res.Rows, _ = r.RowsAffected()
		castCols, err := castRejectColumns(ctx, conn)
		if err != nil {
			return res, err
		}
		if len(castCols) == 0 {
			break
		}
		if attempt >= 2 {
			return res, &InputError{Message: "columns " + strings.Join(castCols, ", ") + " could not be read even as text"}
		}
		if attempt == 1 {
			textCols = append(textCols, castCols...)
		}
	}
	if err := conn.QueryRowContext(ctx, "SELECT count(DISTINCT line) FROM reject_errors").Scan(&res.RejectedRows); err != nil {
		return res, fmt.Errorf("count rejected rows: %w", err)
	}
	if res.RejectedRows > 0 {
		rejects, err := firstRejects(ctx, conn)
		if err != nil {
			return res, err
		}
		res.Rejects = rejects
		if !opts.IgnoreErrors {
			return res, &InputError{Message: fmt.Sprintf("%d malformed rows: %s", res.RejectedRows, DescribeRejects(rejects)), Rejects: rejects}
		}
	}
	cols, err := parquetColumns(ctx, conn, []string{dst})
	if err != nil {
		return res, err
	}
	res.Columns = cols
	return res, nil
}

// csvDialect renders the read_csv options the caller fixed.
func csvDialect(o CSVOptions) string {
	var b strings.Builder
	if o.Delimiter != "" {
		b.WriteString(", delim = " + sqlString(o.Delimiter))
	}
	if o.Quote != "" {
		b.WriteString(", quote = " + sqlString(o.Quote))
	}
	if o.Header != nil {
		fmt.Fprintf(&b, ", header = %t", *o.Header)
	}
	return b.String()
}

// castRejectColumns lists the columns with values that did not fit the
// sniffed type in the last scan.
func castRejectColumns(ctx context.Context, conn *sql.Conn) ([]string, error) {
	rows, err := conn.QueryContext(ctx, "SELECT DISTINCT column_name FROM reject_errors WHERE error_type = 'CAST' AND column_name IS NOT NULL ORDER BY 1")
	if err != nil {
		return nil, fmt.Errorf("read rejects: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, fmt.Errorf("read rejects: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// firstRejects returns the first malformed rows by line, one entry each.
func firstRejects(ctx context.Context, conn *sql.Conn) ([]Reject, error) {
	rows, err := conn.QueryContext(ctx, fmt.Sprintf(
		"SELECT line, arg_min(error_type::VARCHAR, error_message), min(error_message) FROM reject_errors GROUP BY line ORDER BY line LIMIT %d",
		maxReportedRejects))
	if err != nil {
		return nil, fmt.Errorf("read rejects: %w", err)
	}
	defer rows.Close()
	var out []Reject
	for rows.Next() {
		var r Reject
		if err := rows.Scan(&r.Line, &r.Kind, &r.Message); err != nil {
			return nil, fmt.Errorf("read rejects: %w", err)
		}
		r.Message = scrubPaths(r.Message)
		out = append(out, r)
	}
	return out, rows.Err()
}

// DescribeRejects renders rejects for a message: "line 5: …; line 9: …".
func DescribeRejects(rs []Reject) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("line %d: %s (%s)", r.Line, r.Message, strings.ToLower(r.Kind))
	}
	return strings.Join(parts, "; ")
}

// parquetColumns are the column names and DuckDB types of Parquet files.
func parquetColumns(ctx context.Context, conn *sql.Conn, files []string) ([]ColumnDef, error) {
	rows, err := conn.QueryContext(ctx, "DESCRIBE SELECT * FROM read_parquet("+fileList(files)+")")
	if err != nil {
		return nil, fmt.Errorf("describe parquet: %w", err)
	}
	defer rows.Close()
	names, _ := rows.Columns()
	var out []ColumnDef
	for rows.Next() {
		vals := make([]any, len(names))
		ptrs := make([]any, len(names))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("describe parquet: %w", err)
		}
		out = append(out, ColumnDef{Name: fmt.Sprint(vals[0]), Type: fmt.Sprint(vals[1])})
	}
	return out, rows.Err()
}

// CastCSV reads the CSV src (every value as text) and writes to dst, as
// Parquet, the columns of the dataset whose Parquet file is schemaFile:
// file columns are matched to dataset columns by name case-insensitively
// and cast to the dataset's exact types. A dataset column the file lacks,
// or a value that does not cast, is a *ColumnError; a malformed row is an
// *InputError (an insert takes all rows or none). It returns the row count.
func CastCSV(ctx context.Context, lim Limits, src, schemaFile, dst string, opts CSVOptions) (int64, error) {
	var n int64
	err := withScratchConn(ctx, lim, func(conn *sql.Conn) error {
		target, err := parquetColumns(ctx, conn, []string{schemaFile})
		if err != nil {
			return err
		}
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("CREATE TEMP TABLE src AS SELECT * FROM read_csv(%s%s, all_varchar = true)",
			sqlString(src), csvDialect(opts))); err != nil {
			return inputError(err)
		}
		fileCols, err := parquetColumnsOfTable(ctx, conn, "src")
		if err != nil {
			return err
		}
		source := make(map[string]string, len(fileCols))
		for _, c := range fileCols {
			source[strings.ToLower(c)] = sqlIdent(c)
		}
		n, err = castInto(ctx, conn, target, "src", source, dst)
		return err
	})
	return n, err
}

// castInto writes the rows of a staging table of text columns to dst as
// Parquet with the target columns, each filled from the source column of
// the same lower-cased name (source maps it to the staging column's SQL
// expression) and cast to the target's type. Every value is checked before
// anything is written, so a missing column or a value that does not cast
// is a *ColumnError naming the column.
func castInto(ctx context.Context, conn *sql.Conn, target []ColumnDef, table string, source map[string]string, dst string) (int64, error) {
	exprs := make([]string, len(target))
	checks := make([]string, len(target))
	for i, t := range target {
		col, ok := source[strings.ToLower(t.Name)]
		if !ok {
			return 0, &ColumnError{Column: t.Name, Reason: "missing in the file"}
		}
		exprs[i] = fmt.Sprintf("CAST(%s AS %s) AS %s", col, t.Type, sqlIdent(t.Name))
		checks[i] = fmt.Sprintf("count(*) FILTER (WHERE %s IS NOT NULL AND TRY_CAST(%s AS %s) IS NULL)", col, col, t.Type)
	}
	bad := make([]any, len(target))
	ptrs := make([]any, len(target))
	for i := range bad {
		ptrs[i] = &bad[i]
	}
	if err := conn.QueryRowContext(ctx, "SELECT "+strings.Join(checks, ", ")+" FROM "+table).Scan(ptrs...); err != nil {
		return 0, fmt.Errorf("check casts: %w", err)
	}
	for i, b := range bad {
		if fmt.Sprint(b) != "0" {
			return 0, &ColumnError{Column: target[i].Name, Reason: fmt.Sprintf("%v values are not %s", b, strings.ToLower(target[i].Type))}
		}
	}
	r, err := conn.ExecContext(ctx, fmt.Sprintf("COPY (SELECT %s FROM %s) TO %s ("+partFormat+")",
		strings.Join(exprs, ", "), table, sqlString(dst)))
	if err != nil {
		return 0, inputError(err)
	}
	n, _ := r.RowsAffected()
	return n, nil
}

// parquetColumnsOfTable lists a table's column names in order.
func parquetColumnsOfTable(ctx context.Context, conn *sql.Conn, table string) ([]string, error) {
	rows, err := conn.QueryContext(ctx, "SELECT column_name FROM duckdb_columns() WHERE table_name = "+sqlString(table)+" ORDER BY column_index")
	if err != nil {
		return nil, fmt.Errorf("list columns: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, fmt.Errorf("list columns: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ExportFormats maps an export format to its COPY options and Content-Type.
var exportFormats = map[string]struct{ options, contentType string }{
	"csv":     {"FORMAT csv, HEADER true", "text/csv"},
	"json":    {"FORMAT json, ARRAY true", "application/json"},
	"parquet": {"FORMAT parquet, COMPRESSION zstd", "application/vnd.apache.parquet"},
}

// ExportContentType is the Content-Type of an export format; ok is false
// for an unknown format.
func ExportContentType(format string) (string, bool) {
	f, ok := exportFormats[format]
	return f.contentType, ok
}

// Export writes the rows of the Parquet files, in file order, to dst in
// format (csv with a header, json as one array of objects, or parquet).
func Export(ctx context.Context, lim Limits, files []string, format, dst string) error {
	f, ok := exportFormats[format]
	if !ok {
		return fmt.Errorf("unknown export format %q", format)
	}
	return withScratchConn(ctx, lim, func(conn *sql.Conn) error {
		_, err := conn.ExecContext(ctx, fmt.Sprintf("COPY (SELECT * FROM read_parquet(%s)) TO %s (%s)",
			fileList(files), sqlString(dst), f.options))
		return err
	})
}

func fileList(files []string) string {
	quoted := make([]string, len(files))
	for i, f := range files {
		quoted[i] = sqlString(f)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// inputError marks a DuckDB error reading the user's file as the input's
// fault, without paths; other errors pass unchanged.
func inputError(err error) error {
	var de *duckdb.Error
	if errors.As(err, &de) {
		msg, _, _ := strings.Cut(scrubPaths(de.Msg), "\n\nPossible")
		return &InputError{Message: strings.TrimSpace(msg)}
	}
	return err
}

// withScratchConn runs fn on one connection of a private in-memory DuckDB
// with the limits applied.
func withScratchConn(ctx context.Context, lim Limits, fn func(conn *sql.Conn) error) error {
	return withScratchDB(ctx, func(db *sql.DB) error {
		conn, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		var settings []string
		if lim.MemoryLimit != "" {
			settings = append(settings, "SET memory_limit = "+sqlString(lim.MemoryLimit))
		}
		if lim.Threads > 0 {
			settings = append(settings, fmt.Sprintf("SET threads = %d", lim.Threads))
		}
		if lim.TempDir != "" {
			settings = append(settings, "SET temp_directory = "+sqlString(lim.TempDir))
		}
		for _, s := range settings {
			if _, err := conn.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("configure scratch database: %w", err)
			}
		}
		return fn(conn)
	})
}

// CachedParts returns local copies of a table's Parquet parts from the
// user's cache (downloaded if needed), for the service's own reads (export,
// insert). release must be called when the files are no longer read.
func (m *Manager) CachedParts(ctx context.Context, userID string, t Table) ([]string, func(), error) {
	s, release, err := m.acquire(ctx, userID)
	if err != nil {
		return nil, nil, err
	}
	files, err := m.cacheParts(ctx, s.cacheDir, t)
	if err != nil {
		release()
		return nil, nil, err
	}
	return files, release, nil
}
