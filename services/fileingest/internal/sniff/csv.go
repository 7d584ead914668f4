package sniff

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	xunicode "golang.org/x/text/encoding/unicode"
)

// Encoding names reported in Preview.Encoding. They follow Python's codec
// names, which the original service and DuckDB's read_csv understand.
const (
	EncodingUTF8        = "utf-8"
	EncodingUTF8BOM     = "utf-8-sig"
	EncodingUTF16LE     = "utf-16le"
	EncodingUTF16BE     = "utf-16be"
	EncodingWindows1252 = "windows-1252"
)

var (
	bomUTF8    = []byte{0xEF, 0xBB, 0xBF}
	bomUTF16LE = []byte{0xFF, 0xFE}
	bomUTF16BE = []byte{0xFE, 0xFF}
)

// delimiters are the candidates, in order of preference on a tie.
var delimiters = []rune{',', ';', '\t', '|'}

// inspectText decides whether the head is text and, for a file labelled
// CSV or TSV, reads its dialect and first rows.
func inspectText(res *Result, head []byte, truncated bool, h Hints, lim Limits) {
	text, enc, ok := decodeText(head, truncated)
	if !ok {
		res.DetectedType = TypeBin
		return
	}
	res.Text = true
	res.DetectedType = textTypeFor(h)
	if kind := labelKind(h); kind == labelCSV || kind == labelTSV {
		res.Preview = csvPreview(text, truncated, enc, kind, lim)
	}
}

// decodeText finds the encoding of head (a BOM, else valid UTF-8, else
// Windows-1252, the superset of Latin-1 that spreadsheet exports use) and
// returns it decoded as UTF-8. ok is false when the result does not look
// like text. truncated says head is cut from a longer stream, so a partial
// character at its end is expected.
func decodeText(head []byte, truncated bool) (text string, enc string, ok bool) {
	var decoded []byte
	var err error
	switch {
	case bytes.HasPrefix(head, bomUTF8):
		enc = EncodingUTF8BOM
		decoded = trimPartialUTF8(head[len(bomUTF8):], truncated)
		if !utf8.Valid(decoded) {
			return "", "", false
		}
	case bytes.HasPrefix(head, bomUTF16LE), bytes.HasPrefix(head, bomUTF16BE):
		enc = EncodingUTF16LE
		order := xunicode.LittleEndian
		if bytes.HasPrefix(head, bomUTF16BE) {
			enc, order = EncodingUTF16BE, xunicode.BigEndian
		}
		body := head
		if truncated && len(body)%2 == 1 {
			body = body[:len(body)-1]
		}
		decoded, err = xunicode.UTF16(order, xunicode.ExpectBOM).NewDecoder().Bytes(body)
		if err != nil {
			return "", "", false
		}
		if truncated {
			// A surrogate pair cut in half decodes as U+FFFD at the end.
			decoded = bytes.TrimSuffix(decoded, []byte(string(utf8.RuneError)))
		}
	default:
		if candidate := trimPartialUTF8(head, truncated); utf8.Valid(candidate) {
			enc, decoded = EncodingUTF8, candidate
			break
		}
		enc = EncodingWindows1252
		decoded, err = charmap.Windows1252.NewDecoder().Bytes(head)
		if err != nil {
			return "", "", false
		}
	}
	s := string(decoded)
	if !looksLikeText(s) {
		return "", "", false
	}
	return s, enc, true
}

// trimPartialUTF8 drops an incomplete UTF-8 sequence at the end of a head
// that was cut from a longer stream.
func trimPartialUTF8(b []byte, truncated bool) []byte {
	if !truncated {
		return b
	}
	for i := 1; i <= utf8.UTFMax && i <= len(b); i++ {
		start := len(b) - i
		if !utf8.RuneStart(b[start]) {
			continue
		}
		if !utf8.FullRune(b[start:]) {
			return b[:start]
		}
		break
	}
	return b
}

// looksLikeText rejects content with NUL bytes or more than 1% control
// characters (tabs, line breaks and form feeds excepted).
func looksLikeText(s string) bool {
	var total, control int
	for _, r := range s {
		total++
		switch {
		case r == 0:
			return false
		case r == '\t', r == '\n', r == '\r', r == '\f', r == '\v', r == 0x1b:
		case unicode.IsControl(r):
			control++
		}
	}
	return control*100 <= total
}

