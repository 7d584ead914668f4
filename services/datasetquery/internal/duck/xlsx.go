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
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/xuri/excelize/v2"

	"github.com/nonefinity/backend/pkg/tabular"
	"github.com/nonefinity/backend/pkg/zipcopy"
	"github.com/nonefinity/backend/services/datasetquery/internal/datasets"
)

const defaultXLSXMaxCells = 50_000_000

// layoutRows is how many rows the layout decision reads before staging
// starts.
const layoutRows = 200

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
	typeTime
	typeInterval
	typeText
)

var colTypeSQL = [...]string{
	typeNull: "VARCHAR", typeBool: "BOOLEAN", typeBigint: "BIGINT", typeDouble: "DOUBLE",
	typeDate: "DATE", typeTimestamp: "TIMESTAMP", typeTime: "TIME", typeInterval: "INTERVAL", typeText: "VARCHAR",
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
	case (a == typeTime && b == typeInterval) || (a == typeInterval && b == typeTime):
		// A column of elapsed times where a writer formatted the ones under
		// 24 hours as times of day (LibreOffice does): a time of day is the
		// duration since midnight.
		return typeInterval
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
func ConvertXLSX(ctx context.Context, lim Limits, src, dst string, opts datasets.XLSXOptions) (datasets.ConvertResult, error) {
	sheet, err := openSheet(src, opts)
	if err != nil {
		return datasets.ConvertResult{}, err
	}
	defer sheet.close()
	var res datasets.ConvertResult
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
		res.Sheet = st.reading(sheet.name)
		return err
	})
	return res, err
}

// CastXLSX is CastCSV for one sheet of an XLSX workbook (opts.Sheet, the
// first by default): the sheet is staged as ConvertXLSX stages it, then its
// columns are matched to the dataset's by name and cast to their types.
func CastXLSX(ctx context.Context, lim Limits, src, schemaFile, dst string, opts datasets.XLSXOptions) (int64, error) {
	sheet, err := openSheet(src, opts)
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
		// Staged text of cells the workbook typed (dates, booleans) is in
		// the forms the casts read.
		n, err = castInto(ctx, conn, target, "stage", source, dst)
		return err
	})
	return n, err
}

// sheetSource is one sheet of an open workbook: excelize's row iterator
// with raw values, and the byte scan that reports each cell's kind.
type sheetSource struct {
	name     string
	f        *excelize.File
	zr       *zip.ReadCloser
	part     io.ReadCloser
	rows     *excelize.Rows
	kinds    *kindScanner
	date1904 bool
	// pkg is the copy of the workbook holding only this sheet's parts.
	pkg string
}

