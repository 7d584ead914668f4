package duck

import (
	"encoding/base64"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// jsonSafe turns a value scanned from DuckDB into one that encodes to JSON
// without loss or failure: DECIMAL and (U)HUGEINT as exact strings, dates as
// YYYY-MM-DD, timestamps as RFC 3339, BLOBs base64, NaN and ±Inf as null,
// UUIDs and intervals as strings; LIST, STRUCT and MAP recursively.
// dbType is DuckDB's name of the column type ("DATE", "BLOB", …).
func jsonSafe(v any, dbType string) any {
	switch x := v.(type) {
	case nil, bool, string, int8, int16, int32, int64, uint8, uint16, uint32, uint64, int, uint:
		return x
	case float32:
		return finiteOrNil(float64(x))
	case float64:
		return finiteOrNil(x)
	case *big.Int:
		if x == nil {
			return nil
		}
		return x.String()
	case duckdb.Decimal:
		return decimalString(x)
	case time.Time:
		return timeString(x, dbType)
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	case duckdb.UUID:
		return x.String()
	case *duckdb.UUID:
		return x.String()
	case duckdb.Interval:
		return intervalString(x)
	case []any:
		out := make([]any, len(x))
		elem := listElementType(dbType)
		for i, e := range x {
			out[i] = jsonSafe(e, elem)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonSafe(e, "")
		}
		return out
	case duckdb.Map:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(jsonSafe(k, ""))] = jsonSafe(e, "")
		}
		return out
	case duckdb.Union:
		return jsonSafe(x.Value, "")
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

func finiteOrNil(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return f
}

// decimalString keeps the scale ("0.10", not "0.1"), unlike Decimal.String
// for zero.
func decimalString(d duckdb.Decimal) string {
	if d.Value == nil {
		return "0"
	}
	digits := new(big.Int).Abs(d.Value).String()
	sign := ""
	if d.Value.Sign() < 0 {
		sign = "-"
	}
	scale := int(d.Scale)
	if scale == 0 {
		return sign + digits
	}
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	return sign + digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
}

// timeString writes a time value as its type means it: a DATE as
// YYYY-MM-DD, a TIME as hh:mm:ss, a TIMESTAMP WITH TIME ZONE as RFC 3339 in
// UTC, and a TIMESTAMP (a local time of unknown zone) without a zone, so it
// is not mistaken for UTC.
func timeString(t time.Time, dbType string) string {
	switch {
	case dbType == "DATE":
		return t.Format(time.DateOnly)
	case dbType == "TIMETZ" || dbType == "TIME WITH TIME ZONE":
		return t.Format("15:04:05.999999Z07:00")
	case strings.HasPrefix(dbType, "TIME") && !strings.HasPrefix(dbType, "TIMESTAMP"):
		return t.Format("15:04:05.999999")
	case dbType == "TIMESTAMPTZ" || dbType == "TIMESTAMP WITH TIME ZONE":
		return t.UTC().Format(time.RFC3339Nano)
	}
	return t.UTC().Format("2006-01-02T15:04:05.999999999")
}

// intervalString writes an interval the way DuckDB does: "1 year 2 months
// 3 days 04:05:06.5", hours counting past 24 ("36:00:00").
func intervalString(iv duckdb.Interval) string {
	var parts []string
	plural := func(n int64, unit string) string {
		if n == 1 || n == -1 {
			return fmt.Sprintf("%d %s", n, unit)
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	if y := int64(iv.Months) / 12; y != 0 {
		parts = append(parts, plural(y, "year"))
	}
	if m := int64(iv.Months) % 12; m != 0 {
		parts = append(parts, plural(m, "month"))
	}
	if iv.Days != 0 {
		parts = append(parts, plural(int64(iv.Days), "day"))
	}
	if iv.Micros != 0 || len(parts) == 0 {
		us := iv.Micros
		sign := ""
		if us < 0 {
			sign, us = "-", -us
		}
		h, us := us/3_600_000_000, us%3_600_000_000
		m, us := us/60_000_000, us%60_000_000
		sec, frac := us/1_000_000, us%1_000_000
		clock := fmt.Sprintf("%s%02d:%02d:%02d", sign, h, m, sec)
		if frac != 0 {
			clock += strings.TrimRight(fmt.Sprintf(".%06d", frac), "0")
		}
		parts = append(parts, clock)
	}
	return strings.Join(parts, " ")
}

// listElementType is the element type of a LIST type name ("DATE[]" →
// "DATE"), so dates inside lists format like dates.
func listElementType(dbType string) string {
	if i := strings.LastIndex(dbType, "["); i > 0 {
		return dbType[:i]
	}
	return ""
}
