package duck

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"
)

// cellKind is what a cell holds, as its XML says: excelize's row iterator
// hands out bare strings (with RawCellValue a date is its serial number and
// a boolean is "1"), so the kinds come from a second, cheap byte-level scan
// of the same sheet part that runs in step with the iterator.
type cellKind uint8

const (
	kindEmpty cellKind = iota
	kindText
	kindBool
	kindNumber
	kindDate     // a number shown with a date format
	kindDateTime // a number shown with a date-and-time format
	kindTime     // a number shown with a time-only format
	// kindDuration is a number shown with an elapsed-time format ([h]:mm),
	// which counts past 24 hours.
	kindDuration
)

// numFmtClass says how a number format shows a serial number.
type numFmtClass uint8

const (
	fmtNumber numFmtClass = iota
	fmtDate
	fmtDateTime
	fmtTime
	fmtDuration
)

// builtinDateFmts are the built-in number format ids that show dates or
// times (ECMA-376 §18.8.30, plus the East Asian date formats).
var builtinDateFmts = map[int]numFmtClass{
	14: fmtDate, 15: fmtDate, 16: fmtDate, 17: fmtDate,
	18: fmtTime, 19: fmtTime, 20: fmtTime, 21: fmtTime, 22: fmtDateTime,
	27: fmtDate, 28: fmtDate, 29: fmtDate, 30: fmtDate, 31: fmtDate, 32: fmtTime, 33: fmtTime, 34: fmtTime, 35: fmtTime, 36: fmtDate,
	45: fmtTime, 46: fmtDuration, 47: fmtTime,
	50: fmtDate, 51: fmtDate, 52: fmtDate, 53: fmtDate, 54: fmtDate, 55: fmtDate, 56: fmtDate, 57: fmtDate, 58: fmtDate,
}

// classifyFormatCode reads a custom number format code: date tokens (y, d)
// and time tokens (h, s) outside quoted text, escapes and [brackets]
// (colors, locales); an elapsed [h], [m] or [s] without a date makes it a
// duration.
func classifyFormatCode(code string) numFmtClass {
	var hasDate, hasTime, elapsed bool
	section, _, _ := strings.Cut(code, ";")
	for i := 0; i < len(section); i++ {
		switch c := section[i]; c {
		case '"':
			if j := strings.IndexByte(section[i+1:], '"'); j >= 0 {
				i += j + 1
			}
		case '\\', '_', '*':
			i++
		case '[':
			j := strings.IndexByte(section[i:], ']')
			if j < 0 {
				break
			}
			inner := strings.ToLower(section[i+1 : i+j])
			if inner == "h" || inner == "hh" || inner == "m" || inner == "mm" || inner == "s" || inner == "ss" {
				hasTime, elapsed = true, true
			}
			i += j
		case 'y', 'Y', 'd', 'D':
			hasDate = true
		case 'h', 'H', 's', 'S':
			hasTime = true
		}
	}
	switch {
	case elapsed && !hasDate:
		return fmtDuration
	case hasDate && hasTime:
		return fmtDateTime
	case hasDate:
		return fmtDate
	case hasTime:
		return fmtTime
	}
	return fmtNumber
}

// styleClasses caches the number format class of each cell style index.
type styleClasses struct {
	f     *excelize.File
	known map[int]numFmtClass
}

func (sc *styleClasses) class(idx int) numFmtClass {
	if idx <= 0 {
		return fmtNumber
	}
	if c, ok := sc.known[idx]; ok {
		return c
	}
	c := fmtNumber
	if st, err := sc.f.GetStyle(idx); err == nil && st != nil {
		switch {
		case st.CustomNumFmt != nil:
			c = classifyFormatCode(*st.CustomNumFmt)
		default:
			c = builtinDateFmts[st.NumFmt]
		}
	}
	sc.known[idx] = c
	return c
}

// kindScanner walks a worksheet part's <row> and <c> tags without parsing
// the XML properly: only the r, s and t attributes and whether a cell has
// a value matter, and byte scanning is far cheaper than a decoder.
type kindScanner struct {
	r      *bufio.Reader
	styles *styleClasses
	row    int // number of the last row read
	done   bool
	// pending is a row read ahead of the iterator's position.
	pendingRow   int
	pendingKinds []cellKind
	hasPending   bool
}

func newKindScanner(r io.Reader, styles *styleClasses) *kindScanner {
	return &kindScanner{r: bufio.NewReaderSize(r, 256<<10), styles: styles}
}

// kindsOf returns the cell kinds (by column, 0-based) of row number n; the
// rows must be asked for in increasing order. A row the sheet does not
// have is all empty.
func (k *kindScanner) kindsOf(n int) ([]cellKind, error) {
	for {
		if !k.hasPending {
			if k.done {
				return nil, nil
			}
			if err := k.readRow(); err != nil {
				return nil, err
			}
			if k.done {
				return nil, nil
			}
		}
		switch {
		case k.pendingRow == n:
			k.hasPending = false
			return k.pendingKinds, nil
		case k.pendingRow > n:
			return nil, nil
		}
		k.hasPending = false // a row the iterator skipped; cannot happen, but never loop
	}
}

