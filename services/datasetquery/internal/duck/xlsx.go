package duck

import (
	"archive/zip"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/xuri/excelize/v2"
)

// XLSXOptions choose what of a workbook becomes the dataset.
type XLSXOptions struct {
	// Sheet names the sheet; empty takes the first one.
	Sheet string
	// Header says whether the first non-empty row names the columns; nil
	// decides from the row: a header when all its cells are text.
	Header *bool
	// MaxCells caps the cells read (rows × columns); 0 means 50,000,000.
	MaxCells int64
}

const defaultXLSXMaxCells = 50_000_000

// colType is a column's type inferred over all its values; a mix of
// incompatible kinds widens to text so no value is lost.
type colType uint8

const (
	typeNull colType = iota
	typeBool
	typeBigint
	typeDouble
	typeDate
	typeTimestamp
	typeText
)

var colTypeSQL = [...]string{
	typeNull: "VARCHAR", typeBool: "BOOLEAN", typeBigint: "BIGINT", typeDouble: "DOUBLE",
	typeDate: "DATE", typeTimestamp: "TIMESTAMP", typeText: "VARCHAR",
}

// widen is the type of a column holding values of types a and b.
func widen(a, b colType) colType {
	switch {
	case a == b || b == typeNull:
		return a
	case a == typeNull:
		return b
	case (a == typeBigint && b == typeDouble) || (a == typeDouble && b == typeBigint):
		return typeDouble
	case (a == typeDate && b == typeTimestamp) || (a == typeTimestamp && b == typeDate):
		return typeTimestamp
	}
	return typeText
}

// ConvertXLSX streams one sheet of the workbook src into dst as zstd
// Parquet. Rows come from excelize's row iterator with raw cell values
// (the fast path: no number formatting); each cell's kind (text, boolean,
// number, or a number shown as a date/time by its style's number format)
// comes from a byte scan of the same sheet in step with it. Values are
// staged as text through a DuckDB appender while every column's type is
// inferred over all rows, then cast once on the way to Parquet.
func ConvertXLSX(ctx context.Context, lim Limits, src, dst string, opts XLSXOptions) (ConvertResult, error) {
	sheet, err := openSheet(src, opts.Sheet)
	if err != nil {
		return ConvertResult{}, err
	}
	defer sheet.close()
	var res ConvertResult
	err = withScratchConn(ctx, lim, func(conn *sql.Conn) error {
		st, err := sheet.stage(ctx, conn, opts)
		if err != nil {
			return err
		}
		res.Rows = st.rows
		if err := st.writeParquet(dst); err != nil {
			return err
		}
		cols, err := parquetColumns(ctx, conn, []string{dst})
		res.Columns = cols
		return err
	})
	return res, err
}

// CastXLSX is CastCSV for one sheet of an XLSX workbook (opts.Sheet, the
// first by default): the sheet is staged as ConvertXLSX stages it, then its
// columns are matched to the dataset's by name and cast to their types.
func CastXLSX(ctx context.Context, lim Limits, src, schemaFile, dst string, opts XLSXOptions) (int64, error) {
	sheet, err := openSheet(src, opts.Sheet)
	if err != nil {
		return 0, err
	}
	defer sheet.close()
	var n int64
	err = withScratchConn(ctx, lim, func(conn *sql.Conn) error {
		target, err := parquetColumns(ctx, conn, []string{schemaFile})
		if err != nil {
			return err
		}
		st, err := sheet.stage(ctx, conn, opts)
		if err != nil {
			return err
		}
		source := make(map[string]string, len(st.names))
		for i, name := range st.names {
			source[strings.ToLower(name)] = fmt.Sprintf("c%d", i)
		}
		n, err = castInto(ctx, conn, target, "stage", source, dst)
		return err
	})
	return n, err
}

