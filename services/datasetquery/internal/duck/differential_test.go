package duck

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nonefinity/backend/pkg/tabular"
	"github.com/nonefinity/backend/services/datasetquery/internal/csvprep"
	"github.com/nonefinity/backend/services/datasetquery/internal/datasets"
)

// TestReaderAndDuckDBAgree is a differential test of the one assumption
// the clean path rests on: where the preparation hands DuckDB a file as it
// is (and where it hands over its canonical rewrite), DuckDB reads exactly
// the fields the scan read, value for value. Random small files are drawn
// from the characters that make CSV hard (quotes, delimiters, line breaks,
// spaces, non-ASCII); a disagreement the row count would not reveal is a
// value silently changed.
func TestReaderAndDuckDBAgree(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "b", "7", ",", ";", "\t", `"`, `""`, " ", "\n", "\r\n", "é", "x y", "1.5", ""}
	dir := t.TempDir()
	ctx := context.Background()
	clean, normalized := 0, 0
	for i := range 200 {
		var b strings.Builder
		delim := []string{",", ",", ";", "\t"}[rnd.IntN(4)]
		end := []string{"\n", "\n", "\r\n"}[rnd.IntN(3)]
		b.WriteString("h1" + delim + "h2" + delim + "h3" + end)
		for range 2 + rnd.IntN(6) {
			for j := range 3 {
				if j > 0 {
					b.WriteString(delim)
				}
				if rnd.IntN(3) == 0 {
					// A field quoted on purpose, with any content.
					b.WriteString(`"`)
					for range rnd.IntN(4) {
						s := alphabet[rnd.IntN(len(alphabet))]
						if s == `"` {
							s = `""`
						}
						b.WriteString(s)
					}
					b.WriteString(`"`)
					continue
				}
				for range rnd.IntN(3) {
					b.WriteString(alphabet[rnd.IntN(len(alphabet))])
				}
			}
			b.WriteString(end)
		}
		caseDir := filepath.Join(dir, "c"+string(rune('a'+i%26))+strings.Repeat("x", i/26))
		if err := os.MkdirAll(caseDir, 0o700); err != nil {
			t.Fatal(err)
		}
		raw := filepath.Join(caseDir, "source.csv")
		if err := os.WriteFile(raw, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		var scan tabular.EncodingScanner
		_, _ = scan.Write([]byte(b.String()))
		p, err := csvprep.Prepare(ctx, raw, scan.Result(), caseDir, csvprep.Options{})
		if err != nil {
			t.Fatal(err)
		}
		// As the conversion does: a clean file DuckDB cannot read, or reads
		// into another number of rows, is read again normalized.
		got, err := duckRows(p)
		if !p.Normalized && (err != nil || (p.Rows >= 0 && int64(len(got)) != p.Rows)) {
			if err := p.Normalize(ctx); err != nil {
				t.Fatal(err)
			}
			got, err = duckRows(p)
		}
		if err != nil {
			content, _ := os.ReadFile(p.Path)
			t.Fatalf("DuckDB: %v\nreading %q (%+v, skip %d)", err, content, p.Dialect, p.SkipLines)
		}
		if p.Normalized {
			normalized++
		} else {
			clean++
		}
		want := readerRows(t, p)
		if !slices.EqualFunc(got, want, slices.Equal[[]string]) {
			t.Fatalf("file %q (normalized %v, dialect %+v, skip %d):\nDuckDB %q\nscan   %q", b.String(), p.Normalized, p.Dialect, p.SkipLines, got, want)
		}
	}
	if clean == 0 || normalized == 0 {
		t.Fatalf("%d clean and %d normalized files: the draw misses a path", clean, normalized)
	}
}

// readerRows are the data records of a prepared file as the scan reads
// them, each as wide as the table (empty strings for NULL).
func readerRows(t *testing.T, p *csvprep.Prepared) [][]string {
	t.Helper()
	f, err := os.Open(p.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := tabular.NewReader(f, p.Dialect)
	r.WantFields = true
	var out [][]string
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.Line <= p.SkipLines {
			continue
		}
		row := make([]string, len(p.Names))
		copy(row, rec.Fields)
		out = append(out, row)
	}
	return out
}

// duckRows are the rows DuckDB reads from the prepared file with the
// conversion's read_csv call, every value as text (NULL as "").
func duckRows(p *csvprep.Prepared) ([][]string, error) {
	src := datasets.CSVSource{Path: p.Path, Delimiter: p.Dialect.Delimiter, Quote: p.Dialect.Quote, Newline: p.StatedNewline(),
		SkipLines: p.SkipLines, Names: p.Names, Rows: p.Rows}
	var out [][]string
	if p.Rows == 0 || (p.Rows < 0 && p.SkipLines < 0) {
		return out, nil
	}
	err := withScratchConn(context.Background(), Limits{}, func(conn *sql.Conn) error {
		rows, err := conn.QueryContext(context.Background(), "SELECT * FROM "+readCSVCall(src, datasets.CSVOptions{}, nil, false, true))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			vals := make([]sql.NullString, len(p.Names))
			ptrs := make([]any, len(vals))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
			row := make([]string, len(vals))
			for i, v := range vals {
				row[i] = v.String
			}
			out = append(out, row)
		}
		return rows.Err()
	})
	return out, err
}
