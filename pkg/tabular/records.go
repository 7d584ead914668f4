package tabular

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
)

// Dialect is how a delimited text file separates fields and records.
type Dialect struct {
	// Delimiter separates fields (',', ';', '\t', '|', …).
	Delimiter byte
	// Quote starts and ends a quoted field, and doubled stands for itself
	// inside one; 0 means fields are never quoted.
	Quote byte
	// Newline ends a line: '\n' (also ending "\r\n" lines) or '\r' for
	// files with bare carriage returns.
	Newline byte
	// SepLine says the first line is Excel's "sep=<delimiter>", which is
	// no data.
	SepLine bool
}

// Problems a record can have.
const (
	ProblemTextAfterQuote = "text after a closing quote"
	ProblemUnterminated   = "quoted field not closed before the end of the file"
	ProblemTooLong        = "record longer than the limit"
	ProblemTooManyLines   = "quoted field spans more lines than the limit"
	defaultMaxRecordBytes = 16 << 20
	defaultMaxRecordLines = 10000
	readerBufferSize      = 1 << 20
	defaultMaxRaw         = 64 << 10
)

// Record is one record of a file.
type Record struct {
	// Line is the physical line the record starts on, counting from 1 and
	// including any preamble; Lines is how many physical lines it spans.
	Line  int64
	Lines int
	// NumFields is the number of fields; Fields holds them when the reader
	// was asked for them (strings owned by the caller).
	NumFields int
	Fields    []string
	// StrayQuote says an unquoted field holds the quote character: kept
	// as it stands, but readers disagree about such fields (one trims
	// ' ""' to an empty quoted field), so a strict reader is better handed
	// a canonical copy.
	StrayQuote bool
	// Problem says why the record does not parse with the dialect's
	// quoting. Fields and NumFields are then its first line read with
	// quoting off, and the reader goes on after that line.
	Problem string
	// Raw is the record's text as it stands in the file (its first line
	// when Problem is set), kept when the reader was asked for it, capped
	// at 64 KiB.
	Raw string
}

// Reader splits delimited text into records in constant memory. Blank
// lines are skipped; a leading UTF-8 byte order mark is dropped.
type Reader struct {
	d   Dialect
	br  *bufio.Reader
	buf []byte // the record being assembled, across lines
	// pending are lines read ahead of a record that was then re-read from
	// its first line only.
	pending []pendingLine
	line    int64
	started bool
	eof     bool

	// WantFields fills Record.Fields; off, only NumFields is counted (the
	// fast scan of a whole file).
	WantFields bool
	// WantRaw fills Record.Raw for every record; it is always set for a
	// record with a Problem. MaxRaw caps it (64 KiB by default).
	WantRaw bool
	MaxRaw  int
	// MaxRecordBytes and MaxRecordLines bound one record; a longer one is
	// returned with a Problem and its first line only.
	MaxRecordBytes int
	MaxRecordLines int

	// Blank counts the blank lines skipped; MaxBytes is the longest
	// record seen, in bytes.
	Blank    int64
	MaxBytes int

	rec    Record
	fields []string
}

type pendingLine struct {
	text []byte // with its line terminator
	n    int64
}

// NewReader returns a reader of r with dialect d.
func NewReader(r io.Reader, d Dialect) *Reader {
	if d.Newline == 0 {
		d.Newline = '\n'
	}
	return &Reader{d: d, br: bufio.NewReaderSize(r, readerBufferSize),
		MaxRecordBytes: defaultMaxRecordBytes, MaxRecordLines: defaultMaxRecordLines, MaxRaw: defaultMaxRaw}
}

// Lines is the number of physical lines read so far.
func (r *Reader) Lines() int64 { return r.line }

// readLine returns the next physical line with its terminator, and its
// number; the slice is valid until the next call. It returns io.EOF when
// nothing is left.
func (r *Reader) readLine() ([]byte, int64, error) {
	if len(r.pending) > 0 {
		p := r.pending[0]
		r.pending = r.pending[1:]
		return p.text, p.n, nil
	}
	if r.eof {
		return nil, 0, io.EOF
	}
	line, err := r.br.ReadSlice(r.d.Newline)
	if errors.Is(err, bufio.ErrBufferFull) {
		// A line longer than the buffer: assemble it, up to the limit.
		long := append([]byte(nil), line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = r.br.ReadSlice(r.d.Newline)
			if len(long) <= r.MaxRecordBytes {
				long = append(long, line...)
			}
		}
		line = long
	}
	if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
		if !errors.Is(err, io.EOF) {
			return nil, 0, err
		}
		r.eof = true
		if len(line) == 0 {
			return nil, 0, io.EOF
		}
	}
	if !r.started {
		r.started = true
		line = bytes.TrimPrefix(line, []byte("\uFEFF"))
		if r.d.SepLine {
			r.line++
			return r.readLine()
		}
	}
	r.line++
	return line, r.line, nil
}

// content is a line without its terminator.
func (r *Reader) content(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == r.d.Newline {
		line = line[:n-1]
		if r.d.Newline == '\n' && len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
	}
	return line
}

