package sniff_test

import (
	"hash/crc32"
	"os"
	"testing"
)

func crc32Of(b []byte) uint32 { return crc32.ChecksumIEEE(b) }

// assertDirEmpty checks that inspection removed its temporary files.
func assertDirEmpty(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("temporary file left behind: %s", e.Name())
	}
}