// openSheet opens the named sheet of the workbook src (the first one when
// name is empty); a file that is no workbook or lacks the sheet is an
// *InputError. Only the parts that sheet needs reach excelize, within
// opts.MaxUncompressed, and a sheet too large to hold in memory is
// inflated into opts.TempDir (default: src's directory).
func openSheet(src string, opts datasets.XLSXOptions) (*sheetSource, error) {
	s := &sheetSource{}
	ok := false
	defer func() {
		if !ok {
			s.close()
		}
	}()
	limit := opts.MaxUncompressed
	if limit <= 0 {
		limit = defaultXLSXMaxUncompressed
	}
	tmp := opts.TempDir
	if tmp == "" {
		tmp = filepath.Dir(src)
	}
	var err error
	if s.zr, err = zip.OpenReader(src); err != nil {
		return nil, &datasets.InputError{Message: "the file is not a readable XLSX workbook"}
	}
	ix, err := readWorkbookIndex(&s.zr.Reader)
	if err != nil {
		return nil, &datasets.InputError{Message: "the file is not a readable XLSX workbook: " + datasets.ScrubPaths(err.Error())}
	}
	names := make([]string, len(ix.sheets))
	for i, sh := range ix.sheets {
		names[i] = sh.name
	}
	var sheet sheetRef
	switch i := slices.Index(names, opts.Sheet); {
	case len(ix.sheets) == 0:
		return nil, &datasets.InputError{Message: "the workbook has no sheets"}
	case opts.Sheet == "":
		sheet = ix.sheets[0]
	case i < 0:
		return nil, &datasets.InputError{Message: fmt.Sprintf("sheet %q not found (sheets: %s)", opts.Sheet, strings.Join(names, ", "))}
	default:
		sheet = ix.sheets[i]
	}
	if sheet.part == "" {
		return nil, &datasets.InputError{Message: "sheet " + sheet.name + " has no worksheet part"}
	}
	s.name = sheet.name
	keep, err := ix.partsFor(&s.zr.Reader, sheet, limit)
	if err != nil {
		return nil, err
	}
	pkg, err := os.CreateTemp(tmp, "sheet-*.xlsx")
	if err != nil {
		return nil, fmt.Errorf("workbook copy: %w", err)
	}
	s.pkg = pkg.Name()
	err = zipcopy.Entries(pkg, keep)
	if cerr := pkg.Close(); err == nil && cerr != nil {
		return nil, fmt.Errorf("workbook copy: %w", cerr)
	}
	if err != nil {
		return nil, &datasets.InputError{Message: "the workbook is corrupt"}
	}
	s.f, err = excelize.OpenFile(s.pkg, excelize.Options{
		RawCellValue:      true,
		UnzipSizeLimit:    limit,
		UnzipXMLSizeLimit: min(xlsxXMLInMemory, limit),
		TmpDir:            tmp,
	})
	if err != nil {
		return nil, &datasets.InputError{Message: "the file is not a readable XLSX workbook"}
	}
	if p, err := s.f.GetWorkbookProps(); err == nil && p.Date1904 != nil {
		s.date1904 = *p.Date1904
	}
	if s.part, err = s.zr.Open(sheet.part); err != nil {
		return nil, &datasets.InputError{Message: "sheet " + sheet.name + " cannot be read"}
	}
	s.kinds = newKindScanner(s.part, &styleClasses{f: s.f, known: map[int]numFmtClass{}})
	if s.rows, err = s.f.Rows(sheet.name); err != nil {
		return nil, &datasets.InputError{Message: "sheet " + sheet.name + " cannot be read: " + datasets.ScrubPaths(err.Error())}
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
	if s.pkg != "" {
		_ = os.Remove(s.pkg)
	}
}

// stage reads the whole sheet into the VARCHAR table "stage" on conn,
// inferring every column's type on the way.
func (s *sheetSource) stage(ctx context.Context, conn *sql.Conn, opts datasets.XLSXOptions) (*xlsxStage, error) {
	if opts.MaxCells <= 0 {
		opts.MaxCells = defaultXLSXMaxCells
	}
	if opts.MaxColumns <= 0 {
		opts.MaxColumns = 16384
	}
	st := &xlsxStage{ctx: ctx, conn: conn, date1904: s.date1904, maxCells: opts.MaxCells, maxColumns: opts.MaxColumns, tokens: map[int]map[string]bool{}}
	if err := st.read(s.rows, s.kinds, opts); err != nil {
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
	ctx        context.Context
	conn       *sql.Conn
	date1904   bool
	maxCells   int64
	maxColumns int

	names []string
	types []colType
	// tokens are, by column, the null tokens seen in text cells: NULL
	// when the column turns out to be of another type.
	tokens map[int]map[string]bool
	app    *duckdb.Appender
	row    []driver.Value
	rows   int64
	cells  int64

	headerRow int
	skipRows  int
	preamble  []string
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

// headRow is a row read before the layout is decided.
type headRow struct {
	n    int
	vals []string
	ks   []cellKind
}

func (st *xlsxStage) read(rows *excelize.Rows, kinds *kindScanner, opts datasets.XLSXOptions) error {
	done := make(chan struct{})
	batches, wait := iterateSheet(rows, done)
	defer wait()
	defer close(done)
	want := layoutRows
	if opts.SkipRows != nil {
		want += *opts.SkipRows
	}
	var head []headRow
	decided := false
	for b := range batches {
		if err := st.ctx.Err(); err != nil {
			return err
		}
		for i, vals := range b.vals {
			n := b.first + i
			ks, err := kinds.kindsOf(n)
			if err != nil {
				return &datasets.InputError{Message: fmt.Sprintf("row %d cannot be read: %s", n, datasets.ScrubPaths(err.Error()))}
			}
			if !decided {
				head = append(head, headRow{n: n, vals: vals, ks: slices.Clone(ks)})
				if len(head) < want {
					continue
				}
				if err := st.layout(head, opts); err != nil {
					return err
				}
				decided = true
				continue
			}
			if isBlankRow(vals) {
				continue
			}
			if err := st.appendRow(n, vals, ks); err != nil {
				return err
			}
		}
		if b.err != nil {
			return &datasets.InputError{Message: "the sheet cannot be read: " + datasets.ScrubPaths(b.err.Error())}
		}
	}
	if !decided {
		if err := st.layout(head, opts); err != nil {
			return err
		}
	}
	if len(st.names) == 0 {
		return &datasets.InputError{Message: "the sheet is empty"}
	}
	return nil
}

// layout decides where the table starts and whether it has a header from
// the first rows (the rule delimited files follow), then stages them.
func (st *xlsxStage) layout(head []headRow, opts datasets.XLSXOptions) error {
	cells := make([][]tabular.Cell, len(head))
	for i, r := range head {
		row := make([]tabular.Cell, len(r.vals))
		for j, v := range r.vals {
			k := kindEmpty
			if j < len(r.ks) {
				k = r.ks[j]
			}
			text, _ := st.render(v, k)
			row[j] = tabular.Cell{Text: text, Kind: layoutKind(v, text, k)}
		}
		// A row is as long as its last non-empty cell.
		for len(row) > 0 && row[len(row)-1].Kind == tabular.KindEmpty {
			row = row[:len(row)-1]
		}
		cells[i] = row
	}
	l := tabular.DetectLayout(cells, tabular.LayoutOptions{Header: opts.Header, Start: opts.SkipRows})
	if l.Width == 0 && l.Start >= len(head) {
		return nil
	}
	for i := 0; i < l.Start && i < len(cells); i++ {
		if text := joinCells(cells[i]); text != "" && len(st.preamble) < 5 {
			st.preamble = append(st.preamble, text)
		}
	}
	st.skipRows = l.Start
	if l.Width > 0 {
		if err := st.addColumns(l.Names); err != nil {
			return err
		}
	}
	first := l.Start
	if l.HasHeader && l.Start < len(head) {
		st.headerRow = head[l.Start].n
		first++
	}
	for _, r := range head[min(first, len(head)):] {
		if isBlankRow(r.vals) {
			continue
		}
		if err := st.appendRow(r.n, r.vals, r.ks); err != nil {
			return err
		}
	}
	return nil
}

// layoutKind is the layout's kind of a cell: the workbook's type, and for
// text the kind its text has (a number stored as text reads as a number).
func layoutKind(raw, text string, k cellKind) tabular.Kind {
	switch k {
	case kindEmpty:
		if strings.TrimSpace(raw) == "" {
			return tabular.KindEmpty
		}
		return tabular.KindOf(raw)
	case kindText:
		return tabular.KindOf(text)
	case kindBool:
		return tabular.KindBool
	case kindNumber:
		if _, err := strconv.ParseInt(raw, 10, 64); err == nil {
			return tabular.KindInt
		}
		return tabular.KindDecimal
	case kindDate:
		return tabular.KindDate
	case kindDateTime:
		return tabular.KindTimestamp
	case kindTime, kindDuration:
		return tabular.KindTime
	}
	return tabular.KindText
}

func joinCells(row []tabular.Cell) string {
	var parts []string
	for _, c := range row {
		if t := strings.TrimSpace(c.Text); t != "" {
			parts = append(parts, t)
		}
	}
	text := strings.Join(parts, " ")
	if len(text) > 200 {
		text = strings.ToValidUTF8(text[:200], "")
	}
	return text
}

func isBlankRow(vals []string) bool {
	for _, v := range vals {
		if v != "" {
			return false
		}
	}
	return true
}

// addColumns adds staging columns (named later rows may be wider than the
// header); the appender is reopened to see them.
func (st *xlsxStage) addColumns(names []string) error {
	if err := st.closeAppender(); err != nil {
		return err
	}
	if len(st.names)+len(names) > st.maxColumns {
		return &datasets.InputError{Message: fmt.Sprintf("the sheet has at least %d columns; a dataset has at most %d", len(st.names)+len(names), st.maxColumns)}
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
	last := len(vals)
	for last > 0 && vals[last-1] == "" {
		last--
	}
	if last > len(st.names) {
		extra := make([]string, 0, last-len(st.names))
		for i := len(st.names); i < last; i++ {
			extra = append(extra, fmt.Sprintf("column_%d", i+1))
		}
		if err := st.addColumns(extra); err != nil {
			return err
		}
	}
	st.cells += int64(len(st.names))
	if st.cells > st.maxCells {
		return &datasets.InputError{Message: fmt.Sprintf("the sheet has more than %d cells", st.maxCells)}
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
		if t == typeText && tabular.IsNullToken(text) {
			if st.tokens[i] == nil {
				st.tokens[i] = map[string]bool{}
			}
			st.tokens[i][strings.TrimSpace(text)] = true
			continue
		}
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
			// The shortest text of the same double: 0.1, not the
			// 0.10000000000000001 some writers store.
			return strconv.FormatFloat(v, 'g', -1, 64), typeDouble
		}
	case kindDuration:
		v, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
			break
		}
		return durationText(v), typeInterval
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
		case k == kindTime && v >= 0 && v < 1:
			return t.Format("15:04:05.999999"), typeTime
		case k == kindDate && v == math.Trunc(v):
			return t.Format("2006-01-02"), typeDate
		}
		return t.Format("2006-01-02 15:04:05.999999"), typeTimestamp
	}
	return raw, typeText
}

// durationText writes a number of days as hours:minutes:seconds, the hours
// counting past 24 ("36:00:00"), which DuckDB reads as an INTERVAL.
func durationText(days float64) string {
	sign := ""
	if days < 0 {
		sign, days = "-", -days
	}
	micros := int64(math.Round(days * 86400e6))
	h := micros / 3600e6
	micros -= h * 3600e6
	m := micros / 60e6
	micros -= m * 60e6
	sec := micros / 1e6
	frac := micros % 1e6
	out := fmt.Sprintf("%s%d:%02d:%02d", sign, h, m, sec)
	if frac != 0 {
		out += strings.TrimRight(fmt.Sprintf(".%06d", frac), "0")
	}
	return out
}

// writeParquet casts the staged text to the inferred types into dst; null
// tokens in a column of another type become NULL.
func (st *xlsxStage) writeParquet(dst string) error {
	exprs := make([]string, len(st.names))
	for i, name := range st.names {
		t := st.types[i]
		if t == typeText || t == typeNull {
			exprs[i] = fmt.Sprintf("c%d AS %s", i, sqlIdent(name))
			continue
		}
		cast := fmt.Sprintf("CAST(c%d AS %s)", i, colTypeSQL[t])
		if toks := st.tokenList(i); toks != nil {
			cast = fmt.Sprintf("CASE WHEN trim(c%d) IN %s THEN NULL ELSE %s END", i, tokenList(toks), cast)
		}
		exprs[i] = cast + " AS " + sqlIdent(name)
	}
	_, err := st.conn.ExecContext(st.ctx, fmt.Sprintf("COPY (SELECT %s FROM stage) TO %s ("+partFormat+")",
		strings.Join(exprs, ", "), sqlString(dst)))
	var de *duckdb.Error
	if errors.As(err, &de) {
		return &datasets.InputError{Message: datasets.ScrubPaths(de.Msg)}
	}
	return err
}

func (st *xlsxStage) tokenList(col int) []string {
	if len(st.tokens[col]) == 0 {
		return nil
	}
	out := make([]string, 0, len(st.tokens[col]))
	for t := range st.tokens[col] {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// reading is how the sheet was read, for the dataset's report.
func (st *xlsxStage) reading(sheet string) datasets.SheetReading {
	r := datasets.SheetReading{Name: sheet, HeaderRow: st.headerRow, SkipRows: st.skipRows, Preamble: st.preamble}
	for i, name := range st.names {
		if st.types[i] == typeInterval {
			r.Durations = append(r.Durations, name)
		}
		if st.types[i] != typeText && st.types[i] != typeNull {
			if toks := st.tokenList(i); toks != nil {
				if r.NullTokens == nil {
					r.NullTokens = map[string][]string{}
				}
				r.NullTokens[name] = toks
			}
		}
	}
	return r
}
