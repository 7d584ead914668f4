// Package csvprep turns a downloaded delimited text file into one a strict
// CSV reader (DuckDB) reads exactly, and says what it did: the encoding is
// decided from every byte, the dialect and the table's place from the
// head, and every record of the file is checked against the table's width
// before DuckDB sees it. A clean file is handed over as it is; any other is
// rewritten in a canonical dialect with short rows padded, empty trailing
// fields trimmed and quote-broken rows read with quoting off, and the rows
// that still do not fit are set aside, with their line and the reason,
// never dropped in silence.
package csvprep

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nonefinity/backend/pkg/tabular"
)

// headBytes is how much of the file decides the dialect and the layout.
const headBytes = 1 << 20

// maxListed caps the line numbers a Prepared lists per finding.
const maxListed = 100

// Options are the user's overrides; zero values are detected.
type Options struct {
	// Encoding names the file's encoding; "" takes the scan's verdict.
	Encoding string
	// Delimiter fixes the delimiter.
	Delimiter byte
	// Quote fixes the quote character when QuoteSet; 0 then turns quoting
	// off.
	Quote    byte
	QuoteSet bool
	// Header and SkipRows fix the layout: whether the table's first row
	// names the columns, and how many records come before the table.
	Header   *bool
	SkipRows *int
	// TabHint prefers the tab on a tie (a .tsv or .txt file).
	TabHint bool
	// MaxColumns refuses a wider table before any record is scanned; 0
	// takes any width.
	MaxColumns int
}

// ErrTooWide refuses a table wider than Options.MaxColumns.
var ErrTooWide = errors.New("too many columns")

// Reject is a record that did not fit the table.
type Reject struct {
	Line   int64
	Reason string
	Raw    string
}

// Lines is a count of records and the first of their line numbers.
type Lines struct {
	Count int64
	First []int64
}

func (l *Lines) add(n int64) {
	l.Count++
	if len(l.First) < maxListed {
		l.First = append(l.First, n)
	}
}

// Prepared is a file ready for DuckDB and the account of how it was read.
type Prepared struct {
	// Path is the file DuckDB reads with Dialect (header none), skipping
	// SkipLines physical lines; it yields Rows rows named Names.
	Path      string
	Dialect   tabular.Dialect
	SkipLines int64
	// FileDialect is the dialect of the file itself (Dialect is the
	// canonical one once Normalized).
	FileDialect tabular.Dialect
	// SkipRows counts the records above the table (the header excluded).
	SkipRows  int
	Names     []string
	HasHeader bool
	Rows      int64
	// Normalized says Path is a rewritten copy in the canonical dialect.
	Normalized bool
	// MaxRecordBytes is the longest record, for DuckDB's line limit.
	MaxRecordBytes int

	// RowsRead counts the data records read from the file: Rows plus
	// Rejected.
	RowsRead int64
	// Rejected are the records set aside; RejectsPath is a CSV of them
	// (line, reason, raw) when there are any, FirstRejects the first few.
	Rejected     Lines
	RejectsPath  string
	FirstRejects []Reject

	// Encoding is how the file was decoded; Fallback is the encoding of
	// the lines of a mixed file that were not UTF-8 (FallbackLines).
	Encoding      string
	Fallback      string
	FallbackLines Lines
	// Replaced counts characters that could not be decoded (U+FFFD), by
	// line.
	Replaced      int64
	ReplacedLines []int64
	// Padded are rows shorter than the table, filled with NULL;
	// QuotesAsText are rows whose quoting was broken, read with quotes as
	// plain text. (Empty fields past the table's width are dropped: no
	// value is lost.)
	Padded       Lines
	QuotesAsText Lines
	// Preamble are the first records above the table (titles, notes).
	Preamble []string

	text    string
	dir     string
	width   int
	start   int
	dataRow int // index of the first data record
}

// StatedNewline is the line end to state to the reader of Path: the
// canonical file's "\n", or the bare carriage return of a file that uses
// it; 0 where "\n" and "\r\n" may both occur and the reader tells them
// apart (a reader's guess can miss the others when quoted fields hold line
// breaks).
func (p *Prepared) StatedNewline() byte {
	if p.Normalized || p.Dialect.Newline == '\r' {
		return p.Dialect.Newline
	}
	return 0
}

