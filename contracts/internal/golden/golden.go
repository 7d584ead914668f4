// Package golden pins the wire format of contract types: a value's JSON must
// equal a reviewed file under testdata/, and that file must decode back into
// the same value. Only tests import it.
//
// Regenerate a package's files after an intended (additive!) change with
//
//	go test ./filev1/ -update
package golden

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Dir is where a package keeps its golden files, relative to its directory.
const Dir = "testdata"

const suffix = ".golden.json"

// Case is one named value whose JSON is pinned in testdata/<Name>.golden.json.
type Case struct {
	Name  string
	Value any
}

// CheckAll checks every case and then that testdata holds no golden file
// without a case, so a removed type cannot leave a stale file behind. With
// update set it rewrites the files (and removes stale ones) first.
func CheckAll(t *testing.T, cases []Case, update bool) {
	t.Helper()
	want := make([]string, 0, len(cases))
	for _, c := range cases {
		want = append(want, c.Name+suffix)
		t.Run(c.Name, func(t *testing.T) { Check(t, c.Name, c.Value, update) })
	}
	entries, err := os.ReadDir(Dir)
	if err != nil {
		t.Fatalf("read %s: %v", Dir, err)
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, suffix) || slices.Contains(want, name) {
			continue
		}
		if update {
			if err := os.Remove(filepath.Join(Dir, name)); err != nil {
				t.Fatalf("remove stale golden: %v", err)
			}
			continue
		}
		t.Errorf("%s/%s has no case; remove it or add the case", Dir, name)
	}
}

// Check compares v's JSON with testdata/<name>.golden.json, then decodes the
// file into a new value of v's type and requires it to equal v and to encode
// to the same bytes again (a field that encodes but does not decode fails).
func Check(t *testing.T, name string, v any, update bool) {
	t.Helper()
	got, err := encode(v)
	if err != nil {
		t.Fatalf("marshal %T: %v", v, err)
	}
	path := filepath.Join(Dir, name+suffix)
	if update {
		if err := os.MkdirAll(Dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%T encodes differently from %s\n--- got\n%s--- want\n%s", v, path, got, want)
	}

	back := reflect.New(reflect.TypeOf(v))
	if err := json.Unmarshal(want, back.Interface()); err != nil {
		t.Fatalf("unmarshal %s into %T: %v", path, v, err)
	}
	if !reflect.DeepEqual(back.Elem().Interface(), v) {
		t.Errorf("%s decodes to\n%#v\nwant\n%#v", path, back.Elem().Interface(), v)
	}
	again, err := encode(back.Elem().Interface())
	if err != nil {
		t.Fatalf("re-marshal %T: %v", v, err)
	}
	if !bytes.Equal(again, want) {
		t.Errorf("%s does not survive a decode/encode round trip\n--- got\n%s", path, again)
	}
}

func encode(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