// sheetSource is one sheet of an open workbook: excelize's row iterator
// with raw values, and the byte scan that reports each cell's kind.
type sheetSource struct {
	f        *excelize.File
	zr       *zip.ReadCloser
	part     io.ReadCloser
	rows     *excelize.Rows
	kinds    *kindScanner
	date1904 bool
}

// openSheet opens the named sheet of the workbook src (the first one when
// name is empty); a file that is no workbook or lacks the sheet is an
// *InputError.
func openSheet(src, name string) (*sheetSource, error) {
	s := &sheetSource{}
	ok := false
	defer func() {
		if !ok {
			s.close()
		}
	}()
	var err error
	s.f, err = excelize.OpenFile(src, excelize.Options{RawCellValue: true})
	if err != nil {
		return nil, &InputError{Message: "the file is not a readable XLSX workbook"}
	}
	sheets := s.f.GetSheetList()
	switch {
	case len(sheets) == 0:
		return nil, &InputError{Message: "the workbook has no sheets"}
	case name == "":
		name = sheets[0]
	case !slices.Contains(sheets, name):
		return nil, &InputError{Message: fmt.Sprintf("sheet %q not found (sheets: %s)", name, strings.Join(sheets, ", "))}
	}
	if p, err := s.f.GetWorkbookProps(); err == nil && p.Date1904 != nil {
		s.date1904 = *p.Date1904
	}
	if s.zr, err = zip.OpenReader(src); err != nil {
		return nil, &InputError{Message: "the file is not a readable XLSX workbook"}
	}
	part, err := sheetPart(&s.zr.Reader, name)
	if err != nil {
		return nil, &InputError{Message: "sheet " + name + " cannot be read: " + scrubPaths(err.Error())}
	}
	if s.part, err = s.zr.Open(part); err != nil {
		return nil, &InputError{Message: "sheet " + name + " cannot be read"}
	}
	s.kinds = newKindScanner(s.part, &styleClasses{f: s.f, known: map[int]numFmtClass{}})
	if s.rows, err = s.f.Rows(name); err != nil {
		return nil, &InputError{Message: "sheet " + name + " cannot be read: " + scrubPaths(err.Error())}
	}
	ok = true
	return s, nil
}

func (s *sheetSource) close() {
	if s.rows != nil {
		_ = s.rows.Close()
	}
	if s.part != nil {
		_ = s.part.Close()
	}
	if s.zr != nil {
		_ = s.zr.Close()
	}
	if s.f != nil {
		_ = s.f.Close()
	}
}

// stage reads the whole sheet into the VARCHAR table "stage" on conn,
// inferring every column's type on the way.
func (s *sheetSource) stage(ctx context.Context, conn *sql.Conn, opts XLSXOptions) (*xlsxStage, error) {
	if opts.MaxCells <= 0 {
		opts.MaxCells = defaultXLSXMaxCells
	}
	st := &xlsxStage{ctx: ctx, conn: conn, date1904: s.date1904, maxCells: opts.MaxCells}
	if err := st.read(s.rows, s.kinds, opts.Header); err != nil {
		_ = st.closeAppender()
		return nil, err
	}
	if err := st.closeAppender(); err != nil {
		return nil, err
	}
	return st, nil
}

// xlsxStage collects a sheet's rows in a VARCHAR staging table.
type xlsxStage struct {
	ctx      context.Context
	conn     *sql.Conn
	date1904 bool
	maxCells int64

	names []string
	types []colType
	app   *duckdb.Appender
	row   []driver.Value
	rows  int64
	cells int64
}

// rowBatch is a run of consecutive rows read by the iterator; first is the
// row number of vals[0].
type rowBatch struct {
	first int
	vals  [][]string
	err   error
}

const rowBatchSize = 1024

