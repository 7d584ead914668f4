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

// typeTimeNS is DuckDB's TIME_NS (DUCKDB_TYPE_TIME_NS), which duckdb-go
// cannot scan: such columns are read as DuckDB's text of them.
const typeTimeNS duckdb.Type = 39

// cellType is what encoding a value needs to know of its DuckDB type: the
// kind, and the types inside a LIST, ARRAY, MAP, STRUCT or UNION, so that a
// UUID or a DATE inside a STRUCT encodes like one at the top level.
type cellType struct {
	kind duckdb.Type
	// text: the value is read as DuckDB's text of it, because duckdb-go
	// cannot scan it (see unscannable); keyText: a MAP column's keys are,
	// because they do not scan to a comparable Go value (UUID, BLOB…).
	text, keyText bool
	// elem is the element of a LIST or ARRAY; key and value those of a
	// MAP.
	elem, key, value *cellType
	// fields are a STRUCT's fields or a UNION's members, in order.
	fields []cellField
}

type cellField struct {
	name string
	typ  *cellType
}

// newCellType describes a column from DuckDB's type information.
func newCellType(ti duckdb.TypeInfo) *cellType {
	t := &cellType{kind: ti.InternalType()}
	switch d := ti.Details().(type) {
	case *duckdb.ListDetails:
		t.elem = newCellType(d.Child)
	case *duckdb.ArrayDetails:
		t.elem = newCellType(d.Child)
	case *duckdb.MapDetails:
		t.key, t.value = newCellType(d.Key), newCellType(d.Value)
	case *duckdb.StructDetails:
		for _, e := range d.Entries {
			t.fields = append(t.fields, cellField{name: e.Name(), typ: newCellType(e.Info())})
		}
	case *duckdb.UnionDetails:
		for _, m := range d.Members {
			t.fields = append(t.fields, cellField{name: m.Name, typ: newCellType(m.Type)})
		}
	}
	t.text = t.unscannable()
	return t
}

// columnType describes a result column: as newCellType, except that a MAP
// whose keys alone cannot be scanned has them read as text.
func columnType(ti duckdb.TypeInfo) *cellType {
	t := newCellType(ti)
	if t.kind == duckdb.TYPE_MAP && t.text && !t.key.unscannable() && !t.value.unscannable() {
		t.text, t.keyText = false, true
		t.key = &cellType{kind: duckdb.TYPE_VARCHAR}
	}
	return t
}

// unscannable reports whether duckdb-go cannot scan a value of the type:
// TIME_NS, VARIANT, types it does not know and MAPs whose keys scan to
// values Go cannot compare, at any depth.
func (t *cellType) unscannable() bool {
	switch t.kind {
	case typeTimeNS, duckdb.TYPE_VARIANT, duckdb.TYPE_ANY, duckdb.TYPE_INVALID:
		return true
	case duckdb.TYPE_MAP:
		switch t.key.kind {
		case duckdb.TYPE_UUID, duckdb.TYPE_BLOB, duckdb.TYPE_LIST, duckdb.TYPE_ARRAY, duckdb.TYPE_STRUCT,
			duckdb.TYPE_MAP, duckdb.TYPE_UNION, duckdb.TYPE_GEOMETRY:
			return true
		}
	}
	for _, c := range []*cellType{t.elem, t.key, t.value} {
		if c != nil && c.unscannable() {
			return true
		}
	}
	for _, f := range t.fields {
		if f.typ.unscannable() {
			return true
		}
	}
	return false
}

// field is the type of a STRUCT field or UNION member, or nil.
func (t *cellType) field(name string) *cellType {
	if t == nil {
		return nil
	}
	for _, f := range t.fields {
		if f.name == name {
			return f.typ
		}
	}
	return nil
}

func (t *cellType) is(kind duckdb.Type) bool { return t != nil && t.kind == kind }

// encoder turns values scanned from DuckDB into JSON-safe ones (see
// jsonSafe). hide, when set, is a server directory that must not show in
// any string value (the session root: settings and view definitions name
// it).
type encoder struct {
	hide string
}

// jsonSafe turns a value scanned from DuckDB into one that encodes to JSON
// without loss or failure: DECIMAL and (U)HUGEINT as exact strings, dates as
// YYYY-MM-DD, timestamps as RFC 3339, BLOBs base64, NaN and ±Inf as null,
// UUIDs (which duckdb-go scans as 16 bytes) and intervals as strings; LIST,
// STRUCT and MAP recursively. t is the value's type, nil when unknown.
func (e encoder) jsonSafe(v any, t *cellType) any {
	switch x := v.(type) {
	case nil, bool, int8, int16, int32, int64, uint8, uint16, uint32, uint64, int, uint:
		return x
	case string:
		if e.hide != "" && strings.Contains(x, e.hide) {
			return strings.ReplaceAll(x, e.hide, "<path>")
		}
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
		return timeString(x, t)
	case []byte:
		if t.is(duckdb.TYPE_UUID) && len(x) == 16 {
			u := duckdb.UUID(x)
			return u.String()
		}
		return base64.StdEncoding.EncodeToString(x)
	case duckdb.UUID:
		return x.String()
	case *duckdb.UUID:
		return x.String()
	case duckdb.Interval:
		return intervalString(x)
	case []any:
		out := make([]any, len(x))
		var elem *cellType
		if t != nil {
			elem = t.elem
		}
		for i, v := range x {
			out[i] = e.jsonSafe(v, elem)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, v := range x {
			out[k] = e.jsonSafe(v, t.field(k))
		}
		return out
	case duckdb.OrderedMap:
		keys, values := x.Keys(), x.Values()
		out := make(map[string]any, len(keys))
		var kt, vt *cellType
		if t != nil {
			kt, vt = t.key, t.value
		}
		for i, k := range keys {
			out[fmt.Sprint(e.jsonSafe(k, kt))] = e.jsonSafe(values[i], vt)
		}
		return out
	case duckdb.Map:
		out := make(map[string]any, len(x))
		var kt, vt *cellType
		if t != nil {
			kt, vt = t.key, t.value
		}
		for k, v := range x {
			out[fmt.Sprint(e.jsonSafe(k, kt))] = e.jsonSafe(v, vt)
		}
		return out
	case duckdb.Union:
		return e.jsonSafe(x.Value, t.field(x.Tag))
	case fmt.Stringer:
		return e.jsonSafe(x.String(), nil)
	}
	return e.jsonSafe(fmt.Sprint(v), nil)
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
func timeString(v time.Time, t *cellType) string {
	var kind duckdb.Type
	if t != nil {
		kind = t.kind
	}
	switch kind {
	case duckdb.TYPE_DATE:
		return v.Format(time.DateOnly)
	case duckdb.TYPE_TIME_TZ:
		return v.Format("15:04:05.999999Z07:00")
	case duckdb.TYPE_TIME:
		return v.Format("15:04:05.999999")
	case duckdb.TYPE_TIMESTAMP_TZ:
		return v.UTC().Format(time.RFC3339Nano)
	}
	return v.UTC().Format("2006-01-02T15:04:05.999999999")
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