// Prepare reads the file raw (already scanned into enc) and prepares it
// under dir.
func Prepare(ctx context.Context, raw string, enc tabular.EncodingResult, dir string, o Options) (*Prepared, error) {
	p := &Prepared{dir: dir}
	text := raw
	if o.Encoding != "" {
		_, name, err := tabular.Lookup(o.Encoding)
		if err != nil {
			return nil, err
		}
		enc = tabular.EncodingResult{Name: name}
	}
	p.Encoding = enc.Name
	if enc.Mixed {
		p.Fallback = enc.Fallback
	}
	if enc.Decoding() {
		text = filepath.Join(dir, "source-utf8.csv")
		st, err := transcodeFile(raw, text, enc)
		if err != nil {
			return nil, err
		}
		p.FallbackLines = Lines{Count: st.FallbackLines, First: enc.InvalidLineNumbers}
		p.Replaced, p.ReplacedLines = st.Replaced, st.ReplacedLineNumbers
	}
	p.text = text
	head, truncated, err := readHead(text)
	if err != nil {
		return nil, err
	}
	ho := tabular.HeadOptions{Delimiter: o.Delimiter, Hint: tabular.Hint{Tab: o.TabHint},
		Layout: tabular.LayoutOptions{Header: o.Header, Start: o.SkipRows}}
	if o.QuoteSet {
		ho.Quote, ho.QuoteNone = o.Quote, o.Quote == 0
	}
	h := tabular.ReadHead(head, truncated, ho)
	p.Dialect, p.Names, p.HasHeader = h.Dialect, h.Layout.Names, h.Layout.HasHeader
	if o.MaxColumns > 0 && len(p.Names) > o.MaxColumns {
		more := ""
		if truncated && len(h.Records) <= 1 {
			more = " or more" // the first record did not end within the head
		}
		return nil, fmt.Errorf("%w: the table has %d%s columns; a dataset has at most %d", ErrTooWide, len(p.Names), more, o.MaxColumns)
	}
	p.FileDialect = h.Dialect
	p.width, p.start = h.Layout.Width, h.Layout.Start
	p.SkipRows = p.start
	for i := 0; i < p.start && i < len(h.Records) && len(p.Preamble) < 5; i++ {
		text := strings.TrimRight(strings.Join(h.Records[i], string(h.Dialect.Delimiter)), string(h.Dialect.Delimiter))
		if len(text) > 200 {
			text = strings.ToValidUTF8(text[:200], "")
		}
		p.Preamble = append(p.Preamble, text)
	}
	p.dataRow = p.start
	if p.HasHeader {
		p.dataRow++
	}
	clean, err := p.quickScan(h)
	if err != nil {
		return nil, err
	}
	if !clean {
		clean, err = p.scan(ctx)
		if err != nil {
			return nil, err
		}
	}
	if !clean {
		if err := p.Normalize(ctx); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func transcodeFile(src, dst string, enc tabular.EncodingResult) (tabular.TranscodeStats, error) {
	in, err := os.Open(src)
	if err != nil {
		return tabular.TranscodeStats{}, err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return tabular.TranscodeStats{}, err
	}
	st, err := tabular.Transcode(out, in, enc)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return st, err
}

func readHead(path string) (string, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", false, err
	}
	defer f.Close()
	buf := make([]byte, headBytes+1)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return "", false, err
	}
	truncated := n > headBytes
	return string(buf[:min(n, headBytes)]), truncated, nil
}

// quickScan says a file is clean without reading its records when no
// quote can change how its lines split: quoting is off, or the quote
// character occurs nowhere in the file (found at memory speed). Its lines
// are then records, and DuckDB's strict mode rejects (never drops) a line
// of the wrong width, which sends the file to Normalize: the row count is
// DuckDB's (Rows is -1 until Counted). The lines above the data come from
// the head.
func (p *Prepared) quickScan(h tabular.Head) (bool, error) {
	if p.dataRow >= len(h.Lines) {
		return false, nil
	}
	// Without a quote, no record spans lines.
	if p.Dialect.Quote != 0 {
		found, err := containsByte(p.text, p.Dialect.Quote)
		if err != nil || found {
			return false, err
		}
	}
	p.Path = p.text
	p.SkipLines = h.Lines[p.dataRow] - 1
	p.Rows, p.RowsRead = -1, -1
	return true, nil
}

