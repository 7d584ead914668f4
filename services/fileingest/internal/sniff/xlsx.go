package sniff

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/nonefinity/backend/pkg/tabular"
	"github.com/nonefinity/backend/pkg/zipcopy"
)

// Part names inside OOXML packages, lower-cased for comparison.
const (
	partWorkbook     = "xl/workbook.xml"
	partWorkbookRels = "xl/_rels/workbook.xml.rels"
	partDocument     = "word/document.xml"
	partPresentation = "ppt/presentation.xml"
)

// xlsxXMLInMemory is the part size up to which the XLSX reader keeps a
// worksheet or the shared strings in memory; larger ones it streams from a
// temporary file.
const xlsxXMLInMemory = 16 << 20

// inspectZip names a zip by its directory and previews an XLSX workbook.
func inspectZip(res *Result, src *spooled, head []byte, lim Limits) {
	if src.tooLarge {
		// Only the local headers in the head are known: enough to name the
		// type, not to open the workbook.
		res.DetectedType = zipTypeFromPrefixes(localHeaderNames(head))
		if res.DetectedType == TypeXLSX {
			res.Problem = "xlsx: file over " + humanBytes(lim.MaxSpoolBytes) + " cannot be inspected"
		}
		return
	}
	zr, err := src.zipReader()
	if err != nil {
		res.Problem = "zip: the archive is corrupt"
		return
	}
	if len(zr.File) > lim.MaxEntries {
		res.Problem = fmt.Sprintf("zip: more than %d entries", lim.MaxEntries)
		return
	}
	names := make([]string, len(zr.File))
	for i, f := range zr.File {
		names[i] = f.Name
	}
	res.DetectedType = zipTypeFromNames(names)
	if res.DetectedType != TypeXLSX {
		return
	}
	if problem := checkExpandedSize(zr, lim); problem != "" {
		res.Problem = problem
		return
	}
	p, problem := xlsxPreview(zr, src.file == nil, lim)
	if problem != "" {
		res.Problem = problem
		return
	}
	res.Preview = p
}

// checkExpandedSize sums the declared uncompressed sizes of every entry,
// not only of the parts a preview reads: a workbook that passes here is
// one the conversion may open whole, so a 1.5 GB zero-filled
// xl/media/*.bin must fail now, while the file is processed, and never
// become convertible. The declared sizes are a real bound on what any
// reader built on archive/zip (this package, the XLSX reader, the
// converter) inflates: it counts the bytes it reads from an entry and
// fails once they pass the entry's declared size.
func checkExpandedSize(zr *zip.Reader, lim Limits) string {
	limit := uint64(lim.MaxUncompressed)
	var total uint64
	for _, f := range zr.File {
		// Compared before adding: a lying header may declare up to 2^64-1.
		if f.UncompressedSize64 > limit-total {
			return "xlsx: the workbook expands to more than " + humanBytes(lim.MaxUncompressed) + " uncompressed"
		}
		total += f.UncompressedSize64
	}
	return ""
}

// zipTypeFromNames tells OOXML documents from plain zips by the parts they
// must contain.
func zipTypeFromNames(names []string) string {
	for _, n := range names {
		switch strings.ToLower(n) {
		case partWorkbook:
			return TypeXLSX
		case partDocument:
			return TypeDOCX
		case partPresentation:
			return TypePPTX
		}
	}
	return TypeZIP
}

// zipTypeFromPrefixes guesses from the first entries only (the required
// part may come later in the archive): any part under xl/, word/ or ppt/
// gives the document away.
func zipTypeFromPrefixes(names []string) string {
	for _, n := range names {
		n = strings.ToLower(n)
		switch {
		case strings.HasPrefix(n, "xl/"):
			return TypeXLSX
		case strings.HasPrefix(n, "word/"):
			return TypeDOCX
		case strings.HasPrefix(n, "ppt/"):
			return TypePPTX
		}
	}
	return TypeZIP
}

// localHeaderNames lists the entry names of the local file headers found in
// head, walking from one to the next. When a header gives its sizes only
// after the data (flag bit 3, as most writers do) the next header is found
// by its signature instead.
func localHeaderNames(head []byte) []string {
	var names []string
	for off := 0; off+30 <= len(head) && bytes.HasPrefix(head[off:], magicZip); {
		flags := binary.LittleEndian.Uint16(head[off+6:])
		compressed := int(binary.LittleEndian.Uint32(head[off+18:]))
		nameLen := int(binary.LittleEndian.Uint16(head[off+26:]))
		extraLen := int(binary.LittleEndian.Uint16(head[off+28:]))
		if off+30+nameLen > len(head) {
			break
		}
		names = append(names, string(head[off+30:off+30+nameLen]))
		if flags&0x8 == 0 {
			off += 30 + nameLen + extraLen + compressed
			continue
		}
		// The sizes follow the data: look for the next header instead.
		next := bytes.Index(head[off+30+nameLen:], magicZip)
		if next < 0 {
			break
		}
		off += 30 + nameLen + next
	}
	return names
}

