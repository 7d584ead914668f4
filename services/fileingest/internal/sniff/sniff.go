// Package sniff inspects an uploaded file by reading it once, as a stream:
// it hashes every byte (SHA-256), finds the real content type from magic
// bytes, and for CSV and XLSX learns the dialect and a short preview.
//
// Only a bounded head of the stream is kept in memory. CSV needs nothing
// more: encoding, delimiter, header and the first rows are all in the head.
// XLSX is a zip whose directory sits at the end, so a zip that does not fit
// in the head is spooled to a temporary file (capped) while it is hashed;
// see Limits.MaxSpoolBytes.
package sniff

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	"github.com/nonefinity/backend/pkg/tabular"
)

// Preview is what inspection learned about a CSV or XLSX: columns, dialect
// and the first rows. Encoding and Delimiter are CSV only; Sheets and Sheet
// XLSX only.
type Preview struct {
	Columns   []string
	Encoding  string
	Delimiter string
	HasHeader bool
	// SkipRows are the rows above the table (titles, notes, blank rows).
	SkipRows int
	Rows     [][]string
	Sheets   []string
	Sheet    string
}

// Hints is what the uploader claimed about the file. Inspection trusts the
// bytes, but needs the label to know whether text should be read as CSV.
type Hints struct {
	// Ext is the file's extension with the dot, any case (".CSV").
	Ext string
	// DeclaredType is the MIME type the client sent.
	DeclaredType string
}

// Result is what Inspect found.
type Result struct {
	// Size is the number of bytes read.
	Size int64
	// SHA256 is the hex digest of every byte read.
	SHA256 string
	// DetectedType is the MIME type found in the bytes, without parameters.
	DetectedType string
	// Confident is true when DetectedType comes from a binary signature
	// (magic bytes) rather than from a heuristic such as "looks like text".
	Confident bool
	// Text is true when the content decodes as text.
	Text bool
	// Preview is set for CSV and XLSX content.
	Preview *Preview
	// Problem, when not empty, says why the content cannot be used (an
	// empty file, a zip bomb, a corrupt workbook). It is safe to show to
	// the file's owner.
	Problem string
}

// Limits bound the work and memory of one inspection. Zero fields take the
// defaults of DefaultLimits.
type Limits struct {
	// HeadBytes is how much of the stream is kept in memory for detection
	// and the CSV preview.
	HeadBytes int
	// MaxSpoolBytes caps the temporary copy of a zip (XLSX) larger than the
	// head. A larger zip is still hashed, but not opened.
	MaxSpoolBytes int64
	// MaxUncompressed caps the declared uncompressed size of the workbook
	// parts that are opened, so a zip bomb fails before anything expands.
	MaxUncompressed int64
	// MaxPartBytes caps one part that the XLSX reader keeps in memory
	// (workbook, styles, shared strings); worksheets are streamed.
	MaxPartBytes int64
	// MaxEntries caps the number of entries in a zip's directory.
	MaxEntries int
	// MaxCells caps the cells read for an XLSX preview.
	MaxCells int
	// PreviewRows is how many data rows a preview holds.
	PreviewRows int
	// MaxColumns caps the columns kept in a preview.
	MaxColumns int
	// MaxCellRunes truncates long cell values in a preview.
	MaxCellRunes int
	// MaxPreviewBytes caps a preview's columns and rows as JSON: it travels
	// in the file's answers and events, each one NATS message.
	MaxPreviewBytes int
	// TempDir holds spooled zips and the XLSX reader's temporary files;
	// empty means os.TempDir().
	TempDir string
}

