// Package zipcopy writes a zip holding entries of another zip with their
// compressed bytes and headers unchanged: a workbook's reader is handed
// only the parts it needs, without inflating anything to choose them.
package zipcopy

import (
	"archive/zip"
	"io"
)

// Entries writes to w a zip of files, copied compressed. The declared
// sizes travel along, and Go's zip reader refuses an entry that inflates
// beyond its declared size, so a size checked here holds when it is read.
func Entries(w io.Writer, files []*zip.File) error {
	zw := zip.NewWriter(w)
	for _, f := range files {
		raw, err := f.OpenRaw()
		if err != nil {
			return err
		}
		hdr := f.FileHeader
		dst, err := zw.CreateRaw(&hdr)
		if err != nil {
			return err
		}
		if _, err := io.Copy(dst, raw); err != nil {
			return err
		}
	}
	return zw.Close()
}
