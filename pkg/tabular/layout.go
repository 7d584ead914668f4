package tabular

import (
	"strconv"
	"strings"
	"unicode"
)

// Cell is one cell of a row as the layout sees it: its text and its kind
// (KindOf of the text for delimited files, the workbook's own cell type
// for spreadsheets).
type Cell struct {
	Text string
	Kind Kind
}

// TextCells turns a record of text fields into cells.
func TextCells(fields []string) []Cell {
	out := make([]Cell, len(fields))
	for i, f := range fields {
		out[i] = Cell{Text: f, Kind: KindOf(f)}
	}
	return out
}

// Layout is where the table sits among the first rows of a file.
type Layout struct {
	// Start indexes the rows given: the header, or the first data row.
	// Rows above it are a preamble (titles, notes, blank rows).
	Start int
	// HasHeader says rows[Start] names the columns.
	HasHeader bool
	// Names are the column names, Width of them: the header's cells
	// trimmed and made unique, or column_<n> where there is none.
	Names []string
	// Width is the number of columns: the header's or the usual data
	// row's, whichever is wider.
	Width int
}

// LayoutOptions are the user's own answers; nil fields are detected.
type LayoutOptions struct {
	// Header says whether the table's first row names the columns.
	Header *bool
	// Start fixes the index of the table's first row (skip_rows, or a
	// spreadsheet's header_row - 1).
	Start *int
}

const (
	// layoutSample is how many rows below the header the decision reads.
	layoutSample = 200
	// maxPreamble is how far down the table may start on its own.
	maxPreamble = 30
)

// DetectLayout decides where the table starts and whether its first row is
// a header, from the first rows of a file (each row as long as its record).
//
// A preamble row is a row of text only that fills fewer than half the
// columns a typical row fills (a title, a note, a blank row), above the
// first row that fills at least half. The header decision compares the
// first row with the rows below, column by column: a text cell over
// numbers, dates or booleans votes for a header; a value of the column's
// own type votes against, except a year (2019) over values that are not
// years; a text cell that recurs among the values below votes against. A
// tie is a header, as pandas and R assume.
func DetectLayout(rows [][]Cell, o LayoutOptions) Layout {
	var l Layout
	switch {
	case o.Start != nil:
		l.Start = min(max(*o.Start, 0), len(rows))
	default:
		l.Start = tableStart(rows)
	}
	table := rows[l.Start:]
	var first []Cell
	var body [][]Cell
	if len(table) > 0 {
		first = table[0]
		for _, r := range table[1:] {
			if filled(r) > 0 {
				body = append(body, r)
			}
			if len(body) == layoutSample {
				break
			}
		}
	}
	switch {
	case o.Header != nil:
		l.HasHeader = *o.Header && len(table) > 0
	case len(table) == 0:
	default:
		l.HasHeader = headerVotes(first, body) >= 0 && filled(first) > 0
	}
	width := modalWidth(body)
	if !l.HasHeader && len(first) > 0 {
		width = max(width, len(first))
	}
	var header []string
	if l.HasHeader {
		width = max(width, len(first))
		header = make([]string, len(first))
		for i, c := range first {
			header[i] = c.Text
		}
	}
	l.Width = width
	l.Names = ColumnNames(header, width)
	return l
}

// filled counts the non-empty cells of a row.
func filled(r []Cell) int {
	n := 0
	for _, c := range r {
		if c.Kind != KindEmpty {
			n++
		}
	}
	return n
}

// modalWidth is the most common row length (the longer one on a tie).
func modalWidth(rows [][]Cell) int {
	counts := map[int]int{}
	for _, r := range rows {
		counts[len(r)]++
	}
	best, bestN := 0, 0
	for w, n := range counts {
		if n > bestN || (n == bestN && w > best) {
			best, bestN = w, n
		}
	}
	return best
}

// tableStart finds the first row of the table below a preamble.
func tableStart(rows [][]Cell) int {
	counts := map[int]int{}
	for i, r := range rows {
		if i == layoutSample {
			break
		}
		if n := filled(r); n > 0 {
			counts[n]++
		}
	}
	typical, bestN := 0, 0
	for w, n := range counts {
		if n > bestN || (n == bestN && w > typical) {
			typical, bestN = w, n
		}
	}
	threshold := max(2, (typical+1)/2)
	for i, r := range rows {
		if i > maxPreamble {
			break
		}
		n := filled(r)
		if n == 0 {
			continue
		}
		if n >= threshold || !allText(r) {
			return i
		}
	}
	// No row fills half a typical row (a one-column file): the first row
	// with content.
	for i, r := range rows {
		if filled(r) > 0 {
			return i
		}
	}
	return 0
}