// Next returns the next record, or io.EOF. The record is reused by the
// next call.
func (r *Reader) Next() (*Record, error) {
	for {
		line, n, err := r.readLine()
		if err != nil {
			return nil, err
		}
		text := r.content(line)
		if len(text) == 0 {
			r.Blank++
			continue
		}
		r.rec = Record{Line: n, Lines: 1}
		if r.d.Quote == 0 || bytes.IndexByte(text, r.d.Quote) < 0 {
			r.plain(text)
			if r.WantRaw {
				r.rec.Raw = r.capRaw(text)
			}
			r.MaxBytes = max(r.MaxBytes, len(text))
			return &r.rec, nil
		}
		return r.quoted(line, n)
	}
}

// plain splits a line that has no quote character.
func (r *Reader) plain(text []byte) {
	r.rec.NumFields = bytes.Count(text, []byte{r.d.Delimiter}) + 1
	if !r.WantFields {
		return
	}
	r.fields = r.fields[:0]
	s := string(text)
	for {
		i := strings.IndexByte(s, r.d.Delimiter)
		if i < 0 {
			r.fields = append(r.fields, s)
			break
		}
		r.fields = append(r.fields, s[:i])
		s = s[i+1:]
	}
	r.rec.Fields = append([]string(nil), r.fields...)
}

// quoted parses a record whose first line has a quote character, reading
// more lines while a quoted field goes on. A record that breaks the
// quoting rules is re-read from its first line with quoting off.
func (r *Reader) quoted(first []byte, n int64) (*Record, error) {
	r.buf = append(r.buf[:0], first...)
	var consumed []pendingLine // lines after the first, in case of a re-read
	lines := 1
	for {
		count, fields, state := r.parse(r.buf)
		switch state {
		case parseDone:
			r.rec.Lines = lines
			r.rec.NumFields = count
			if r.WantFields {
				r.rec.Fields = fields
			}
			text := r.content(r.buf)
			if r.WantRaw {
				r.rec.Raw = r.capRaw(text)
			}
			r.MaxBytes = max(r.MaxBytes, len(text))
			return &r.rec, nil
		case parseBadQuote:
			return r.reread(first, consumed, ProblemTextAfterQuote), nil
		}
		// Inside a quoted field at the end of the line: the field goes on.
		if lines >= r.MaxRecordLines {
			return r.reread(first, consumed, ProblemTooManyLines), nil
		}
		if len(r.buf) > r.MaxRecordBytes {
			return r.reread(first, consumed, ProblemTooLong), nil
		}
		next, m, err := r.readLine()
		if errors.Is(err, io.EOF) {
			return r.reread(first, consumed, ProblemUnterminated), nil
		}
		if err != nil {
			return nil, err
		}
		consumed = append(consumed, pendingLine{text: append([]byte(nil), next...), n: m})
		r.buf = append(r.buf, next...)
		lines++
	}
}

// reread returns the first line of a broken record split with quoting off
// and puts the lines read after it back.
func (r *Reader) reread(first []byte, consumed []pendingLine, problem string) *Record {
	first = append([]byte(nil), first...)
	r.pending = append(consumed, r.pending...)
	text := r.content(first)
	r.plain(text)
	r.rec.Lines = 1
	r.rec.Problem = problem
	r.rec.Raw = r.capRaw(text)
	r.MaxBytes = max(r.MaxBytes, len(text))
	return &r.rec
}

func (r *Reader) capRaw(b []byte) string {
	if len(b) > r.MaxRaw {
		b = b[:r.MaxRaw]
	}
	return string(b)
}

type parseState uint8

const (
	parseDone parseState = iota
	parseOpen
	parseBadQuote
)

// parse reads fields from a record's text (with line terminators): a field
// is quoted when it starts with the quote; inside, a doubled quote is one
// quote and line breaks are data; after the closing quote only the
// delimiter or the end of the line may follow. A quote inside an unquoted
// field is an ordinary character.
func (r *Reader) parse(b []byte) (int, []string, parseState) {
	d, q := r.d.Delimiter, r.d.Quote
	text := r.content(b)
	count := 0
	var fields []string
	var field []byte
	i := 0
	for {
		count++
		if i < len(text) && text[i] == q {
			// Quoted field: jump from quote to quote.
			field = field[:0]
			i++
			closed := false
			for i < len(text) {
				j := bytes.IndexByte(text[i:], q)
				if j < 0 {
					break
				}
				if r.WantFields {
					field = append(field, text[i:i+j]...)
				}
				i += j
				if i+1 < len(text) && text[i+1] == q {
					if r.WantFields {
						field = append(field, q)
					}
					i += 2
					continue
				}
				closed = true
				i++
				break
			}
			if !closed {
				return count, nil, parseOpen
			}
			if i < len(text) && text[i] != d {
				return count, nil, parseBadQuote
			}
			if r.WantFields {
				fields = append(fields, string(field))
			}
		} else {
			j := bytes.IndexByte(text[i:], d)
			end := len(text)
			if j >= 0 {
				end = i + j
			}
			if bytes.IndexByte(text[i:end], q) >= 0 {
				r.rec.StrayQuote = true
			}
			if r.WantFields {
				fields = append(fields, string(text[i:end]))
			}
			i = end
		}
		if i >= len(text) {
			return count, fields, parseDone
		}
		i++ // the delimiter
		if i == len(text) {
			// A delimiter at the end: one more, empty field.
			count++
			if r.WantFields {
				fields = append(fields, "")
			}
			return count, fields, parseDone
		}
	}
}