// DefaultLimits are the limits used for zero fields.
var DefaultLimits = Limits{
	HeadBytes:       1 << 20,
	MaxSpoolBytes:   256 << 20,
	MaxUncompressed: 1 << 30,
	MaxPartBytes:    128 << 20,
	MaxEntries:      10000,
	MaxCells:        1_000_000,
	PreviewRows:     20,
	MaxColumns:      500,
	MaxCellRunes:    256,
	MaxPreviewBytes: 256 << 10,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.HeadBytes <= 0 {
		l.HeadBytes = d.HeadBytes
	}
	if l.MaxSpoolBytes <= 0 {
		l.MaxSpoolBytes = d.MaxSpoolBytes
	}
	if l.MaxUncompressed <= 0 {
		l.MaxUncompressed = d.MaxUncompressed
	}
	if l.MaxPartBytes <= 0 {
		l.MaxPartBytes = d.MaxPartBytes
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = d.MaxEntries
	}
	if l.MaxCells <= 0 {
		l.MaxCells = d.MaxCells
	}
	if l.PreviewRows <= 0 {
		l.PreviewRows = d.PreviewRows
	}
	if l.MaxColumns <= 0 {
		l.MaxColumns = d.MaxColumns
	}
	if l.MaxCellRunes <= 0 {
		l.MaxCellRunes = d.MaxCellRunes
	}
	if l.MaxPreviewBytes <= 0 {
		l.MaxPreviewBytes = d.MaxPreviewBytes
	}
	if l.TempDir == "" {
		l.TempDir = os.TempDir()
	}
	return l
}

// Inspect reads r to its end exactly once and reports what it holds. The
// returned error is only about reading (the caller may retry); everything
// wrong with the content itself is in Result.Problem.
func Inspect(ctx context.Context, r io.Reader, h Hints, lim Limits) (Result, error) {
	lim = lim.withDefaults()
	hasher := sha256.New()
	src := &countingReader{r: io.TeeReader(&ctxReader{ctx: ctx, r: r}, hasher)}

	head := make([]byte, lim.HeadBytes)
	n, err := io.ReadFull(src, head)
	head = head[:n]
	complete := false
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		complete = true
	case err != nil:
		return Result{}, fmt.Errorf("read head: %w", err)
	}

	sig := detectSignature(head, h)
	var zipSource *spooled
	if sig.zip {
		if complete {
			zipSource = inMemory(head)
		} else {
			zipSource, err = spool(src, head, lim)
			if err != nil {
				return Result{}, err
			}
			defer zipSource.remove()
		}
	}
	// Whatever was not read yet feeds the hash, and the encoding scan of
	// text (decided from every byte, not the head) or the search of an
	// OLE container for an encrypted workbook.
	var enc tabular.EncodingScanner
	var encrypted encryptedPackageFinder
	var rest io.Writer = io.Discard
	switch {
	case sig.mime == TypeOLE || sig.mime == TypeXLS:
		_, _ = encrypted.Write(head)
		rest = &encrypted
	case !sig.confident:
		_, _ = enc.Write(head)
		rest = &enc
	}
	if _, err := io.Copy(rest, src); err != nil {
		return Result{}, fmt.Errorf("read: %w", err)
	}

	res := Result{
		Size:         src.n,
		SHA256:       hexSum(hasher),
		DetectedType: sig.mime,
		Confident:    sig.confident,
	}
	if res.Size == 0 {
		res.Problem = "the file is empty"
		return res, nil
	}
	switch {
	case sig.zip:
		inspectZip(&res, zipSource, head, lim)
	case encrypted.found():
		res.Problem = "the workbook is password-protected (encrypted); save it without a password and upload it again"
	case !sig.confident:
		inspectText(&res, head, !complete, h, enc.Result(), lim)
	}
	return res, nil
}

// encryptedPackageName is the stream an encrypted Office Open XML file
// keeps its content in, inside an OLE container, as the container's
// directory spells it (UTF-16LE).
var encryptedPackageName = []byte("E\x00n\x00c\x00r\x00y\x00p\x00t\x00e\x00d\x00P\x00a\x00c\x00k\x00a\x00g\x00e\x00")

// encryptedPackageFinder looks for that name in a stream, across writes.
type encryptedPackageFinder struct {
	tail []byte
	hit  bool
}

func (f *encryptedPackageFinder) Write(p []byte) (int, error) {
	if f.hit {
		return len(p), nil
	}
	window := append(f.tail, p...)
	if bytes.Contains(window, encryptedPackageName) {
		f.hit = true
		return len(p), nil
	}
	keep := min(len(window), len(encryptedPackageName)-1)
	f.tail = append(f.tail[:0], window[len(window)-keep:]...)
	return len(p), nil
}

func (f *encryptedPackageFinder) found() bool { return f.hit }

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// ctxReader stops a long read when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
