package tabular

import (
	"errors"
	"io"
	"strings"
)

// Delimiters are the delimiters detected, in order of preference on a tie.
var Delimiters = []byte{',', ';', '\t', '|'}

// Hint is what the file's label says.
type Hint struct {
	// Tab prefers the tab on a tie (a .tsv, .tab or .txt file).
	Tab bool
}

// Head is what the first part of a file tells: its dialect, where the
// table is, and its first records.
type Head struct {
	Dialect Dialect
	Layout  Layout
	// Records are the head's complete records (fields), Lines the physical
	// line each starts on; Layout.Start indexes them.
	Records [][]string
	Lines   []int64
}

// HeadOptions are the user's own answers; zero values are detected.
type HeadOptions struct {
	// Delimiter fixes the delimiter.
	Delimiter byte
	// Quote fixes the quote character; QuoteNone turns quoting off.
	Quote     byte
	QuoteNone bool
	Layout    LayoutOptions
	Hint      Hint
}

const (
	headRecords = 500
	// dialectRecords is how many records decide the delimiter and quoting.
	dialectRecords = 100
)

// ReadHead detects the dialect and the layout from the head of a file,
// already decoded to UTF-8. truncated says the head is cut from a longer
// file: its last line may be incomplete and is not used.
func ReadHead(head string, truncated bool, o HeadOptions) Head {
	head = strings.TrimPrefix(head, "\uFEFF")
	if truncated {
		if i := strings.LastIndexAny(head, "\r\n"); i >= 0 {
			head = head[:i+1]
		}
	}
	d := Dialect{Newline: detectNewline(head)}
	if delim, ok := sepLine(head); ok {
		d.Delimiter, d.SepLine = delim, true
	}
	if o.Delimiter != 0 {
		d.Delimiter = o.Delimiter
	}
	if d.Delimiter == 0 {
		d.Delimiter = detectDelimiter(head, d, o.Hint)
	}
	switch {
	case o.QuoteNone:
		d.Quote = 0
	case o.Quote != 0:
		d.Quote = o.Quote
	default:
		d.Quote = detectQuote(head, d)
	}
	h := Head{Dialect: d}
	rd := NewReader(strings.NewReader(head), d)
	rd.WantFields = true
	var cells [][]Cell
	for len(h.Records) < headRecords {
		rec, err := rd.Next()
		if err != nil || (truncated && rec.Problem == ProblemUnterminated) {
			break
		}
		h.Records = append(h.Records, rec.Fields)
		h.Lines = append(h.Lines, rec.Line)
		cells = append(cells, TextCells(rec.Fields))
	}
	h.Layout = DetectLayout(cells, o.Layout)
	return h
}

// detectNewline picks '\r' for text whose lines end in bare carriage
// returns (classic Mac OS, some exports), else '\n'.
func detectNewline(s string) byte {
	crlf := strings.Count(s, "\r\n")
	cr := strings.Count(s, "\r") - crlf
	lf := strings.Count(s, "\n") - crlf
	if cr > 0 && lf == 0 && crlf == 0 {
		return '\r'
	}
	return '\n'
}

// sepLine reads Excel's "sep=;" first line.
func sepLine(s string) (byte, bool) {
	line, _, _ := strings.Cut(s, "\n")
	line = strings.TrimRight(line, "\r \t")
	if len(line) == 5 && strings.EqualFold(line[:4], "sep=") && line[4] != '"' {
		return line[4], true
	}
	return 0, false
}

// shape describes how a dialect splits the head's first records: how many
// have the usual width, how many break the quoting, and how many use it (a
// field starts with the quote).
type shape struct {
	records, modal, modalWidth, problems, quoting int
}

func shapeOf(head string, d Dialect) shape {
	rd := NewReader(strings.NewReader(head), d)
	rd.WantRaw = d.Quote != 0
	opens := string([]byte{d.Delimiter, d.Quote})
	counts := map[int]int{}
	var s shape
	for s.records < dialectRecords {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) || err != nil {
			break
		}
		if rec.Problem == ProblemUnterminated {
			// The head ends inside a quoted field: the rest is unknown.
			break
		}
		s.records++
		if d.Quote != 0 && (strings.HasPrefix(rec.Raw, string(d.Quote)) || strings.Contains(rec.Raw, opens)) {
			s.quoting++
		}
		if rec.Problem != "" {
			s.problems++
			continue
		}
		counts[rec.NumFields]++
	}
	for w, n := range counts {
		if n > s.modal || (n == s.modal && w > s.modalWidth) {
			s.modal, s.modalWidth = n, w
		}
	}
	return s
}

// score ranks a shape: the share of records of the usual width, when that
// width has more than one field.
func (s shape) score() float64 {
	if s.records == 0 || s.modalWidth < 2 {
		return 0
	}
	return float64(s.modal) / float64(s.records)
}

// detectDelimiter picks the delimiter that splits the most records into
// the same number of fields (more than one); on a tie, the one giving
// more fields, then the hint, then the order of Delimiters.
func detectDelimiter(head string, base Dialect, hint Hint) byte {
	best := byte(',')
	if hint.Tab {
		best = '\t'
	}
	bestScore, bestWidth := 0.0, 0
	candidates := Delimiters
	if hint.Tab {
		candidates = append([]byte{'\t'}, Delimiters...)
	}
	for _, c := range candidates {
		d := base
		d.Delimiter, d.Quote = c, '"'
		s := shapeOf(head, d)
		if sc := s.score(); sc > bestScore+1e-9 || (sc > bestScore-1e-9 && sc > 0 && s.modalWidth > bestWidth) {
			best, bestScore, bestWidth = c, sc, s.modalWidth
		}
	}
	return best
}

// detectQuote keeps the double quote unless most records that use it break
// the quoting rules while reading without quotes splits the records at
// least as consistently: a TSV whose fields merely start with a quotation
// mark. A CSV with a few broken quotes among many good ones stays quoted
// (those rows are then read with quotes as text, one by one).
func detectQuote(head string, d Dialect) byte {
	d.Quote = '"'
	quoted := shapeOf(head, d)
	if quoted.problems == 0 || quoted.problems*2 <= quoted.quoting {
		return '"'
	}
	d.Quote = 0
	plain := shapeOf(head, d)
	if plain.score() >= quoted.score() {
		return 0
	}
	return '"'
}
