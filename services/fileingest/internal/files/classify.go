package files

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nonefinity/backend/services/fileingest/internal/sniff"
)

// Categories of the original classifier.
const (
	CategorySpreadsheet = "spreadsheet"
	CategoryDocument    = "document"
	CategoryImage       = "image"
	CategoryText        = "text"
	CategoryVideo       = "video"
	CategoryAudio       = "audio"
	CategoryOther       = "other"
)

// The lists of the original service's classifier: a file belongs to the
// first category whose MIME types or extensions it matches.
var categories = []struct {
	name  string
	types []string
	exts  []string
}{
	{CategorySpreadsheet,
		[]string{"text/csv", "application/csv", "application/vnd.ms-excel", sniff.TypeXLSX},
		[]string{".xls", ".xlsx", ".csv"}},
	{CategoryDocument, []string{"application/pdf"}, []string{".pdf"}},
	{CategoryImage,
		[]string{"image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp"},
		[]string{".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp"}},
	{CategoryText,
		[]string{"text/plain", "text/html", "text/xml", "application/json"},
		[]string{".txt", ".html", ".xml", ".json", ".md"}},
	{CategoryVideo,
		[]string{"video/mp4", "video/avi", "video/mov", "video/wmv", "video/mkv"},
		[]string{".mp4", ".avi", ".mov", ".wmv", ".mkv", ".webm"}},
	{CategoryAudio,
		[]string{"audio/mp3", "audio/wav", "audio/flac", "audio/aac", "audio/ogg"},
		[]string{".mp3", ".wav", ".flac", ".aac", ".ogg", ".m4a"}},
}

// Classify is the original service's file classifier: the category of a
// MIME type and extension, "other" when neither is listed.
func Classify(mimeType, ext string) string {
	mimeType = strings.ToLower(strings.TrimSpace(mimeType))
	if i := strings.IndexByte(mimeType, ';'); i >= 0 {
		mimeType = strings.TrimSpace(mimeType[:i])
	}
	ext = strings.ToLower(ext)
	for _, c := range categories {
		if slices.Contains(c.types, mimeType) || slices.Contains(c.exts, ext) {
			return c.name
		}
	}
	return CategoryOther
}

// ConvertibleTypes are the detected types a dataset can be made from.
var ConvertibleTypes = []string{sniff.TypeCSV, sniff.TypeTSV, sniff.TypeXLSX}

// legacySpreadsheets are spreadsheet formats recognised but not previewed.
var legacySpreadsheets = []string{sniff.TypeXLS}

// judge turns what inspection found into the file's outcome. The bytes
// decide the category: a binary signature (magic bytes) is trusted over the
// label, while a guess such as "this is text" is read together with the
// extension. A file whose content contradicts its label fails, and so does
// a spreadsheet that could not be previewed.
func judge(f File, res sniff.Result) Outcome {
	ext := f.FileExt
	if res.Confident {
		ext = ""
	}
	o := Outcome{
		Status:       StatusReady,
		Category:     Classify(res.DetectedType, ext),
		DetectedType: res.DetectedType,
		SHA256:       res.SHA256,
		Preview:      res.Preview,
	}
	labelCategory := Classify(f.FileType, f.FileExt)
	fail := func(reason string) Outcome {
		o.Status, o.Error, o.Preview = StatusFailed, reason, nil
		return o
	}
	switch {
	case res.Problem != "":
		return fail(res.Problem)
	case res.Confident && labelCategory != CategoryOther && labelCategory != o.Category:
		return fail(fmt.Sprintf("content is %s, not %s", res.DetectedType, label(f)))
	case labelCategory == CategorySpreadsheet && res.Preview == nil && !slices.Contains(legacySpreadsheets, res.DetectedType):
		return fail(fmt.Sprintf("content is %s, not %s", res.DetectedType, label(f)))
	}
	return o
}

// label is how an error names what the uploader claimed.
func label(f File) string {
	if f.FileType != "" && f.FileType != octetStream {
		return f.FileType
	}
	if f.FileExt != "" {
		return "a " + f.FileExt + " file"
	}
	return octetStream
}