// iterateSheet runs excelize's iterator on its own goroutine (XML decoding is
// most of the cost) so staging overlaps it; batches arrive in order on the
// channel, which is closed at the end. Closing done stops it early; wait
// returns once the iterator is no longer used.
func iterateSheet(rows *excelize.Rows, done <-chan struct{}) (<-chan rowBatch, func()) {
	ch := make(chan rowBatch, 4)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(ch)
		b := rowBatch{first: 1}
		send := func() bool {
			select {
			case ch <- b:
				return true
			case <-done:
				return false
			}
		}
		n := 0
		for rows.Next() {
			n++
			vals, err := rows.Columns()
			if err != nil {
				b.err = fmt.Errorf("row %d: %w", n, err)
				send()
				return
			}
			b.vals = append(b.vals, vals)
			if len(b.vals) == rowBatchSize {
				if !send() {
					return
				}
				b = rowBatch{first: n + 1, vals: make([][]string, 0, rowBatchSize)}
			}
		}
		b.err = rows.Error()
		send()
	}()
	return ch, wg.Wait
}

func (st *xlsxStage) read(rows *excelize.Rows, kinds *kindScanner, header *bool) error {
	done := make(chan struct{})
	batches, wait := iterateSheet(rows, done)
	defer wait()
	defer close(done)
	seenFirst := false
	for b := range batches {
		if err := st.ctx.Err(); err != nil {
			return err
		}
		for i, vals := range b.vals {
			n := b.first + i
			ks, err := kinds.kindsOf(n)
			if err != nil {
				return &InputError{Message: fmt.Sprintf("row %d cannot be read: %s", n, scrubPaths(err.Error()))}
			}
			if isBlankRow(vals) {
				continue
			}
			if !seenFirst {
				seenFirst = true
				isHeader := allText(vals, ks)
				if header != nil {
					isHeader = *header
				}
				if isHeader {
					if err := st.addColumns(headerNames(vals)); err != nil {
						return err
					}
					continue
				}
			}
			if err := st.appendRow(n, vals, ks); err != nil {
				return err
			}
		}
		if b.err != nil {
			return &InputError{Message: "the sheet cannot be read: " + scrubPaths(b.err.Error())}
		}
	}
	if len(st.names) == 0 {
		return &InputError{Message: "the sheet is empty"}
	}
	return nil
}

func isBlankRow(vals []string) bool {
	for _, v := range vals {
		if v != "" {
			return false
		}
	}
	return true
}

func allText(vals []string, ks []cellKind) bool {
	for i, v := range vals {
		if v != "" && (i >= len(ks) || ks[i] != kindText) {
			return false
		}
	}
	return true
}

// headerNames turns a header row into column names: trimmed, an empty one
// becomes column_<n>, a repeated one (DuckDB names are case-insensitive)
// gets _<n> appended.
func headerNames(vals []string) []string {
	out := make([]string, len(vals))
	used := make(map[string]bool, len(vals))
	for i, v := range vals {
		name := strings.TrimSpace(v)
		if name == "" {
			name = fmt.Sprintf("column_%d", i+1)
		}
		base := name
		for k := 2; used[strings.ToLower(name)]; k++ {
			name = fmt.Sprintf("%s_%d", base, k)
		}
		used[strings.ToLower(name)] = true
		out[i] = name
	}
	return out
}

// addColumns adds staging columns (named later rows may be wider than the
// header); the appender is reopened to see them.
func (st *xlsxStage) addColumns(names []string) error {
	if err := st.closeAppender(); err != nil {
		return err
	}
	used := make(map[string]bool, len(st.names))
	for _, n := range st.names {
		used[strings.ToLower(n)] = true
	}
	for _, name := range names {
		for k := 2; used[strings.ToLower(name)]; k++ {
			name = fmt.Sprintf("column_%d_%d", len(st.names)+1, k)
		}
		used[strings.ToLower(name)] = true
		stmt := fmt.Sprintf("ALTER TABLE stage ADD COLUMN c%d VARCHAR", len(st.names))
		if len(st.names) == 0 {
			stmt = "CREATE TABLE stage (c0 VARCHAR)"
		}
		if _, err := st.conn.ExecContext(st.ctx, stmt); err != nil {
			return fmt.Errorf("stage sheet: %w", err)
		}
		st.names = append(st.names, name)
		st.types = append(st.types, typeNull)
	}
	st.row = make([]driver.Value, len(st.names))
	return st.conn.Raw(func(dc any) error {
		a, err := duckdb.NewAppenderFromConn(dc.(driver.Conn), "", "stage")
		if err != nil {
			return fmt.Errorf("stage sheet: %w", err)
		}
		st.app = a
		return nil
	})
}

