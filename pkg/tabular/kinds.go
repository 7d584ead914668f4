package tabular

import (
	"slices"
	"strconv"
	"strings"
)

// Kind is what a cell's text looks like. Kinds only steer decisions about
// the layout (is the first row a header?) and never change a value.
type Kind uint8

const (
	KindEmpty Kind = iota
	// KindNull is a token people write for a missing value (NullTokens).
	KindNull
	KindBool
	KindInt
	// KindDecimal is a number with a fraction or an exponent, with a
	// decimal point or a decimal comma.
	KindDecimal
	KindDate
	KindTime
	KindTimestamp
	KindText
)

// typed says the kind is a value of some type other than text.
func (k Kind) typed() bool { return k >= KindBool && k <= KindTimestamp }

// numeric says the kind is a number.
func (k Kind) numeric() bool { return k == KindInt || k == KindDecimal }

// NullTokens are the texts read as a missing value in a column that is
// otherwise numeric or temporal: the spellings that R, pandas, Excel and
// databases write (pandas' default list). In a text column they stay text.
var NullTokens = []string{
	"#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
	"<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
}

// IsNullToken says s (trimmed) is one of NullTokens.
func IsNullToken(s string) bool { return slices.Contains(NullTokens, strings.TrimSpace(s)) }

// KindOf classifies the text of one cell.
func KindOf(s string) Kind {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return KindEmpty
	case IsNullToken(s):
		return KindNull
	case isBool(s):
		return KindBool
	case isInt(s):
		return KindInt
	case isDecimal(s):
		return KindDecimal
	}
	date, rest := cutDate(s)
	switch {
	case date && rest == "":
		return KindDate
	case date && (rest[0] == 'T' || rest[0] == ' ') && isTime(rest[1:]):
		return KindTimestamp
	case !date && isTime(s):
		return KindTime
	}
	return KindText
}

func isBool(s string) bool {
	switch strings.ToLower(s) {
	case "true", "false":
		return true
	}
	return false
}

// isDigits says s is one or more ASCII digits.
func isDigits(s string) bool { return s != "" && strings.Trim(s, "0123456789") == "" }

func trimSign(s string) string {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		return s[1:]
	}
	return s
}

func isInt(s string) bool { return isDigits(trimSign(s)) }

// isDecimal accepts 1.5, .5, 1e6, 1,5 and grouped forms such as 1.234,56,
// 1 234,56 and 1,234.56.
func isDecimal(s string) bool {
	s = trimSign(s)
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		// ParseFloat also takes "inf", "nan", hex and underscores.
		return strings.IndexFunc(s, func(r rune) bool { return !strings.ContainsRune("0123456789.eE+-", r) }) < 0
	}
	_, ok := ParseGroupedDecimal(s, ',')
	if ok {
		return true
	}
	_, ok = ParseGroupedDecimal(s, '.')
	return ok
}

// ParseGroupedDecimal reads a number written with decimal separator dec
// ('.' or ',') and optional digit groups of three separated by the other
// mark, a space or a no-break space ("1.234.567,89", "1 234,5",
// "1,234.5"). It returns the number in plain form ("1234567.89") and
// whether s is such a number.
func ParseGroupedDecimal(s string, dec byte) (string, bool) {
	s = strings.TrimSpace(s)
	sign := ""
	if s != "" && (s[0] == '+' || s[0] == '-') {
		if s[0] == '-' {
			sign = "-"
		}
		s = s[1:]
	}
	group := byte(',')
	if dec == ',' {
		group = '.'
	}
	intPart, frac, hasFrac := strings.Cut(s, string(dec))
	if hasFrac && !isDigits(frac) {
		return "", false
	}
	var digits strings.Builder
	groups := strings.FieldsFunc(intPart, func(r rune) bool { return r == rune(group) || r == ' ' || r == '\u00a0' || r == '\u202f' })
	if len(groups) == 0 {
		return "", false
	}
	for i, g := range groups {
		if !isDigits(g) || (i > 0 && len(g) != 3) || (i == 0 && len(groups) > 1 && len(g) > 3) {
			return "", false
		}
		digits.WriteString(g)
	}
	if len(groups) == 1 && len(groups[0]) != len(intPart) {
		// A separator with nothing on one side ("1.", ".5" in the other
		// convention) is not a grouped number.
		return "", false
	}
	out := sign + digits.String()
	if hasFrac {
		out += "." + frac
	}
	return out, true
}

// cutDate reports whether s starts with a date (2024-01-31, 2024/01/31,
// 31.01.2024, 31/01/2024, 01/31/2024, 31-01-2024) and returns the rest.
func cutDate(s string) (bool, string) {
	if len(s) < 8 {
		return false, s
	}
	// Year first.
	if len(s) >= 10 && isDigits(s[0:4]) && (s[4] == '-' || s[4] == '/' || s[4] == '.') && s[7] == s[4] &&
		isDigits(s[5:7]) && isDigits(s[8:10]) {
		return validMonthDay(s[5:7], s[8:10]), s[10:]
	}
	// Day or month first, one or two digits each, four-digit year.
	i := 0
	for i < len(s) && i < 2 && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || i >= len(s) || (s[i] != '.' && s[i] != '/' && s[i] != '-') {
		return false, s
	}
	sep := s[i]
	j := i + 1
	for j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j == i+1 || j >= len(s) || s[j] != sep || len(s) < j+5 || !isDigits(s[j+1:j+5]) {
		return false, s
	}
	a, b := s[:i], s[i+1:j]
	if !validMonthDay(b, a) && !validMonthDay(a, b) {
		return false, s
	}
	return true, s[j+5:]
}

func validMonthDay(month, day string) bool {
	m, err1 := strconv.Atoi(month)
	d, err2 := strconv.Atoi(day)
	return err1 == nil && err2 == nil && m >= 1 && m <= 12 && d >= 1 && d <= 31
}

// isTime accepts hh:mm, hh:mm:ss and fractions, with an optional zone
// suffix (Z, +01:00).
func isTime(s string) bool {
	s = strings.TrimSuffix(s, "Z")
	if i := strings.LastIndexAny(s, "+-"); i > 4 {
		s = s[:i]
	}
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return false
	}
	if sec, frac, ok := strings.Cut(parts[len(parts)-1], "."); ok {
		if !isDigits(frac) {
			return false
		}
		parts[len(parts)-1] = sec
	}
	for i, p := range parts {
		if len(p) < 1 || len(p) > 2 || !isDigits(p) {
			return false
		}
		n, _ := strconv.Atoi(p)
		if (i == 0 && n > 23) || (i > 0 && n > 59) {
			return false
		}
	}
	return true
}

// yearLike says s is a four-digit year between 1800 and 2200: a header
// such as "2019" names a column even though it is a number.
func yearLike(s string) bool {
	s = strings.TrimSpace(s)
	if len(s) != 4 || !isDigits(s) {
		return false
	}
	n, _ := strconv.Atoi(s)
	return n >= 1800 && n <= 2200
}
