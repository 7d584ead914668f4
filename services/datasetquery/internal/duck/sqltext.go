package duck

import "strings"

// segment is a stretch of SQL text: code, a quoted token (string literal,
// quoted identifier, dollar-quoted string) or a comment.
type segment struct {
	kind       segmentKind
	start, end int
}

type segmentKind int

const (
	codeSegment segmentKind = iota
	quotedSegment
	commentSegment
)

// sqlSegments splits query where DuckDB's lexer starts and ends quoted
// tokens and comments. It only ever decides where the service may cut or
// blank text around a statement that DuckDB has already parsed; a mistake
// here makes the cut text fail to parse, it never joins two statements.
func sqlSegments(q string) []segment {
	var out []segment
	codeStart := 0
	for i := 0; i < len(q); {
		var end int
		kind := quotedSegment
		switch c := q[i]; {
		case c == '-' && strings.HasPrefix(q[i:], "--"):
			kind, end = commentSegment, len(q)
			if n := strings.IndexByte(q[i:], '\n'); n >= 0 {
				end = i + n
			}
		case c == '/' && strings.HasPrefix(q[i:], "/*"):
			kind, end = commentSegment, blockCommentEnd(q, i)
		case c == '\'':
			backslash := i > 0 && (q[i-1] == 'e' || q[i-1] == 'E') && (i < 2 || !isIdentByte(q[i-2]))
			end = quoteEnd(q, i, '\'', backslash)
		case c == '"':
			end = quoteEnd(q, i, '"', false)
		case c == '$':
			end = dollarQuoteEnd(q, i)
		}
		if end <= i {
			i++
			continue
		}
		if codeStart < i {
			out = append(out, segment{codeSegment, codeStart, i})
		}
		out = append(out, segment{kind, i, end})
		i, codeStart = end, end
	}
	if codeStart < len(q) {
		out = append(out, segment{codeSegment, codeStart, len(q)})
	}
	return out
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// quoteEnd is the index after the quote closing the token opened at i (a
// doubled quote is part of the token), or len(q).
func quoteEnd(q string, i int, quote byte, backslash bool) int {
	for j := i + 1; j < len(q); j++ {
		switch {
		case backslash && q[j] == '\\':
			j++
		case q[j] == quote:
			if j+1 < len(q) && q[j+1] == quote {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(q)
}

// blockCommentEnd is the index after the "*/" closing the comment opened at
// i (block comments nest), or len(q).
func blockCommentEnd(q string, i int) int {
	depth := 0
	for j := i; j+1 < len(q); j++ {
		switch {
		case q[j] == '/' && q[j+1] == '*':
			depth++
			j++
		case q[j] == '*' && q[j+1] == '/':
			depth--
			j++
			if depth == 0 {
				return j + 1
			}
		}
	}
	return len(q)
}

// dollarQuoteEnd is the index after a $tag$…$tag$ string opened at i, or i
// when no dollar quote starts there ($1 is a parameter).
func dollarQuoteEnd(q string, i int) int {
	j := i + 1
	for j < len(q) && isIdentByte(q[j]) && !(j == i+1 && q[j] >= '0' && q[j] <= '9') {
		j++
	}
	if j >= len(q) || q[j] != '$' {
		return i
	}
	tag := q[i : j+1]
	if n := strings.Index(q[j+1:], tag); n >= 0 {
		return j + 1 + n + len(tag)
	}
	return len(q)
}

// statementBody is query without the blanks, comments and semicolons after
// its last token, so it can be placed inside parentheses.
func statementBody(q string) string {
	end := 0
	for _, s := range sqlSegments(q) {
		switch s.kind {
		case quotedSegment:
			end = s.end
		case codeSegment:
			if n := strings.TrimRight(q[s.start:s.end], " \t\r\n\f\v;"); n != "" {
				end = s.start + len(n)
			}
		}
	}
	return q[:end]
}

// withoutComments is query with each comment replaced by a blank.
func withoutComments(q string) string {
	var b strings.Builder
	b.Grow(len(q))
	for _, s := range sqlSegments(q) {
		if s.kind == commentSegment {
			b.WriteByte(' ')
			continue
		}
		b.WriteString(q[s.start:s.end])
	}
	return b.String()
}
