package datasetv1

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Row is one row of a result: a JSON object whose keys keep the result's
// column order (a Go map would sort them) and whose values pass through
// every hop as the JSON the service wrote, so a BIGINT is never re-read as
// a float on the way to the client.
type Row struct {
	cols *RowColumns
	vals []json.RawMessage
}

// RowColumns are the keys of a result's rows, encoded once for all rows.
type RowColumns struct {
	names   []string
	encoded [][]byte
}

// NewRowColumns prepares the keys of rows (unique names, in order).
func NewRowColumns(names []string) *RowColumns {
	c := &RowColumns{names: names, encoded: make([][]byte, len(names))}
	for i, n := range names {
		c.encoded[i], _ = json.Marshal(n)
	}
	return c
}

// NewRow makes a row of already encoded values, one per column.
func NewRow(cols *RowColumns, vals []json.RawMessage) Row {
	return Row{cols: cols, vals: vals}
}

// Keys are the row's keys in order.
func (r Row) Keys() []string {
	if r.cols == nil {
		return nil
	}
	return r.cols.names
}

// Raw is the encoded value of key.
func (r Row) Raw(key string) (json.RawMessage, bool) {
	for i, k := range r.Keys() {
		if k == key {
			return r.vals[i], true
		}
	}
	return nil, false
}

// Get decodes the value of key as encoding/json would into an any (numbers
// as float64); nil when the key is absent.
func (r Row) Get(key string) any {
	raw, ok := r.Raw(key)
	if !ok {
		return nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil
	}
	return v
}

// Map is the row as a map (numbers as float64), for callers that do not
// care about the order.
func (r Row) Map() map[string]any {
	out := make(map[string]any, len(r.vals))
	for _, k := range r.Keys() {
		out[k] = r.Get(k)
	}
	return out
}

// EncodedSize is the length of the row's JSON.
func (r Row) EncodedSize() int {
	n := 2 + max(len(r.vals)-1, 0)
	for i, v := range r.vals {
		n += len(r.cols.encoded[i]) + 1 + len(v)
		if len(v) == 0 {
			n += len("null")
		}
	}
	return n
}

// MarshalJSON writes the object in column order.
func (r Row) MarshalJSON() ([]byte, error) {
	if r.cols == nil {
		return []byte("{}"), nil
	}
	b := make([]byte, 0, r.EncodedSize())
	b = append(b, '{')
	for i, v := range r.vals {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, r.cols.encoded[i]...)
		b = append(b, ':')
		if len(v) == 0 {
			b = append(b, "null"...)
			continue
		}
		b = append(b, v...)
	}
	return append(b, '}'), nil
}

// UnmarshalJSON reads an object keeping its key order and raw values.
func (r *Row) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("row: not a JSON object")
	}
	var names []string
	var vals []json.RawMessage
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("row: key %v is not a string", tok)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		names = append(names, key)
		vals = append(vals, raw)
	}
	if _, err := dec.Token(); err != nil {
		return err
	}
	*r = Row{cols: NewRowColumns(names), vals: vals}
	return nil
}

// RowOf makes a row from column names and Go values, encoded with
// encoding/json (a value that does not encode becomes null).
func RowOf(names []string, values ...any) Row {
	vals := make([]json.RawMessage, len(names))
	for i := range names {
		var v any
		if i < len(values) {
			v = values[i]
		}
		b, err := json.Marshal(v)
		if err != nil {
			b = []byte("null")
		}
		vals[i] = b
	}
	return NewRow(NewRowColumns(names), vals)
}
