package duck

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/nonefinity/backend/services/datasetquery/internal/datasets"
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

// ConvertCSV reads the prepared CSV src and writes it to dst as zstd
// Parquet.
//
// Types come from DuckDB's sniffer, which looks at a sample. A value past
// the sample that does not fit the guessed type shows up as a CAST reject;
// then the file is read again with the whole file as the sample (the column
// widens, e.g. BIGINT → VARCHAR), and should that still reject casts the
// offending columns are read as text. A DOUBLE column holding integers
// beyond 2^53 is read again as text and made an exact DECIMAL. Text
// columns that are numbers or dates apart from missing-value tokens (NA)
// or written with decimal commas are then given their type (refine). So a
// value is never dropped or rounded for its type. The common case reads
// the file once.
func ConvertCSV(ctx context.Context, lim Limits, src datasets.CSVSource, dst string, opts datasets.CSVOptions) (datasets.ConvertResult, error) {
	var res datasets.ConvertResult
	err := withScratchConn(ctx, lim, func(conn *sql.Conn) error {
		var err error
		res, err = convertCSV(ctx, conn, src, dst, opts)
		return err
	})
	return res, err
}

func convertCSV(ctx context.Context, conn *sql.Conn, src datasets.CSVSource, dst string, opts datasets.CSVOptions) (datasets.ConvertResult, error) {
	var res datasets.ConvertResult
	if src.Rows == 0 {
		cols := make([]datasets.ColumnDef, len(src.Names))
		for i, n := range src.Names {
			cols[i] = datasets.ColumnDef{Name: n, Type: "VARCHAR"}
		}
		if _, err := conn.ExecContext(ctx, emptyParquetStatement(cols, dst)); err != nil {
			return res, fmt.Errorf("write empty parquet: %w", err)
		}
		res.Columns = cols
		return res, nil
	}
	forced := map[string]string{}
	for pass := 0; ; pass++ {
		rows, err := readCSVToParquet(ctx, conn, src, dst, opts, forced)
		if err != nil {
			return res, err
		}
		res.Rows = rows
		cols, err := parquetColumns(ctx, conn, []string{dst})
		if err != nil {
			return res, err
		}
		res.Columns = cols
		big, err := inexactDoubles(ctx, conn, dst, cols)
		if err != nil {
			return res, err
		}
		if len(big) == 0 || pass > 0 {
			break
		}
		for _, c := range big {
			forced[c] = "VARCHAR"
		}
	}
	cols, notes, err := refineText(ctx, conn, dst, res.Columns, src.Delimiter, opts, forced)
	if err != nil {
		return res, err
	}
	res.Columns, res.Notes = cols, notes
	return res, nil
}

// readCSVToParquet runs the read (with the CAST retries) and checks it
// against the scan.
func readCSVToParquet(ctx context.Context, conn *sql.Conn, src datasets.CSVSource, dst string, opts datasets.CSVOptions, forced map[string]string) (int64, error) {
	textCols := map[string]bool{}
	var rows int64
	for attempt := 0; ; attempt++ {
		types := map[string]string{}
		for c, t := range forced {
			types[c] = t
		}
		for c := range textCols {
			types[c] = "VARCHAR"
		}
		for _, t := range []string{"reject_errors", "reject_scans"} {
			if _, err := conn.ExecContext(ctx, "DROP TABLE IF EXISTS "+t); err != nil {
				return 0, fmt.Errorf("reset reject tables: %w", err)
			}
		}
		stmt := fmt.Sprintf("COPY (SELECT * FROM %s) TO %s ("+partFormat+")",
			readCSVCall(src, opts, types, attempt > 0, false), sqlString(dst))
		r, err := conn.ExecContext(ctx, stmt)
		if err != nil {
			var de *duckdb.Error
			if errors.As(err, &de) {
				return 0, &datasets.DisagreeError{Detail: datasets.ScrubPaths(firstLine(de.Msg))}
			}
			return 0, err
		}
		rows, _ = r.RowsAffected()
		castCols, others, err := rejectSummary(ctx, conn)
		if err != nil {
			return 0, err
		}
		if others != "" {
			return 0, &datasets.DisagreeError{Detail: others}
		}
		if len(castCols) == 0 {
			break
		}
		if attempt >= 2 {
			return 0, &datasets.InputError{Message: "columns " + strings.Join(castCols, ", ") + " could not be read even as text"}
		}
		if attempt == 1 {
			for _, c := range castCols {
				textCols[c] = true
			}
		}
	}
	if src.Rows >= 0 && rows != src.Rows {
		return 0, &datasets.DisagreeError{Detail: fmt.Sprintf("%d rows read, %d counted", rows, src.Rows)}
	}
	return rows, nil
}