// containsByte says the file holds c, reading it in large blocks.
func containsByte(path string, c byte) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for {
		n, err := f.Read(buf)
		if bytes.IndexByte(buf[:n], c) >= 0 {
			return true, nil
		}
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
}

// Counted sets the row count of a quick-scanned file from its read.
func (p *Prepared) Counted(rows int64) {
	if p.Rows < 0 {
		p.Rows, p.RowsRead = rows, rows
	}
}

// scan reads every record of the file once, counting, and says whether the
// file is clean: every data record as wide as the table, quoting intact and
// no quote inside an unquoted field, and the lines above the data free of
// quoted line breaks (DuckDB skips them by line).
func (p *Prepared) scan(ctx context.Context) (bool, error) {
	f, err := os.Open(p.text)
	if err != nil {
		return false, err
	}
	defer f.Close()
	r := tabular.NewReader(f, p.Dialect)
	clean := true
	p.Path = p.text
	p.Rows, p.RowsRead = 0, 0
	for i := 0; ; i++ {
		if i&0xFFFF == 0 && ctx.Err() != nil {
			return false, ctx.Err()
		}
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return false, err
		}
		switch {
		case i < p.start:
			clean = clean && rec.Lines == 1
			continue
		case i < p.dataRow:
			if p.SkipLines = rec.Line + int64(rec.Lines) - 1; rec.Lines != 1 {
				clean = false
			}
			continue
		case i == p.dataRow:
			p.SkipLines = rec.Line - 1
		}
		p.RowsRead++
		if rec.Problem != "" || rec.StrayQuote || rec.NumFields != p.width {
			clean = false
		}
	}
	if p.RowsRead == 0 {
		p.SkipLines = r.Lines()
	}
	p.Rows = p.RowsRead
	p.MaxRecordBytes = r.MaxBytes
	return clean, nil
}

