package sniff

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"os"
)

// spooled is a zip kept for random access: in memory when the whole file
// fit in the head, otherwise in a temporary file. tooLarge means the file
// passed Limits.MaxSpoolBytes and nothing was kept.
//
// Why a file and not memory: a zip's directory is at its end, so reading
// it needs the whole archive at hand. Holding a large workbook in memory
// would make memory grow with the upload; disk is cheaper, and the cap keeps
// disk use bounded too.
type spooled struct {
	data     []byte
	file     *os.File
	size     int64
	tooLarge bool
}

func inMemory(b []byte) *spooled { return &spooled{data: b, size: int64(len(b))} }

// spool copies head and then the rest of src into a temporary file, up to
// lim.MaxSpoolBytes. Past the cap it stops copying (the caller drains src)
// and reports tooLarge.
func spool(src io.Reader, head []byte, lim Limits) (*spooled, error) {
	f, err := os.CreateTemp(lim.TempDir, "fileingest-spool-*.zip")
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &spooled{file: f}
	if _, err := f.Write(head); err != nil {
		s.remove()
		return nil, fmt.Errorf("spool: %w", err)
	}
	room := lim.MaxSpoolBytes - int64(len(head))
	n, err := io.Copy(f, io.LimitReader(src, room+1))
	if err != nil {
		s.remove()
		return nil, fmt.Errorf("spool: %w", err)
	}
	s.size = int64(len(head)) + n
	if n > room {
		s.remove()
		return &spooled{tooLarge: true}, nil
	}
	return s, nil
}

// zipReader opens the spooled archive.
func (s *spooled) zipReader() (*zip.Reader, error) {
	if s.file != nil {
		return zip.NewReader(s.file, s.size)
	}
	return zip.NewReader(bytes.NewReader(s.data), s.size)
}

// remove deletes the temporary file, if any.
func (s *spooled) remove() {
	if s.file == nil {
		return
	}
	name := s.file.Name()
	_ = s.file.Close()
	_ = os.Remove(name)
	s.file = nil
}