// readCSVCall renders read_csv over a prepared source: the dialect fixed,
// no header (the names are ours), no comment lines, rejects stored.
func readCSVCall(src datasets.CSVSource, opts datasets.CSVOptions, types map[string]string, wholeSample, allVarchar bool) string {
	var b strings.Builder
	b.WriteString("read_csv(" + sqlString(src.Path))
	b.WriteString(", delim = " + sqlString(string(src.Delimiter)))
	if src.Quote == 0 {
		b.WriteString(", quote = '', escape = ''")
	} else {
		q := sqlString(string(src.Quote))
		b.WriteString(", quote = " + q + ", escape = " + q)
	}
	switch src.Newline {
	case '\n':
		b.WriteString(", new_line = '\\n'")
	case '\r':
		b.WriteString(", new_line = '\\r'")
	}
	fmt.Fprintf(&b, ", header = false, skip = %d, comment = '', strict_mode = true", src.SkipLines)
	names := make([]string, len(src.Names))
	for i, n := range src.Names {
		names[i] = sqlString(n)
	}
	b.WriteString(", names = [" + strings.Join(names, ", ") + "]")
	if src.MaxRecordBytes >= 1<<20 {
		fmt.Fprintf(&b, ", max_line_size = %d", src.MaxRecordBytes+1024)
	}
	if len(opts.NullValues) > 0 {
		nulls := []string{"''"}
		for _, v := range opts.NullValues {
			nulls = append(nulls, sqlString(v))
		}
		b.WriteString(", nullstr = [" + strings.Join(nulls, ", ") + "]")
	}
	if opts.DecimalSeparator == ',' {
		b.WriteString(", decimal_separator = ','")
	}
	if allVarchar {
		b.WriteString(", all_varchar = true")
	} else {
		b.WriteString(", store_rejects = true")
	}
	if wholeSample {
		b.WriteString(", sample_size = -1")
	}
	if len(types) > 0 {
		pairs := make([]string, 0, len(types))
		for _, n := range src.Names {
			if t, ok := types[n]; ok {
				pairs = append(pairs, sqlString(n)+": "+sqlString(t))
			}
		}
		b.WriteString(", types = {" + strings.Join(pairs, ", ") + "}")
	}
	b.WriteString(")")
	return b.String()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}

// rejectSummary reads the last scan's rejects: the columns with values
// that did not fit the sniffed type, and any other kind of reject (which
// a prepared file must not have).
func rejectSummary(ctx context.Context, conn *sql.Conn) ([]string, string, error) {
	rows, err := conn.QueryContext(ctx, "SELECT error_type::VARCHAR, column_name, min(line), count(*) FROM reject_errors GROUP BY ALL ORDER BY 3")
	if err != nil {
		return nil, "", fmt.Errorf("read rejects: %w", err)
	}
	defer rows.Close()
	var casts []string
	var others []string
	for rows.Next() {
		var kind string
		var col sql.NullString
		var line, n int64
		if err := rows.Scan(&kind, &col, &line, &n); err != nil {
			return nil, "", fmt.Errorf("read rejects: %w", err)
		}
		if kind == "CAST" && col.Valid {
			if !slices.Contains(casts, col.String) {
				casts = append(casts, col.String)
			}
			continue
		}
		others = append(others, fmt.Sprintf("%d %s rejects from line %d", n, strings.ToLower(kind), line))
	}
	slices.Sort(casts)
	return casts, strings.Join(others, "; "), rows.Err()
}

// exactDoubleLimit is 2^53: integers above it are not all representable
// as a DOUBLE.
const exactDoubleLimit = 9007199254740992

