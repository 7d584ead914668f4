package datasetv1_test

import (
	"encoding/json"
	"slices"
	"testing"

	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
)

// Rows keep their column order and their values byte for byte through a
// decode and an encode (the gateway's hop): a key order other than sorted,
// a duplicate-free object, and a BIGINT beyond 2^53 that a float would
// round.
func TestRowKeepsOrderAndValues(t *testing.T) {
	in := `[{"zeta":9007199254740993,"alpha":"x","mid":null,"list":[1,{"b":2,"a":1}]}]`
	var rows []dv1.Row
	if err := json.Unmarshal([]byte(in), &rows); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0].Keys(), []string{"zeta", "alpha", "mid", "list"}) {
		t.Fatalf("keys %v", rows[0].Keys())
	}
	out, err := json.Marshal(rows)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != in {
		t.Fatalf("re-encoded\n%s\nwant\n%s", out, in)
	}
	if raw, ok := rows[0].Raw("zeta"); !ok || string(raw) != "9007199254740993" {
		t.Fatalf("raw %s", raw)
	}
	if rows[0].Get("alpha") != "x" || rows[0].Get("mid") != nil || rows[0].Get("absent") != nil {
		t.Fatalf("get %v", rows[0].Map())
	}
	if r := dv1.RowOf([]string{"b", "a"}, 1, "two"); r.EncodedSize() != len(mustJSON(t, r)) || string(mustJSON(t, r)) != `{"b":1,"a":"two"}` {
		t.Fatalf("RowOf %s", mustJSON(t, r))
	}
	var bad dv1.Row
	if err := json.Unmarshal([]byte(`[1]`), &bad); err == nil {
		t.Fatal("an array decoded as a row")
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