func (st *xlsxStage) closeAppender() error {
	if st.app == nil {
		return nil
	}
	a := st.app
	st.app = nil
	if err := a.Close(); err != nil {
		return fmt.Errorf("stage sheet: %w", err)
	}
	return nil
}

// appendRow stages one row, rendering each value as text its column type
// can be cast from, and widens the column types.
func (st *xlsxStage) appendRow(n int, vals []string, ks []cellKind) error {
	if len(vals) > len(st.names) {
		extra := make([]string, 0, len(vals)-len(st.names))
		for i := len(st.names); i < len(vals); i++ {
			extra = append(extra, fmt.Sprintf("column_%d", i+1))
		}
		if err := st.addColumns(extra); err != nil {
			return err
		}
	}
	st.cells += int64(len(st.names))
	if st.cells > st.maxCells {
		return &InputError{Message: fmt.Sprintf("the sheet has more than %d cells", st.maxCells)}
	}
	for i := range st.row {
		st.row[i] = nil
		if i >= len(vals) || vals[i] == "" {
			continue
		}
		k := kindText
		if i < len(ks) {
			k = ks[i]
		}
		text, t := st.render(vals[i], k)
		st.row[i] = text
		st.types[i] = widen(st.types[i], t)
	}
	if err := st.app.AppendRow(st.row...); err != nil {
		return fmt.Errorf("stage row %d: %w", n, err)
	}
	st.rows++
	return nil
}

// render turns a raw cell value into the text staged for it and the type
// that value alone would give its column.
func (st *xlsxStage) render(raw string, k cellKind) (string, colType) {
	switch k {
	case kindBool:
		if raw == "1" || strings.EqualFold(raw, "true") {
			return "true", typeBool
		}
		return "false", typeBool
	case kindNumber:
		if _, err := strconv.ParseInt(raw, 10, 64); err == nil {
			return raw, typeBigint
		}
		if v, err := strconv.ParseFloat(raw, 64); err == nil && !math.IsInf(v, 0) && !math.IsNaN(v) {
			return raw, typeDouble
		}
	case kindDate, kindDateTime, kindTime:
		v, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			break
		}
		t, err := excelize.ExcelDateToTime(v, st.date1904)
		if err != nil {
			break
		}
		switch {
		case k == kindTime:
			return t.Format("15:04:05"), typeText
		case k == kindDate && v == math.Trunc(v):
			return t.Format("2006-01-02"), typeDate
		}
		return t.Format("2006-01-02 15:04:05.999999"), typeTimestamp
	}
	return raw, typeText
}

// writeParquet casts the staged text to the inferred types into dst.
func (st *xlsxStage) writeParquet(dst string) error {
	exprs := make([]string, len(st.names))
	for i, name := range st.names {
		t := st.types[i]
		if t == typeText || t == typeNull {
			exprs[i] = fmt.Sprintf("c%d AS %s", i, sqlIdent(name))
			continue
		}
		exprs[i] = fmt.Sprintf("CAST(c%d AS %s) AS %s", i, colTypeSQL[t], sqlIdent(name))
	}
	_, err := st.conn.ExecContext(st.ctx, fmt.Sprintf("COPY (SELECT %s FROM stage) TO %s ("+partFormat+")",
		strings.Join(exprs, ", "), sqlString(dst)))
	var de *duckdb.Error
	if errors.As(err, &de) {
		return &InputError{Message: scrubPaths(de.Msg)}
	}
	return err
}