// inexactDoubles lists the DOUBLE columns holding an integral value
// beyond 2^53: read from text such as a 20-digit identifier, the DOUBLE
// may have lost digits.
func inexactDoubles(ctx context.Context, conn *sql.Conn, file string, cols []datasets.ColumnDef) ([]string, error) {
	var names, exprs []string
	for _, c := range cols {
		if c.Type == "DOUBLE" {
			names = append(names, c.Name)
			id := sqlIdent(c.Name)
			exprs = append(exprs, fmt.Sprintf("coalesce(bool_or(abs(%s) >= %d AND %s = trunc(%s)), false)", id, exactDoubleLimit, id, id))
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	flags := make([]bool, len(names))
	ptrs := make([]any, len(names))
	for i := range flags {
		ptrs[i] = &flags[i]
	}
	if err := conn.QueryRowContext(ctx, "SELECT "+strings.Join(exprs, ", ")+" FROM read_parquet("+sqlString(file)+")").Scan(ptrs...); err != nil {
		return nil, fmt.Errorf("check doubles: %w", err)
	}
	var out []string
	for i, f := range flags {
		if f {
			out = append(out, names[i])
		}
	}
	return out, nil
}

// parquetColumns are the column names and DuckDB types of Parquet files.
func parquetColumns(ctx context.Context, conn *sql.Conn, files []string) ([]datasets.ColumnDef, error) {
	rows, err := conn.QueryContext(ctx, "DESCRIBE SELECT * FROM read_parquet("+fileList(files)+")")
	if err != nil {
		return nil, fmt.Errorf("describe parquet: %w", err)
	}
	defer rows.Close()
	names, _ := rows.Columns()
	var out []datasets.ColumnDef
	for rows.Next() {
		vals := make([]any, len(names))
		ptrs := make([]any, len(names))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("describe parquet: %w", err)
		}
		out = append(out, datasets.ColumnDef{Name: fmt.Sprint(vals[0]), Type: fmt.Sprint(vals[1])})
	}
	return out, rows.Err()
}

// CastCSV reads the prepared CSV src (every value as text) and writes to
// dst, as Parquet, the columns of the dataset whose Parquet file is
// schemaFile: file columns are matched to dataset columns by name
// case-insensitively and cast to the dataset's exact types. A dataset
// column the file lacks, or a value that does not fit the type without
// loss, is a *ColumnError (an insert takes all rows or none). It returns
// the row count.
func CastCSV(ctx context.Context, lim Limits, src datasets.CSVSource, schemaFile, dst string, opts datasets.CSVOptions) (int64, error) {
	var n int64
	err := withScratchConn(ctx, lim, func(conn *sql.Conn) error {
		target, err := parquetColumns(ctx, conn, []string{schemaFile})
		if err != nil {
			return err
		}
		create := "CREATE TEMP TABLE src AS SELECT * FROM " + readCSVCall(src, opts, nil, false, true)
		if src.Rows == 0 {
			// A file of a header alone: DuckDB has nothing to read.
			cols := make([]string, len(src.Names))
			for i, n := range src.Names {
				cols[i] = sqlIdent(n) + " VARCHAR"
			}
			create = "CREATE TEMP TABLE src (" + strings.Join(cols, ", ") + ")"
		}
		if _, err := conn.ExecContext(ctx, create); err != nil {
			var de *duckdb.Error
			if errors.As(err, &de) {
				return &datasets.DisagreeError{Detail: datasets.ScrubPaths(firstLine(de.Msg))}
			}
			return err
		}
		var count int64
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM src").Scan(&count); err != nil {
			return fmt.Errorf("count rows: %w", err)
		}
		if src.Rows >= 0 && count != src.Rows {
			return &datasets.DisagreeError{Detail: fmt.Sprintf("%d rows read, %d counted", count, src.Rows)}
		}
		source := make(map[string]string, len(src.Names))
		for _, c := range src.Names {
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
// anything is written, so a missing column or a value that does not fit is
// a *ColumnError naming the column.
func castInto(ctx context.Context, conn *sql.Conn, target []datasets.ColumnDef, table string, source map[string]string, dst string) (int64, error) {
	exprs := make([]string, len(target))
	checks := make([]string, len(target))
	for i, t := range target {
		col, ok := source[strings.ToLower(t.Name)]
		if !ok {
			return 0, &datasets.ColumnError{Column: t.Name, Reason: "missing in the file"}
		}
		exprs[i] = fmt.Sprintf("CAST(%s AS %s) AS %s", col, t.Type, sqlIdent(t.Name))
		checks[i] = fmt.Sprintf("count(*) FILTER (WHERE %s)", mismatch(col, t.Type))
	}
	bad := make([]int64, len(target))
	ptrs := make([]any, len(target))
	for i := range bad {
		ptrs[i] = &bad[i]
	}
	if err := conn.QueryRowContext(ctx, "SELECT "+strings.Join(checks, ", ")+" FROM "+table).Scan(ptrs...); err != nil {
		return 0, fmt.Errorf("check casts: %w", err)
	}
	for i, b := range bad {
		if b != 0 {
			return 0, &datasets.ColumnError{Column: target[i].Name, Reason: fmt.Sprintf("%d values are not %s", b, strings.ToLower(target[i].Type))}
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

// exportOptions are the COPY options of each of datasets.ExportFormats.
var exportOptions = map[string]string{
	"csv":     "FORMAT csv, HEADER true",
	"json":    "FORMAT json, ARRAY true",
	"parquet": "FORMAT parquet, COMPRESSION zstd",
}

// Export writes the rows of the Parquet files, in file order, to dst in
// format (csv with a header, json as one array of objects, or parquet).
func Export(ctx context.Context, lim Limits, files []string, format, dst string) error {
	options, ok := exportOptions[format]
	if !ok {
		return fmt.Errorf("unknown export format %q", format)
	}
	return withScratchConn(ctx, lim, func(conn *sql.Conn) error {
		_, err := conn.ExecContext(ctx, fmt.Sprintf("COPY (SELECT * FROM read_parquet(%s)) TO %s (%s)",
			fileList(files), sqlString(dst), options))
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
		msg, _, _ := strings.Cut(datasets.ScrubPaths(de.Msg), "\n\nPossible")
		return &datasets.InputError{Message: strings.TrimSpace(msg)}
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
func (m *Manager) CachedParts(ctx context.Context, userID string, t datasets.Table) ([]string, func(), error) {
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
