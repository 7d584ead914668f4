package sniff

import (
	"bytes"
	"mime"
	"net/http"
	"strings"
)

// MIME types inspection reports that net/http does not know by itself.
const (
	TypeCSV  = "text/csv"
	TypeTSV  = "text/tab-separated-values"
	TypeXLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	TypeDOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	TypePPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
	TypeXLS  = "application/vnd.ms-excel"
	TypeDOC  = "application/msword"
	TypePPT  = "application/vnd.ms-powerpoint"
	TypeOLE  = "application/x-ole-storage"
	TypeZIP  = "application/zip"
	TypeJSON = "application/json"
	TypeMD   = "text/markdown"
	TypeBin  = "application/octet-stream"
	TypeText = "text/plain"
)

// signature is what the first bytes say.
type signature struct {
	mime      string
	confident bool
	// zip: the directory at the end decides between XLSX, DOCX, PPTX and
	// a plain zip.
	zip bool
}

var (
	magicZip      = []byte("PK\x03\x04")
	magicZipEmpty = []byte("PK\x05\x06")
	magicOLE      = []byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1")
)

// detectSignature looks at the head of a file. Zip and OLE2 containers are
// ours to tell apart (net/http calls every zip application/zip); everything
// else is net/http's sniffing algorithm, whose binary matches we trust and
// whose text guesses we refine with the label.
func detectSignature(head []byte, h Hints) signature {
	switch {
	case bytes.HasPrefix(head, magicZip), bytes.HasPrefix(head, magicZipEmpty):
		return signature{mime: TypeZIP, confident: true, zip: true}
	case bytes.HasPrefix(head, magicOLE):
		return signature{mime: oleType(h), confident: true}
	case len(head) == 0:
		return signature{mime: TypeBin}
	}
	detected := baseType(http.DetectContentType(head))
	switch {
	case detected == TypeBin, strings.HasPrefix(detected, "text/"):
		// A guess from the bytes' shape; inspectText decides.
		return signature{mime: detected}
	}
	return signature{mime: detected, confident: true}
}

// oleType names an OLE2 compound file (legacy Office) by its extension: the
// container alone does not say which application wrote it.
func oleType(h Hints) string {
	switch strings.ToLower(h.Ext) {
	case ".xls":
		return TypeXLS
	case ".doc":
		return TypeDOC
	case ".ppt":
		return TypePPT
	}
	return TypeOLE
}

// baseType drops MIME parameters: "text/plain; charset=utf-8" -> "text/plain".
func baseType(t string) string {
	if mt, _, err := mime.ParseMediaType(t); err == nil {
		return mt
	}
	if i := strings.IndexByte(t, ';'); i >= 0 {
		t = t[:i]
	}
	return strings.ToLower(strings.TrimSpace(t))
}

// textTypeFor names text content after its label: text is only "CSV"
// because someone said so, and JSON or Markdown look like any other text.
func textTypeFor(h Hints) string {
	switch labelKind(h) {
	case labelCSV:
		return TypeCSV
	case labelTSV:
		return TypeTSV
	}
	switch strings.ToLower(h.Ext) {
	case ".json":
		return TypeJSON
	case ".md", ".markdown":
		return TypeMD
	case ".html", ".htm":
		return "text/html"
	case ".xml":
		return "text/xml"
	}
	return TypeText
}

type label int

const (
	labelOther label = iota
	labelCSV
	labelTSV
)

// labelKind reads the label: extension first, then the declared type.
func labelKind(h Hints) label {
	switch strings.ToLower(h.Ext) {
	case ".csv":
		return labelCSV
	case ".tsv", ".tab":
		return labelTSV
	}
	switch baseType(h.DeclaredType) {
	case TypeCSV, "application/csv", "text/x-csv", "text/comma-separated-values":
		return labelCSV
	case TypeTSV:
		return labelTSV
	}
	return labelOther
}
