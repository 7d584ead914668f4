package duck

import (
	"archive/zip"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/nonefinity/backend/services/datasetquery/internal/datasets"
)

// A workbook is a zip of XML parts, and excelize reads every part it is
// given: pictures and embedded objects into memory, other sheets into
// temporary files. A conversion therefore hands it a copy of the package
// holding only the parts one sheet needs, copied compressed (never
// inflated here), after checking what they would inflate to.

// defaultXLSXMaxUncompressed caps what the parts a conversion reads may
// inflate to when XLSXOptions.MaxUncompressed is 0.
const defaultXLSXMaxUncompressed = 8 << 30

// xlsxXMLInMemory is the largest sheet excelize keeps in memory; a larger
// one is inflated to a file in XLSXOptions.TempDir and streamed from there.
const xlsxXMLInMemory = 16 << 20

// maxPackagePartBytes caps the small index parts read here (relationships,
// the workbook's sheet list): real ones are kilobytes.
const maxPackagePartBytes = 64 << 20

// sheetRef is one sheet of a workbook and its worksheet part.
type sheetRef struct {
	name string
	part string
}

// workbookIndex lists the sheets of a workbook in their order, with the
// part names of the workbook and its relationships.
type workbookIndex struct {
	sheets       []sheetRef
	workbook     string
	workbookRels string
}

// readWorkbookIndex follows the package relationships to the workbook and
// its sheets.
func readWorkbookIndex(zr *zip.Reader) (workbookIndex, error) {
	var root struct {
		Rels []struct {
			Type   string `xml:"Type,attr"`
			Target string `xml:"Target,attr"`
		} `xml:"Relationship"`
	}
	ix := workbookIndex{workbook: "xl/workbook.xml"}
	if err := readZipXML(zr, "_rels/.rels", &root); err == nil {
		for _, r := range root.Rels {
			if strings.HasSuffix(r.Type, "/officeDocument") {
				ix.workbook = strings.TrimPrefix(r.Target, "/")
			}
		}
	}
	var wb struct {
		Sheets []struct {
			Name string `xml:"name,attr"`
			RID  string `xml:"http://schemas.openxmlformats.org/officeDocument/2006/relationships id,attr"`
		} `xml:"sheets>sheet"`
	}
	if err := readZipXML(zr, ix.workbook, &wb); err != nil {
		return ix, err
	}
	dir, file := path.Split(ix.workbook)
	ix.workbookRels = dir + "_rels/" + file + ".rels"
	var rels struct {
		Rels []struct {
			Target string `xml:"Target,attr"`
			ID     string `xml:"Id,attr"`
		} `xml:"Relationship"`
	}
	if err := readZipXML(zr, ix.workbookRels, &rels); err != nil {
		return ix, err
	}
	targets := make(map[string]string, len(rels.Rels))
	for _, r := range rels.Rels {
		if strings.HasPrefix(r.Target, "/") {
			targets[r.ID] = strings.TrimPrefix(r.Target, "/")
		} else {
			targets[r.ID] = path.Clean(dir + r.Target)
		}
	}
	for _, s := range wb.Sheets {
		ix.sheets = append(ix.sheets, sheetRef{name: s.Name, part: targets[s.RID]})
	}
	return ix, nil
}

// partsFor picks the parts excelize needs to read one sheet: content types,
// relationships, the workbook, styles, theme, shared strings and that
// worksheet. It refuses them when they would inflate past limit.
func (ix workbookIndex) partsFor(zr *zip.Reader, sheet sheetRef, limit int64) ([]*zip.File, error) {
	needed := map[string]bool{
		"[content_types].xml": true, "_rels/.rels": true,
		strings.ToLower(ix.workbook): true, strings.ToLower(ix.workbookRels): true,
		strings.ToLower(sheet.part): true,
	}
	var keep []*zip.File
	var total uint64
	for _, f := range zr.File {
		name := strings.ToLower(f.Name)
		base := path.Base(name)
		if !needed[name] && base != "styles.xml" && base != "sharedstrings.xml" && !strings.Contains(name, "/theme/") {
			continue
		}
		total += f.UncompressedSize64
		keep = append(keep, f)
	}
	if total > uint64(limit) {
		return nil, &datasets.InputError{Message: fmt.Sprintf("sheet %s and the parts it needs expand to %d bytes, over the limit of %d bytes", sheet.name, total, limit)}
	}
	return keep, nil
}

// readZipXML decodes one small XML part.
func readZipXML(zr *zip.Reader, name string, v any) error {
	f, err := zr.Open(name)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > maxPackagePartBytes {
		return fmt.Errorf("read %s: %w", name, errPartTooLarge)
	}
	if err := xml.NewDecoder(io.LimitReader(f, maxPackagePartBytes)).Decode(v); err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	return nil
}

var errPartTooLarge = errors.New("part too large")
