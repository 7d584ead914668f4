package csvprep

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nonefinity/backend/pkg/tabular"
)

// wideCSV writes a file of rows rows, cols columns wide.
func wideCSV(t *testing.T, cols, rows int) string {
	t.Helper()
	var b strings.Builder
	for r := 0; r <= rows; r++ {
		for c := 0; c < cols; c++ {
			if c > 0 {
				b.WriteByte(',')
			}
			if r == 0 {
				b.WriteString("c" + strconv.Itoa(c))
			} else {
				b.WriteString(strconv.Itoa(r))
			}
		}
		b.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), "wide.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A table wider than MaxColumns is refused from its head, before any
// record is scanned: 100,000 columns kept a conversion busy for minutes.
func TestPrepareRefusesTooManyColumns(t *testing.T) {
	for _, tc := range []struct {
		name string
		cols int
	}{
		{"header within the head", 100_000},
		{"first record longer than the head", 250_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := wideCSV(t, tc.cols, 2)
			_, err := Prepare(context.Background(), src, tabular.EncodingResult{Name: "utf-8"}, t.TempDir(), Options{MaxColumns: 4096})
			if !errors.Is(err, ErrTooWide) {
				t.Fatalf("Prepare = %v, want ErrTooWide", err)
			}
			if !strings.Contains(err.Error(), "at most 4096") {
				t.Fatalf("message %q does not state the limit", err)
			}
		})
	}
	// At the limit it is a table.
	src := wideCSV(t, 4096, 2)
	p, err := Prepare(context.Background(), src, tabular.EncodingResult{Name: "utf-8"}, t.TempDir(), Options{MaxColumns: 4096})
	if err != nil || len(p.Names) != 4096 {
		t.Fatalf("4096 columns: %v", err)
	}
}
