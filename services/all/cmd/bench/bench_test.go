package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestQuickRun runs the whole harness with tiny sizes, as `make bench
// -quick` does with small ones, so it keeps working: every figure is
// measured next to a baseline and written as a JSON line with the six
// fields. It needs the FastAPI floor's packages (see floorInstall) and
// fails, naming the install command, without them.
func TestQuickRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out", "bench.jsonl")
	var log bytes.Buffer
	err := run(t.Context(), []string{"-quick", "-rows", "5000", "-xlsx-rows", "500", "-upload-mib", "2", "-clients", "8",
		"-duration", "300ms", "-warmup", "50ms", "-list-items", "2", "-micro", "50ms", "-out", out}, &log)
	if err != nil {
		t.Fatalf("bench -quick: %v\n%s", err, log.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var fields map[string]any
		if err := json.Unmarshal(sc.Bytes(), &fields); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, []string{"baseline", "name", "ours", "ratio", "target", "unit"}) {
			t.Fatalf("line %s has the fields %v", sc.Text(), keys)
		}
		var r result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.Ours <= 0 || r.Baseline <= 0 || r.Unit == "" {
			t.Errorf("%s: ours %v, baseline %v, unit %q", r.Name, r.Ours, r.Baseline, r.Unit)
		}
		if want := r.Ours / r.Baseline; math.Abs(r.Ratio-want) > 0.01*want {
			t.Errorf("%s: ratio %v, ours/baseline %v", r.Name, r.Ratio, want)
		}
		names = append(names, r.Name)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	// Three per list route, two for the upload, one for each other group.
	if want := len(groups) + 2*len(listRoutes) + 1; len(names) != want {
		t.Fatalf("%d figures, want %d: %v", len(names), want, names)
	}
	for _, want := range []string{"GET /providers throughput", "convert CSV 5000 rows", "group-by, warm", "upload 2 MiB through the gateway"} {
		if !slices.Contains(names, want) {
			t.Errorf("no figure %q in %v", want, names)
		}
	}
	if !strings.Contains(log.String(), "| figure | ours | baseline |") {
		t.Errorf("no table in the output:\n%s", log.String())
	}
}

// TestLoadFailsOnAnyNon2xx: one answer that is not 2xx among many ends the
// measurement with an error naming it, instead of becoming a result.
func TestLoadFailsOnAnyNon2xx(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 20 {
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(`{"success":true}`))
	}))
	defer srv.Close()
	b := &bench{o: options{clients: 4, warmup: 10 * time.Millisecond, duration: 5 * time.Second}}
	_, err := b.load(t.Context(), srv.URL, "")
	if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "overloaded") {
		t.Fatalf("load with a 503 among the answers: %v", err)
	}
	if n.Load() > 10_000 {
		t.Errorf("the load went on after the failure: %d requests", n.Load())
	}
}

func TestFlags(t *testing.T) {
	if _, err := parseFlags([]string{"-only", "providers,nope"}); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("-only with an unknown figure: %v", err)
	}
	o, err := parseFlags([]string{"-quick", "-rows", "7"})
	if err != nil || o.rows != 7 || o.runs != 1 || o.uploadMiB != 8 {
		t.Errorf("-quick -rows 7: %+v %v", o, err)
	}
	o, err = parseFlags([]string{"-only", "upload"})
	if err != nil || !o.wants("upload") || o.wants("convert", "query-warm") || o.runs != 5 {
		t.Errorf("-only upload: %+v %v", o, err)
	}
}