// xlsxPreview checks the workbook against the limits, hands the XLSX reader
// only the parts a preview needs (copied raw, never decompressed here), and
// reads the first sheet's first rows with the reader's row iterator.
func xlsxPreview(zr *zip.Reader, small bool, lim Limits) (*Preview, string) {
	parts := map[string]*zip.File{}
	for _, f := range zr.File {
		parts[strings.ToLower(f.Name)] = f
	}
	sheets, firstSheetPart, problem := readSheetIndex(parts, lim)
	if problem != "" {
		return nil, problem
	}
	keep, problem := partsForPreview(zr, firstSheetPart, lim)
	if problem != "" {
		return nil, problem
	}

	opts := excelize.Options{
		UnzipSizeLimit:    lim.MaxUncompressed,
		UnzipXMLSizeLimit: min(xlsxXMLInMemory, lim.MaxUncompressed),
		TmpDir:            lim.TempDir,
	}
	var book *excelize.File
	var err error
	if small {
		var buf bytes.Buffer
		if err := zipcopy.Entries(&buf, keep); err != nil {
			return nil, "xlsx: the workbook is corrupt"
		}
		book, err = excelize.OpenReader(&buf, opts)
	} else {
		book, err = openFiltered(keep, opts)
	}
	if err != nil {
		return nil, "xlsx: " + shortError(err)
	}
	defer book.Close()

	records, problem := firstRows(book, sheets[0], lim)
	if problem != "" {
		return nil, problem
	}
	cells := make([][]tabular.Cell, len(records))
	for i, r := range records {
		cells[i] = tabular.TextCells(r)
	}
	l := tabular.DetectLayout(cells, tabular.LayoutOptions{})
	p := &Preview{Sheets: sheets, Sheet: sheets[0], HasHeader: l.HasHeader, SkipRows: l.Start}
	fillPreview(p, l, records, lim)
	return p, ""
}

// openFiltered writes the kept parts to a temporary zip and opens it.
func openFiltered(keep []*zip.File, opts excelize.Options) (*excelize.File, error) {
	tmp, err := os.CreateTemp(opts.TmpDir, "fileingest-xlsx-*.zip")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if err := zipcopy.Entries(tmp, keep); err != nil {
		tmp.Close()
		return nil, errors.New("the workbook is corrupt")
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	return excelize.OpenFile(tmp.Name(), opts)
}

// partsForPreview selects the package parts the XLSX reader needs for the
// first sheet (content types, relationships, workbook, styles, theme,
// shared strings and that one worksheet) and enforces the part limit on
// them (checkExpandedSize bounded their sum): pictures, embedded objects
// and the other sheets are never read.
func partsForPreview(zr *zip.Reader, firstSheetPart string, lim Limits) ([]*zip.File, string) {
	var keep []*zip.File
	for _, f := range zr.File {
		name := strings.ToLower(f.Name)
		isSheet := name == firstSheetPart
		needed := isSheet || name == "[content_types].xml" || name == "_rels/.rels" ||
			name == partWorkbook || name == partWorkbookRels || name == "xl/styles.xml" ||
			name == "xl/sharedstrings.xml" || strings.HasPrefix(name, "xl/theme/")
		if !needed {
			continue
		}
		// The worksheet and the shared strings are streamed by the reader;
		// every other part is held in memory.
		if !isSheet && name != "xl/sharedstrings.xml" && f.UncompressedSize64 > uint64(lim.MaxPartBytes) {
			return nil, fmt.Sprintf("xlsx: part %s over %s", f.Name, humanBytes(lim.MaxPartBytes))
		}
		keep = append(keep, f)
	}
	for _, f := range keep {
		if problem := verifyPart(f); problem != "" {
			return nil, problem
		}
	}
	return keep, ""
}

// verifyPart inflates one part into nothing. The zip reader fails when a
// part inflates past its declared size or its checksum is wrong, so a bomb
// that lies in its headers is caught here, after at most its declared size
// (bounded by the limits above) was decompressed, and never held in memory.
// The XLSX reader itself would silently keep the truncated part.
func verifyPart(f *zip.File) string {
	rc, err := f.Open()
	if err != nil {
		return "xlsx: part " + f.Name + " is corrupt"
	}
	defer rc.Close()
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return "xlsx: part " + f.Name + " is corrupt or larger than it declares"
	}
	return ""
}

