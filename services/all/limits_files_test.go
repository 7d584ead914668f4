package all_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	fv1 "github.com/nonefinity/backend/contracts/filev1"
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
	s := startE2E(t, e2eOptions{})
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

// A committed file's upload URL stays valid until it expires. PUT through
// it again (same size: the length is signed) and the stored object is no
// longer the file processing checked. Conversion reads the version
// recorded at commit only: the convert is refused with a message that
// says why, while a file left alone converts.
func TestReplacedFileIsNotConverted(t *testing.T) {
	s := startE2E(t, e2eOptions{})
	u := s.user(t, "limits_replaced_file", "")
	events := u.subscribeEvents(t)
	committed := []byte("id,name\n1,ann\n2,bob\n")
	replaced := []byte("id,evil\n1,<x>\n2,<y>\n")

	up := putObject(t, u, "sales.csv", "text/csv", committed)
	var f fv1.File
	expect(t, u.json(t, http.MethodPost, "/file/upload", fv1.CommitRequest{
		ObjectName: up.ObjectName, FileName: "sales.csv", FileSize: int64(len(committed)), FileType: "text/csv",
	}), http.StatusCreated, &f)
	kept := uploadFile(t, u, "kept.csv", "text/csv", committed)
	waitAllProcessed(t, events, f.ID, kept.ID)

	presignedPut(t, up.UploadURL, "text/csv", replaced)
	env := expectAPIError(t, u.form(t, http.MethodPost, "/datasets/convert", url.Values{
		"file_id": {f.ID}, "dataset_name": {"replaced"},
	}), http.StatusUnprocessableEntity, http.StatusConflict)
	if !strings.Contains(env.Errors[0].Message, "changed after it was uploaded") {
		t.Fatalf("convert of a replaced file: %+v", env.Errors)
	}
	expect(t, u.form(t, http.MethodPost, "/datasets/convert", url.Values{
		"file_id": {kept.ID}, "dataset_name": {"kept"},
	}), http.StatusCreated, nil)
}