// Normalize rewrites the file in the canonical dialect (comma, double
// quote, no header): the way a file is read whenever it is not clean, and
// when DuckDB disagrees with the scan over a clean one.
func (p *Prepared) Normalize(ctx context.Context) error {
	in, err := os.Open(p.text)
	if err != nil {
		return err
	}
	defer in.Close()
	outPath := filepath.Join(p.dir, "normalized.csv")
	out, err := os.OpenFile(outPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	bw := bufio.NewWriterSize(out, 1<<20)
	rejects := &rejectWriter{path: filepath.Join(p.dir, "rejects.csv")}
	defer rejects.close()

	// A file already in the canonical dialect has most records copied as
	// they stand; only the ones to fix are split into fields.
	canonical := p.FileDialect.Delimiter == ',' && p.FileDialect.Quote == '"'
	r := tabular.NewReader(in, p.FileDialect)
	r.WantFields, r.WantRaw = !canonical, true
	r.MaxRaw = r.MaxRecordBytes + 1
	p.Rows, p.RowsRead, p.Rejected, p.FirstRejects = 0, 0, Lines{}, nil
	p.Padded, p.QuotesAsText = Lines{}, Lines{}
	for i := 0; ; i++ {
		if i&0xFFFF == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if i < p.dataRow {
			continue
		}
		p.RowsRead++
		if canonical && rec.Problem == "" && !rec.StrayQuote && rec.NumFields <= p.width {
			if err := p.copyCanonical(bw, rec); err != nil {
				return err
			}
			continue
		}
		if rec.Fields == nil {
			rec.Fields = p.fieldsOf(rec)
		}
		fields, reason := p.fit(rec)
		if reason != "" {
			p.Rejected.add(rec.Line)
			rej := Reject{Line: rec.Line, Reason: reason, Raw: rec.Raw}
			if rej.Raw == "" {
				rej.Raw = strings.Join(rec.Fields, string(p.FileDialect.Delimiter))
			}
			if len(p.FirstRejects) < 5 {
				p.FirstRejects = append(p.FirstRejects, rej)
			}
			if err := rejects.write(rej); err != nil {
				return err
			}
			continue
		}
		if err := writeCanonical(bw, fields); err != nil {
			return err
		}
		p.Rows++
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	if err := rejects.close(); err != nil {
		return err
	}
	p.RejectsPath = rejects.written
	p.Path = outPath
	p.Dialect = tabular.Dialect{Delimiter: ',', Quote: '"', Newline: '\n'}
	p.SkipLines = 0
	p.Normalized = true
	p.MaxRecordBytes = max(p.MaxRecordBytes, r.MaxBytes)
	return nil
}

// copyCanonical writes a record that is canonical CSV already as it
// stands, padded with empty fields to the table's width.
func (p *Prepared) copyCanonical(w *bufio.Writer, rec *tabular.Record) error {
	if _, err := w.WriteString(rec.Raw); err != nil {
		return err
	}
	if n := p.width - rec.NumFields; n > 0 {
		p.Padded.add(rec.Line)
		if _, err := w.WriteString(strings.Repeat(",", n)); err != nil {
			return err
		}
	}
	p.Rows++
	return w.WriteByte('\n')
}

// fieldsOf splits a record the reader only counted: a quote-broken one
// (its first line) with quoting off, any other by reading its text again.
func (p *Prepared) fieldsOf(rec *tabular.Record) []string {
	if rec.Problem != "" {
		return strings.Split(rec.Raw, string(p.FileDialect.Delimiter))
	}
	r := tabular.NewReader(strings.NewReader(rec.Raw), tabular.Dialect{Delimiter: p.FileDialect.Delimiter, Quote: p.FileDialect.Quote, Newline: '\n'})
	r.WantFields = true
	r.MaxRecordBytes, r.MaxRecordLines = len(rec.Raw)+1, rec.Lines+1
	again, err := r.Next()
	if err != nil {
		return strings.Split(rec.Raw, string(p.FileDialect.Delimiter))
	}
	return again.Fields
}

// fit makes a record as wide as the table, or says why it cannot be.
func (p *Prepared) fit(rec *tabular.Record) ([]string, string) {
	fields := rec.Fields
	if len(fields) > p.width {
		extra := fields[p.width:]
		for _, f := range extra {
			if strings.TrimSpace(f) != "" {
				reason := fmt.Sprintf("%d fields, the table has %d", len(fields), p.width)
				if rec.Problem != "" {
					reason = rec.Problem + "; read without quoting it has " + reason
				}
				return nil, reason
			}
		}
		fields = fields[:p.width]
	}
	if rec.Problem != "" {
		p.QuotesAsText.add(rec.Line)
	}
	if len(fields) < p.width {
		fields = append(fields, make([]string, p.width-len(fields))...)
		p.Padded.add(rec.Line)
	}
	return fields, ""
}

// writeCanonical writes one record as RFC 4180 CSV: fields quoted when
// they hold a comma, a quote, a line break or surrounding spaces; an empty
// field stays empty (NULL).
func writeCanonical(w *bufio.Writer, fields []string) error {
	for i, f := range fields {
		if i > 0 {
			if err := w.WriteByte(','); err != nil {
				return err
			}
		}
		if f == "" {
			continue
		}
		if strings.ContainsAny(f, ",\"\r\n") || f[0] == ' ' || f[0] == '\t' || f[len(f)-1] == ' ' || f[len(f)-1] == '\t' {
			if _, err := w.WriteString(`"` + strings.ReplaceAll(f, `"`, `""`) + `"`); err != nil {
				return err
			}
			continue
		}
		if _, err := w.WriteString(f); err != nil {
			return err
		}
	}
	return w.WriteByte('\n')
}

// rejectWriter writes rejects as CSV (line, reason, raw), creating the
// file with the first one.
type rejectWriter struct {
	path    string
	f       *os.File
	w       *csv.Writer
	written string
}

func (rw *rejectWriter) write(r Reject) error {
	if rw.f == nil {
		f, err := os.OpenFile(rw.path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		rw.f, rw.w = f, csv.NewWriter(f)
		if err := rw.w.Write([]string{"line", "reason", "raw"}); err != nil {
			return err
		}
	}
	return rw.w.Write([]string{strconv.FormatInt(r.Line, 10), r.Reason, r.Raw})
}

func (rw *rejectWriter) close() error {
	if rw.f == nil {
		return nil
	}
	rw.w.Flush()
	err := rw.w.Error()
	if cerr := rw.f.Close(); err == nil {
		err = cerr
	}
	rw.written = rw.path
	rw.f = nil
	return err
}