func allText(r []Cell) bool {
	for _, c := range r {
		if c.Kind != KindEmpty && c.Kind != KindText {
			return false
		}
	}
	return true
}

// headerVotes scores first as a header against the rows below: > 0 for a
// header, < 0 for data.
func headerVotes(first []Cell, body [][]Cell) int {
	if len(body) == 0 {
		// A lone row: a header when it is all text.
		if allText(first) {
			return 1
		}
		return -1
	}
	score := 0
	for j, h := range first {
		if h.Kind == KindEmpty || h.Kind == KindNull {
			continue
		}
		kind, years, values := columnKind(body, j)
		switch {
		case kind == KindEmpty:
			// Nothing below to compare with.
		case kind.typed() && h.Kind == KindText:
			score += 2
		case kind.typed() && sameFamily(kind, h.Kind):
			if yearLike(h.Text) && !years {
				score++
			} else {
				score -= 2
			}
		case kind.typed():
			// A value of another type over typed values: a header cell
			// that happens to parse (a date over numbers) or a mixed column.
		case h.Kind.typed():
			// A number over text values reads as data, unless it is a
			// year label.
			if yearLike(h.Text) {
				score++
			} else {
				score--
			}
		case values[strings.TrimSpace(h.Text)]:
			score--
		}
	}
	return score
}

// sameFamily says a header cell of kind h fits a column of kind col.
func sameFamily(col, h Kind) bool {
	switch {
	case col.numeric():
		return h.numeric()
	case col == KindDate || col == KindTimestamp:
		return h == KindDate || h == KindTimestamp
	}
	return col == h
}

// columnKind is the kind most of the column's values below have (text
// unless at least 80% of the non-empty, non-null values share a typed
// kind), whether all its values are years, and the set of its text values.
func columnKind(body [][]Cell, j int) (Kind, bool, map[string]bool) {
	counts := map[Kind]int{}
	values := map[string]bool{}
	total, numbers, temporals := 0, 0, 0
	years := true
	for _, r := range body {
		if j >= len(r) {
			continue
		}
		c := r[j]
		if c.Kind == KindEmpty || c.Kind == KindNull {
			continue
		}
		total++
		counts[c.Kind]++
		if c.Kind.numeric() {
			numbers++
		}
		if c.Kind == KindDate || c.Kind == KindTimestamp {
			temporals++
		}
		years = years && yearLike(c.Text)
		if c.Kind == KindText {
			values[strings.TrimSpace(c.Text)] = true
		}
	}
	if total == 0 {
		return KindEmpty, false, values
	}
	most := func(n int) bool { return n*5 >= total*4 }
	switch {
	case most(counts[KindInt]):
		return KindInt, years, values
	case most(numbers):
		return KindDecimal, years, values
	case most(counts[KindBool]):
		return KindBool, false, values
	case most(counts[KindDate]):
		return KindDate, false, values
	case most(temporals):
		return KindTimestamp, false, values
	case most(counts[KindTime]):
		return KindTime, false, values
	}
	return KindText, false, values
}

// ColumnNames turns header cells into width unique column names: trimmed,
// line breaks and tabs made spaces, a blank one named column_<n> after its
// position (from 1), a repeated one (names are case-insensitive in SQL)
// suffixed _2, _3…. Without a header every column is column_<n>.
func ColumnNames(header []string, width int) []string {
	width = max(width, len(header))
	out := make([]string, width)
	used := make(map[string]bool, width)
	// Generated names must not take a name the header uses later.
	for _, h := range header {
		if n := cleanName(h); n != "" {
			used[strings.ToLower(n)] = false
		}
	}
	for i := range width {
		name := ""
		if i < len(header) {
			name = cleanName(header[i])
		}
		if name == "" {
			name = "column_" + strconv.Itoa(i+1)
			for k := 2; isTaken(used, name); k++ {
				name = "column_" + strconv.Itoa(i+1) + "_" + strconv.Itoa(k)
			}
		}
		base := name
		for k := 2; used[strings.ToLower(name)]; k++ {
			name = base + "_" + strconv.Itoa(k)
		}
		used[strings.ToLower(name)] = true
		out[i] = name
	}
	return out
}

func isTaken(used map[string]bool, name string) bool {
	_, ok := used[strings.ToLower(name)]
	return ok
}

func cleanName(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return strings.TrimSpace(strings.TrimPrefix(s, "\uFEFF"))
}
