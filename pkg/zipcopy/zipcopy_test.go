package zipcopy

import (
	"archive/zip"
	"bytes"
	"io"
	"strings"
	"testing"
)

// The copy holds the chosen entries, byte for byte once inflated, and
// nothing else.
func TestEntriesCopiesChosenEntries(t *testing.T) {
	var src bytes.Buffer
	zw := zip.NewWriter(&src)
	for name, body := range map[string]string{"keep.xml": strings.Repeat("<a/>", 1000), "drop.bin": "zeros"} {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(src.Bytes()), int64(src.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var keep []*zip.File
	for _, f := range zr.File {
		if f.Name == "keep.xml" {
			keep = append(keep, f)
		}
	}
	var out bytes.Buffer
	if err := Entries(&out, keep); err != nil {
		t.Fatal(err)
	}
	copied, err := zip.NewReader(bytes.NewReader(out.Bytes()), int64(out.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if len(copied.File) != 1 || copied.File[0].Name != "keep.xml" || copied.File[0].CompressedSize64 != keep[0].CompressedSize64 {
		t.Fatalf("copy holds %+v", copied.File)
	}
	r, err := copied.File[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(r)
	if err != nil || string(body) != strings.Repeat("<a/>", 1000) {
		t.Fatalf("copied entry reads %d bytes, %v", len(body), err)
	}
}
