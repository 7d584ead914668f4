package files

import (
	"mime"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameBytes is the longest file name accepted, in bytes.
const MaxNameBytes = 255

// maxExtLen is the longest extension kept in an object key, without the dot.
const maxExtLen = 16

// checkName applies the rules for a file name: not blank, at most 255
// bytes of valid UTF-8, no path separators, no control characters, no
// bidirectional text controls, and not "." or "..".
func checkName(field, name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return invalid(field, "must not be empty")
	case len(name) > MaxNameBytes:
		return invalid(field, "must be at most 255 bytes")
	case !utf8.ValidString(name):
		return invalid(field, "must be valid UTF-8")
	case strings.ContainsAny(name, `/\`):
		return invalid(field, "must not contain path separators")
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return invalid(field, "must not contain control characters")
	case strings.IndexFunc(name, isBidiControl) >= 0:
		return invalid(field, "must not contain bidirectional text controls (U+200E, U+200F, U+061C, U+202A to U+202E, U+2066 to U+2069)")
	case name == "." || name == "..":
		return invalid(field, "is not a file name")
	}
	return nil
}

// isBidiControl reports the characters that reorder how text is shown: a
// right-to-left override makes "report\u202Excs.exe" look like
// "reportexe.csv" wherever the name is displayed.
func isBidiControl(r rune) bool {
	switch {
	case r == '\u200E', r == '\u200F', r == '\u061C':
		return true
	case r >= '\u202A' && r <= '\u202E', r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}

// SplitName splits a file name into base and extension the way the
// original service did (Python's os.path.splitext): the extension starts at
// the last dot, unless every dot before it leads the name (".bashrc" has no
// extension).
func SplitName(name string) (base, ext string) {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 || strings.Trim(name[:i], ".") == "" {
		return name, ""
	}
	return name[:i], name[i:]
}

// keyExt is the extension as it appears in an object key: lower-case
// letters and digits only, at most 16 of them, with the dot; "" when
// nothing is left.
func keyExt(ext string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimPrefix(ext, ".")) {
		if b.Len() == maxExtLen {
			break
		}
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return "." + b.String()
}

var ownerIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// checkOwner accepts user ids that are safe as one key segment.
func checkOwner(owner string) error {
	if !ownerIDPattern.MatchString(owner) {
		return ErrNoUser
	}
	return nil
}

// usersPrefix holds every user's objects, one OwnerPrefix each.
const usersPrefix = "users/"

// OwnerPrefix is where every object of one user lives.
func OwnerPrefix(owner string) string { return usersPrefix + owner + "/" }

// rawPrefix is where a user's uploads live.
func rawPrefix(owner string) string { return OwnerPrefix(owner) + "raw/" }

// ownedRawKey accepts an object name only if it is exactly one object
// directly under the owner's raw/ prefix.
func ownedRawKey(owner, objectName string) (string, bool) {
	rest, ok := strings.CutPrefix(objectName, rawPrefix(owner))
	if !ok || rest == "" || rest == "." || rest == ".." || strings.ContainsAny(rest, `/\`) ||
		strings.IndexFunc(rest, unicode.IsControl) >= 0 || !utf8.ValidString(rest) {
		return "", false
	}
	return objectName, true
}

// typesByExt names common types without relying on the machine's MIME
// tables, so the same upload gets the same type everywhere.
var typesByExt = map[string]string{
	".csv":  "text/csv",
	".tsv":  "text/tab-separated-values",
	".txt":  "text/plain",
	".md":   "text/markdown",
	".json": "application/json",
	".xml":  "application/xml",
	".html": "text/html",
	".htm":  "text/html",
	".pdf":  "application/pdf",
	".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".xls":  "application/vnd.ms-excel",
	".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".doc":  "application/msword",
	".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
	".ppt":  "application/vnd.ms-powerpoint",
	".png":  "image/png",
	".jpg":  "image/jpeg",
	".jpeg": "image/jpeg",
	".gif":  "image/gif",
	".webp": "image/webp",
	".bmp":  "image/bmp",
	".svg":  "image/svg+xml",
	".mp4":  "video/mp4",
	".mov":  "video/quicktime",
	".avi":  "video/x-msvideo",
	".webm": "video/webm",
	".mkv":  "video/x-matroska",
	".mp3":  "audio/mpeg",
	".wav":  "audio/wav",
	".flac": "audio/flac",
	".aac":  "audio/aac",
	".ogg":  "audio/ogg",
	".m4a":  "audio/mp4",
	".zip":  "application/zip",
}

// GuessType is the MIME type for an extension ("" when unknown).
func GuessType(ext string) string {
	ext = strings.ToLower(ext)
	if t, ok := typesByExt[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		if mt, _, err := mime.ParseMediaType(t); err == nil {
			return mt
		}
	}
	return ""
}

// octetStream is what clients send when they do not know a type.
const octetStream = "application/octet-stream"

// declaredType is the type to record: the client's, unless it is missing
// or the catch-all application/octet-stream, in which case the extension
// decides (as the original service did for multipart uploads).
func declaredType(declared, ext string) (string, error) {
	declared = strings.TrimSpace(declared)
	if len(declared) > 255 || strings.IndexFunc(declared, unicode.IsControl) >= 0 {
		return "", invalid("file_type", "must be a MIME type")
	}
	if declared != "" && !strings.EqualFold(declared, octetStream) {
		return declared, nil
	}
	if t := GuessType(ext); t != "" {
		return t, nil
	}
	return octetStream, nil
}