// workbookXML is the part of xl/workbook.xml that lists the sheets.
type workbookXML struct {
	Sheets []struct {
		Name  string     `xml:"name,attr"`
		Attrs []xml.Attr `xml:",any,attr"`
	} `xml:"sheets>sheet"`
}

// relsXML is a relationships part.
type relsXML struct {
	Rels []struct {
		ID     string `xml:"Id,attr"`
		Target string `xml:"Target,attr"`
	} `xml:"Relationship"`
}

// readSheetIndex lists the sheet names in workbook order and finds the part
// of the first one through the workbook's relationships.
func readSheetIndex(parts map[string]*zip.File, lim Limits) ([]string, string, string) {
	var wb workbookXML
	if problem := decodePart(parts, partWorkbook, &wb, lim); problem != "" {
		return nil, "", problem
	}
	if len(wb.Sheets) == 0 {
		return nil, "", "xlsx: the workbook has no sheets"
	}
	var rels relsXML
	if problem := decodePart(parts, partWorkbookRels, &rels, lim); problem != "" {
		return nil, "", problem
	}
	names := make([]string, len(wb.Sheets))
	for i, s := range wb.Sheets {
		names[i] = s.Name
	}
	var rid string
	for _, a := range wb.Sheets[0].Attrs {
		// r:id, in the transitional or the strict relationships namespace.
		if a.Name.Local == "id" && strings.HasSuffix(strings.ToLower(a.Name.Space), "relationships") {
			rid = a.Value
		}
	}
	for _, r := range rels.Rels {
		if r.ID == rid {
			target := r.Target
			if strings.HasPrefix(target, "/") {
				target = strings.TrimPrefix(target, "/")
			} else {
				target = path.Join("xl", target)
			}
			return names, strings.ToLower(target), ""
		}
	}
	return nil, "", "xlsx: the first sheet has no worksheet part"
}

// decodePart decodes a small XML part, refusing one over the part limit.
func decodePart(parts map[string]*zip.File, name string, v any, lim Limits) string {
	f, ok := parts[name]
	if !ok {
		return "xlsx: " + name + " is missing"
	}
	if f.UncompressedSize64 > uint64(lim.MaxPartBytes) {
		return fmt.Sprintf("xlsx: part %s over %s", f.Name, humanBytes(lim.MaxPartBytes))
	}
	rc, err := f.Open()
	if err != nil {
		return "xlsx: the workbook is corrupt"
	}
	defer rc.Close()
	if err := xml.NewDecoder(rc).Decode(v); err != nil {
		return "xlsx: " + name + " is not valid XML"
	}
	return ""
}

// previewSheetRows is how many rows of a sheet the preview reads: enough
// for the layout decision the conversion makes over its first rows.
const previewSheetRows = 200

// maxLeadingEmptyRows bounds how many empty rows are read before the first
// row with content.
const maxLeadingEmptyRows = 1000

// firstRows reads the first rows of sheet, from row 1 (empty rows
// included, so positions are the sheet's), with the row iterator: the
// sheet is never loaded whole.
func firstRows(book *excelize.File, sheet string, lim Limits) ([][]string, string) {
	rows, err := book.Rows(sheet)
	if err != nil {
		return nil, "xlsx: " + shortError(err)
	}
	defer rows.Close()
	var records [][]string
	cells, content := 0, 0
	for content < max(previewSheetRows, lim.PreviewRows+1) && rows.Next() {
		cols, err := rows.Columns()
		if err != nil {
			return nil, "xlsx: " + shortError(err)
		}
		cells += len(cols)
		if cells > lim.MaxCells {
			return nil, fmt.Sprintf("xlsx: more than %d cells in the first rows", lim.MaxCells)
		}
		if isEmptyRow(cols) {
			if content == 0 && len(records) >= maxLeadingEmptyRows {
				break
			}
		} else {
			content++
		}
		records = append(records, cols)
	}
	if err := rows.Error(); err != nil {
		return nil, "xlsx: " + shortError(err)
	}
	return records, ""
}

func isEmptyRow(cols []string) bool {
	for _, c := range cols {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// shortError is the first line of err, capped, for Result.Problem. Temp
// file paths are cut out: they mean nothing to the file's owner.
func shortError(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	var pe *os.PathError
	if errors.As(err, &pe) {
		s = pe.Op + ": " + pe.Err.Error()
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// humanBytes prints a limit the way people write it: 1 GiB, 256 MiB.
func humanBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