// csvPreview reads the dialect and the first rows of decoded CSV text.
func csvPreview(text string, truncated bool, enc string, kind label, lim Limits) *Preview {
	text = strings.TrimPrefix(text, "\uFEFF")
	if truncated {
		// The last line may be cut; keep only complete ones.
		if i := strings.LastIndexByte(text, '\n'); i >= 0 {
			text = text[:i+1]
		}
	}
	delim := detectDelimiter(text, kind)
	r := csv.NewReader(strings.NewReader(text))
	r.Comma = delim
	r.LazyQuotes = true
	r.FieldsPerRecord = -1
	var records [][]string
	for len(records) <= lim.PreviewRows {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// The preview is what parsed cleanly before the first error.
			break
		}
		records = append(records, rec)
	}
	p := &Preview{Encoding: enc, Delimiter: string(delim)}
	fillPreview(p, records, lim)
	return p
}

// detectDelimiter picks the candidate that splits the first lines most
// consistently into the most fields. Quoted text is not counted.
func detectDelimiter(text string, kind label) rune {
	lines := firstLines(text, 20)
	best, bestScore, bestFields := ',', -1.0, 0
	if kind == labelTSV {
		best = '\t'
	}
	for _, d := range delimiters {
		counts := map[int]int{}
		for _, line := range lines {
			counts[countOutsideQuotes(line, d)]++
		}
		mode, modeLines := 0, 0
		for c, n := range counts {
			if n > modeLines || (n == modeLines && c > mode) {
				mode, modeLines = c, n
			}
		}
		if mode == 0 {
			continue
		}
		score := float64(modeLines) / float64(len(lines))
		if score > bestScore || (score == bestScore && mode > bestFields) {
			best, bestScore, bestFields = d, score, mode
		}
	}
	return best
}

func firstLines(text string, n int) []string {
	var lines []string
	for len(lines) < n && text != "" {
		line, rest, _ := strings.Cut(text, "\n")
		text = rest
		if strings.TrimSpace(line) != "" {
			lines = append(lines, line)
		}
	}
	return lines
}

func countOutsideQuotes(line string, d rune) int {
	n, quoted := 0, false
	for _, r := range line {
		switch {
		case r == '"':
			quoted = !quoted
		case r == d && !quoted:
			n++
		}
	}
	return n
}

// fillPreview turns records (the first one possibly a header) into a
// preview: header detection, column names, and capped rows and cells.
func fillPreview(p *Preview, records [][]string, lim Limits) {
	if len(records) == 0 {
		return
	}
	p.HasHeader = looksLikeHeader(records[0])
	data := records
	if p.HasHeader {
		data = records[1:]
	}
	width := 0
	for _, rec := range records {
		width = max(width, len(rec))
	}
	width = min(width, lim.MaxColumns)
	p.Columns = make([]string, width)
	for i := range width {
		name := ""
		if p.HasHeader && i < len(records[0]) {
			name = strings.TrimSpace(truncateRunes(records[0][i], lim.MaxCellRunes))
		}
		if name == "" {
			name = "column" + strconv.Itoa(i+1)
		}
		p.Columns[i] = name
	}
	data = data[:min(len(data), lim.PreviewRows)]
	p.Rows = make([][]string, len(data))
	for i, rec := range data {
		row := make([]string, min(len(rec), width))
		for j := range row {
			row[j] = truncateRunes(rec[j], lim.MaxCellRunes)
		}
		p.Rows[i] = row
	}
}

// looksLikeHeader: a header names every column, once, and names are not
// numbers. A first row of data almost always breaks one of those.
func looksLikeHeader(first []string) bool {
	seen := make(map[string]bool, len(first))
	for _, f := range first {
		f = strings.TrimSpace(f)
		if f == "" || seen[f] || isNumber(f) {
			return false
		}
		seen[f] = true
	}
	return len(first) > 0
}

func isNumber(s string) bool {
	s = strings.TrimSpace(s)
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return true
	}
	// Decimal commas, as in ";"-separated European exports.
	if strings.Count(s, ",") == 1 {
		if _, err := strconv.ParseFloat(strings.Replace(s, ",", ".", 1), 64); err == nil {
			return true
		}
	}
	return false
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}
