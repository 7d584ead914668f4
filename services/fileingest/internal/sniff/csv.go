package sniff

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nonefinity/backend/pkg/tabular"
)

// Encoding names reported in Preview.Encoding. They follow Python's codec
// names, which the original service and DuckDB's read_csv understand.
const (
	EncodingUTF8        = tabular.UTF8
	EncodingUTF8BOM     = tabular.UTF8BOM
	EncodingUTF16LE     = tabular.UTF16LE
	EncodingUTF16BE     = tabular.UTF16BE
	EncodingWindows1252 = tabular.Windows1252
)

// inspectText decides whether the head is text and, for a file labelled
// CSV or TSV (or a .txt file whose lines are delimited records, as Excel's
// text exports are), reads its dialect and first rows. enc is the encoding
// found over the whole file.
func inspectText(res *Result, head []byte, truncated bool, h Hints, enc tabular.EncodingResult, lim Limits) {
	text, ok := decodeHead(head, truncated, enc)
	if !ok {
		res.DetectedType = TypeBin
		return
	}
	res.Text = true
	res.DetectedType = textTypeFor(h)
	kind := labelKind(h)
	switch {
	case kind == labelCSV || kind == labelTSV:
		res.Preview = csvPreview(text, truncated, enc.Name, kind == labelTSV, lim)
	case plainTextLabel(h):
		if p, delim, ok := delimitedText(text, truncated, enc.Name, lim); ok {
			res.Preview = p
			res.DetectedType = TypeCSV
			if delim == '\t' {
				res.DetectedType = TypeTSV
			}
		}
	}
}

// decodeHead decodes the head of a file as the whole file's encoding says
// (line by line for a file that mixes UTF-8 with a legacy encoding); ok is
// false when the result does not look like text. A truncated head may end
// inside a character: its last line is not used anyway.
func decodeHead(head []byte, truncated bool, enc tabular.EncodingResult) (string, bool) {
	var out bytes.Buffer
	if enc.Decoding() {
		if truncated && (enc.Name == EncodingUTF16LE || enc.Name == EncodingUTF16BE) && len(head)%2 == 1 {
			head = head[:len(head)-1]
		}
		if _, err := tabular.Transcode(&out, bytes.NewReader(head), enc); err != nil {
			return "", false
		}
	} else {
		b := trimPartialUTF8(head, truncated)
		if !utf8.Valid(b) {
			return "", false
		}
		out.Write(b)
	}
	s := out.String()
	if !looksLikeText(s) {
		return "", false
	}
	return s, true
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

// csvPreview reads the dialect, the table's place and the first rows of
// decoded CSV text with the rules the conversion uses, so the preview and
// the dataset name the columns the same way.
func csvPreview(text string, truncated bool, enc string, tab bool, lim Limits) *Preview {
	h := tabular.ReadHead(text, truncated, tabular.HeadOptions{Hint: tabular.Hint{Tab: tab}})
	return previewOf(h, enc, lim)
}

// previewOf turns a head into a preview: the layout's names (capped in
// number) and the first data rows (cells capped in length).
func previewOf(h tabular.Head, enc string, lim Limits) *Preview {
	l := h.Layout
	p := &Preview{Encoding: enc, Delimiter: string(h.Dialect.Delimiter), HasHeader: l.HasHeader, SkipRows: l.Start}
	fillPreview(p, l, h.Records, lim)
	return p
}

// fillPreview sets a preview's columns and rows from a layout over
// records.
func fillPreview(p *Preview, l tabular.Layout, records [][]string, lim Limits) {
	width := min(l.Width, lim.MaxColumns)
	p.Columns = append([]string(nil), l.Names[:width]...)
	first := l.Start
	if l.HasHeader {
		first++
	}
	p.Rows = [][]string{}
	for _, rec := range records[min(first, len(records)):] {
		if len(p.Rows) == lim.PreviewRows {
			break
		}
		if blankRecord(rec) {
			continue
		}
		row := make([]string, min(len(rec), width))
		for j := range row {
			row[j] = truncateRunes(rec[j], lim.MaxCellRunes)
		}
		p.Rows = append(p.Rows, row)
	}
	fitPreview(p, lim.MaxPreviewBytes)
}

// fitPreview trims a preview to maxBytes of JSON. 500 columns of 256
// escaped characters make 20 rows of several MB, more than one NATS
// message holds, so rows are dropped from the end until the rest fits; a
// header that alone is too large keeps its leading columns and no rows.
func fitPreview(p *Preview, maxBytes int) {
	size := 0
	for _, c := range p.Columns {
		size += jsonLen(c) + 1
	}
	if size > maxBytes {
		used, keep := 0, 0
		for _, c := range p.Columns {
			if used+jsonLen(c)+1 > maxBytes {
				break
			}
			used += jsonLen(c) + 1
			keep++
		}
		p.Columns, p.Rows = p.Columns[:keep], [][]string{}
		return
	}
	for i, row := range p.Rows {
		n := 3 // brackets and comma
		for _, c := range row {
			n += jsonLen(c) + 1
		}
		if size+n > maxBytes {
			p.Rows = p.Rows[:i]
			return
		}
		size += n
	}
}

// jsonLen is how long s is as a JSON string.
func jsonLen(s string) int {
	b, _ := json.Marshal(s)
	return len(b)
}

func blankRecord(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// plainTextLabel says the file is labelled plain text (.txt, text/plain):
// Excel's "Text (Tab delimited)" and "Unicode Text" exports are.
func plainTextLabel(h Hints) bool {
	return strings.EqualFold(h.Ext, ".txt") || baseType(h.DeclaredType) == TypeText
}

// delimitedText previews plain text whose lines are records of the same
// width (two or more fields, every record of the head alike and none with
// broken quoting): a table saved as text, not prose.
func delimitedText(text string, truncated bool, enc string, lim Limits) (*Preview, byte, bool) {
	h := tabular.ReadHead(text, truncated, tabular.HeadOptions{Hint: tabular.Hint{Tab: true}})
	recs := h.Records[min(h.Layout.Start, len(h.Records)):]
	if len(recs) < 2 || h.Layout.Width < 2 {
		return nil, 0, false
	}
	for _, r := range recs {
		if len(r) != h.Layout.Width {
			return nil, 0, false
		}
	}
	return previewOf(h, enc, lim), h.Dialect.Delimiter, true
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
