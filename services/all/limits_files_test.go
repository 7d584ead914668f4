package all_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	fv1 "github.com/nonefinity/backend/contracts/filev1"
	fileingest "github.com/nonefinity/backend/services/fileingest/app"
)

// wideCSV is a CSV of 500 columns and 21 rows of 200-character cells.
func wideCSV() []byte {
	names := make([]string, 500)
	cells := make([]string, 500)
	for i := range names {
		names[i] = fmt.Sprintf("column_%03d", i)
		cells[i] = strings.Repeat("x", 200)
	}
	row := strings.Join(cells, ",") + "\n"
	return []byte(strings.Join(names, ",") + "\n" + strings.Repeat(row, 21))
}

// Three files with 500-column previews made the unpaged GET /file/list
// larger than a NATS message: the gateway waited 30 s and answered 503.
// Now the list answers 200 with all three (without previews, which the
// single file keeps, trimmed to fit its own message), and so does
// allow-convert.
func TestWideFilesList(t *testing.T) {
	s := startE2E(t, e2eOptions{Files: fileingest.Config{}})
	u := s.user(t, "limits_wide_files", "")
	events := u.subscribeEvents(t)
	data := wideCSV()
	var ids []string
	for i := range 3 {
		f := uploadFile(t, u, fmt.Sprintf("wide%d.csv", i), "text/csv", data)
		ids = append(ids, f.ID)
	}
	waitAllProcessed(t, events, ids...)

	for _, path := range []string{"/file/list", "/file/allow-convert"} {
		var list []fv1.File
		expect(t, u.get(t, path), http.StatusOK, &list)
		if got := fileIDs(list); !slices.Equal(got, sorted(ids...)) {
			t.Fatalf("%s = %v, want %v", path, got, ids)
		}
		for _, f := range list {
			if f.Preview != nil {
				t.Fatalf("%s carries a preview", path)
			}
		}
	}
	var one fv1.File
	expect(t, u.get(t, "/file/"+ids[0]), http.StatusOK, &one)
	if one.Preview == nil || len(one.Preview.Columns) != 500 || len(one.Preview.Rows) == 0 {
		t.Fatalf("GET /file/{id} preview: %+v", one.Preview)
	}
}