// readRow reads up to the next </row> and leaves it pending.
func (k *kindScanner) readRow() error {
	k.pendingKinds = k.pendingKinds[:0]
	inRow := false
	col := 0
	var cur cellKind
	inCell, hasValue := false, false
	for {
		if _, err := k.skipTo('<'); err != nil {
			if errors.Is(err, io.EOF) {
				k.done = true
				return nil
			}
			return err
		}
		tag, err := k.tag()
		if err != nil {
			if errors.Is(err, io.EOF) {
				k.done = true
				return nil
			}
			return err
		}
		closing := len(tag) > 0 && tag[0] == '/'
		name := tag
		if closing {
			name = name[1:]
		}
		if end := bytes.IndexAny(name, " \t\r\n/"); end >= 0 {
			name = name[:end]
		}
		if i := bytes.IndexByte(name, ':'); i >= 0 {
			name = name[i+1:]
		}
		selfClosing := bytes.HasSuffix(tag, []byte("/"))
		switch string(name) {
		case "row":
			if closing {
				k.hasPending = true
				return nil
			}
			inRow = true
			if v, ok := attr(tag, "r"); ok {
				n, err := strconv.Atoi(string(v))
				if err != nil {
					return fmt.Errorf("row number %q: %w", v, err)
				}
				k.row = n
			} else {
				k.row++
			}
			k.pendingRow = k.row
			col = 0
			if selfClosing {
				k.hasPending = true
				return nil
			}
		case "c":
			if !inRow || closing {
				if closing && inCell && hasValue {
					k.setKind(col, cur)
				}
				inCell = false
				continue
			}
			col++
			if v, ok := attr(tag, "r"); ok {
				c, _, err := excelize.CellNameToCoordinates(string(v))
				if err != nil {
					return fmt.Errorf("cell reference %q: %w", v, err)
				}
				col = c
			}
			cur = k.kindOfCell(tag)
			inCell, hasValue = !selfClosing, false
		case "v", "is":
			if inCell && !closing && !selfClosing {
				hasValue = true
			}
		case "sheetData":
			if closing {
				k.done = true
				return nil
			}
		}
	}
}

func (k *kindScanner) setKind(col int, kind cellKind) {
	for len(k.pendingKinds) < col {
		k.pendingKinds = append(k.pendingKinds, kindEmpty)
	}
	k.pendingKinds[col-1] = kind
}

// kindOfCell reads a <c> tag's type and style.
func (k *kindScanner) kindOfCell(tag []byte) cellKind {
	t, _ := attr(tag, "t")
	switch string(t) {
	case "", "n":
	case "b":
		return kindBool
	default: // s, str, inlineStr, e, d
		return kindText
	}
	s, ok := attr(tag, "s")
	if !ok {
		return kindNumber
	}
	idx, err := strconv.Atoi(string(s))
	if err != nil {
		return kindNumber
	}
	switch k.styles.class(idx) {
	case fmtDate:
		return kindDate
	case fmtDateTime:
		return kindDateTime
	case fmtTime:
		return kindTime
	case fmtDuration:
		return kindDuration
	}
	return kindNumber
}

// skipTo discards input up to and including the byte c.
func (k *kindScanner) skipTo(c byte) (int, error) {
	n := 0
	for {
		b, err := k.r.ReadSlice(c)
		n += len(b)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return n, err
	}
}

// tag returns the text up to the next '>' (a tag's name and attributes);
// the slice is valid until the next read.
func (k *kindScanner) tag() ([]byte, error) {
	b, err := k.r.ReadSlice('>')
	if errors.Is(err, bufio.ErrBufferFull) {
		// A tag longer than the buffer: no tag we read is that long.
		if _, err := k.skipTo('>'); err != nil {
			return nil, err
		}
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return b[:len(b)-1], nil
}

// attr finds name="value" (or 'value') among a tag's attributes.
func attr(tag []byte, name string) ([]byte, bool) {
	for i := 0; i < len(tag); {
		j := bytes.Index(tag[i:], []byte(name))
		if j < 0 {
			return nil, false
		}
		p := i + j
		q := p + len(name)
		if p > 0 && (tag[p-1] == ' ' || tag[p-1] == '\t' || tag[p-1] == '\n' || tag[p-1] == '\r') &&
			q+1 < len(tag) && tag[q] == '=' && (tag[q+1] == '"' || tag[q+1] == '\'') {
			end := bytes.IndexByte(tag[q+2:], tag[q+1])
			if end < 0 {
				return nil, false
			}
			return tag[q+2 : q+2+end], true
		}
		i = q
	}
	return nil, false
}
