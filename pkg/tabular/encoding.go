package tabular

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/wlynxg/chardet"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// Encoding names as reported. They follow Python's codec names, which the
// original service reported and users type.
const (
	UTF8    = "utf-8"
	UTF8BOM = "utf-8-sig"
	UTF16LE = "utf-16le"
	UTF16BE = "utf-16be"
	// Windows1252 is what text that is not UTF-8 is read as when nothing
	// says otherwise: the superset of Latin-1 that spreadsheet programs
	// write.
	Windows1252 = "windows-1252"
)

// SupportedEncodings lists the encodings a user may name (besides their
// usual aliases).
var SupportedEncodings = []string{
	UTF8, UTF8BOM, "utf-16", UTF16LE, UTF16BE,
	"windows-1250", "windows-1251", Windows1252, "windows-1253", "windows-1254", "windows-1255",
	"windows-1256", "windows-1257", "windows-1258", "windows-874",
	"iso-8859-1", "iso-8859-2", "iso-8859-3", "iso-8859-4", "iso-8859-5", "iso-8859-6", "iso-8859-7",
	"iso-8859-8", "iso-8859-10", "iso-8859-13", "iso-8859-14", "iso-8859-15", "iso-8859-16",
	"koi8-r", "koi8-u", "ibm866", "macintosh",
	"shift_jis", "euc-jp", "iso-2022-jp", "gb18030", "gbk", "big5", "euc-kr",
}

// encodingAliases maps Python codec names and common spellings onto the
// WHATWG labels htmlindex knows.
var encodingAliases = map[string]string{
	"utf8": UTF8, "u8": UTF8, "ascii": UTF8, "us-ascii": UTF8, "utf-8-sig": UTF8BOM, "utf8-sig": UTF8BOM,
	"utf16": "utf-16", "utf-16-le": UTF16LE, "utf-16-be": UTF16BE, "utf16le": UTF16LE, "utf16be": UTF16BE,
	"ucs-2": "utf-16", "ucs2": "utf-16",
	"latin1": "iso-8859-1", "latin-1": "iso-8859-1", "l1": "iso-8859-1", "iso8859-1": "iso-8859-1",
	"latin2": "iso-8859-2", "latin-2": "iso-8859-2", "latin9": "iso-8859-15", "latin-9": "iso-8859-15",
	"cp1250": "windows-1250", "cp1251": "windows-1251", "cp1252": "windows-1252", "cp1253": "windows-1253",
	"cp1254": "windows-1254", "cp1255": "windows-1255", "cp1256": "windows-1256", "cp1257": "windows-1257",
	"cp1258": "windows-1258", "cp874": "windows-874", "ansi": "windows-1252",
	"sjis": "shift_jis", "shift-jis": "shift_jis", "s-jis": "shift_jis", "cp932": "shift_jis", "ms932": "shift_jis",
	"windows-31j": "shift_jis", "mskanji": "shift_jis",
	"eucjp": "euc-jp", "ujis": "euc-jp",
	"gb2312": "gb18030", "gbk": "gbk", "cp936": "gbk", "ms936": "gbk", "euc-cn": "gb18030",
	"cp950": "big5", "big5-hkscs": "big5", "big5hkscs": "big5",
	"euckr": "euc-kr", "cp949": "euc-kr", "uhc": "euc-kr", "ks_c_5601-1987": "euc-kr",
	"koi8r": "koi8-r", "koi8u": "koi8-u", "cp866": "ibm866", "mac-roman": "macintosh", "macroman": "macintosh",
}

// ErrUnknownEncoding is an encoding name this package cannot read.
var ErrUnknownEncoding = errors.New("unsupported encoding")

// Lookup returns the decoder of a named encoding (any case, "_" or "-",
// Python's and WHATWG's names) and its canonical name; UTF-8 needs no
// decoder (nil). UTF-16 decoders honour a byte order mark.
func Lookup(name string) (*encoding.Decoder, string, error) {
	key := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(name)), "_", "-")
	if a, ok := encodingAliases[key]; ok {
		key = a
	}
	if a, ok := encodingAliases[strings.ReplaceAll(key, "-", "")]; ok {
		key = a
	}
	switch key {
	case "", UTF8:
		return nil, UTF8, nil
	case UTF8BOM:
		return nil, UTF8BOM, nil
	case "utf-16":
		return unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewDecoder(), "utf-16", nil
	case UTF16LE:
		return unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewDecoder(), UTF16LE, nil
	case UTF16BE:
		return unicode.UTF16(unicode.BigEndian, unicode.UseBOM).NewDecoder(), UTF16BE, nil
	case "iso-8859-1":
		// WHATWG reads Latin-1 as windows-1252, which differs only where
		// Latin-1 has unprintable control codes.
		key = Windows1252
	}
	enc, err := htmlindex.Get(key)
	if err != nil || key == "replacement" || key == "x-user-defined" {
		return nil, "", fmt.Errorf("%w %q", ErrUnknownEncoding, name)
	}
	canonical, err := htmlindex.Name(enc)
	if err != nil {
		canonical = key
	}
	return enc.NewDecoder(), strings.ToLower(canonical), nil
}

// EncodingResult is what an EncodingScanner learned about a whole file.
type EncodingResult struct {
	// Name is the file's encoding (canonical, as Lookup returns it).
	Name string
	// Mixed says the file is UTF-8 except for InvalidLines lines, which
	// are in Fallback (detected from those lines).
	Mixed    bool
	Fallback string
	// InvalidLines counts the lines that are not valid UTF-8, and
	// InvalidLineNumbers lists the first of them (from 1).
	InvalidLines       int64
	InvalidLineNumbers []int64
}

// Decoding says the file is read through a decoder.
func (r EncodingResult) Decoding() bool {
	return r.Mixed || (r.Name != UTF8 && r.Name != UTF8BOM)
}

const (
	scanHeadBytes    = 64 << 10
	invalidSampleMax = 256 << 10
	maxListedLines   = 100
)

// EncodingScanner learns the encoding of a file from every byte of it, as
// it streams by (it is an io.Writer): a byte order mark, UTF-16 by its zero
// bytes, UTF-8 by validating every line, and for the lines that are not
// UTF-8 a statistical detector over a sample of them.
type EncodingScanner struct {
	head    []byte
	carry   []byte // an incomplete UTF-8 sequence at the end of the last write
	line    int64  // lines ended so far
	curBad  bool   // the current line has an invalid sequence
	invalid int64
	lineNos []int64
	sample  []byte // bytes of invalid lines
	multi   bool   // a valid multi-byte UTF-8 sequence was seen
	total   int64
}

// Write scans p.
func (s *EncodingScanner) Write(p []byte) (int, error) {
	n := len(p)
	s.total += int64(n)
	if len(s.head) < scanHeadBytes {
		s.head = append(s.head, p[:min(len(p), scanHeadBytes-len(s.head))]...)
	}
	if len(s.carry) > 0 {
		joined := append(append([]byte(nil), s.carry...), p...)
		s.carry = s.carry[:0]
		p = joined
	}
	// Keep an incomplete sequence at the end for the next write.
	if cut := incompleteTail(p); cut < len(p) {
		s.carry = append(s.carry, p[cut:]...)
		p = p[:cut]
	}
	if !s.curBad && utf8.Valid(p) {
		// The common case: every line in p is valid.
		s.line += int64(bytes.Count(p, []byte{'\n'}))
		if !s.multi && hasHighByte(p) {
			s.multi = true
		}
		return n, nil
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		seg := p
		if i >= 0 {
			seg = p[:i+1]
		}
		p = p[len(seg):]
		if utf8.Valid(seg) {
			if !s.multi && hasHighByte(seg) && !s.curBad {
				s.multi = true
			}
		} else if !s.curBad {
			s.curBad = true
		}
		if s.curBad && len(s.sample) < invalidSampleMax {
			s.sample = append(s.sample, seg[:min(len(seg), invalidSampleMax-len(s.sample))]...)
		}
		if i >= 0 {
			s.endLine()
		}
	}
	return n, nil
}

func (s *EncodingScanner) endLine() {
	s.line++
	if s.curBad {
		s.invalid++
		if len(s.lineNos) < maxListedLines {
			s.lineNos = append(s.lineNos, s.line)
		}
	}
	s.curBad = false
}

// incompleteTail is where an incomplete UTF-8 sequence at the end of p
// starts (len(p) when there is none).
func incompleteTail(p []byte) int {
	for i := 1; i <= utf8.UTFMax-1 && i <= len(p); i++ {
		c := p[len(p)-i]
		if c < 0x80 {
			return len(p)
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(p[len(p)-i:]) {
				return len(p) - i
			}
			return len(p)
		}
	}
	return len(p)
}

// hasHighByte says p has a byte above 0x7F, eight bytes at a time.
func hasHighByte(p []byte) bool {
	for len(p) >= 8 {
		if binary.LittleEndian.Uint64(p)&0x8080808080808080 != 0 {
			return true
		}
		p = p[8:]
	}
	for _, c := range p {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// Result decides the encoding. Call it once, after the last Write.
func (s *EncodingScanner) Result() EncodingResult {
	if len(s.carry) > 0 {
		// The file ends inside a sequence.
		s.curBad = true
		s.sample = append(s.sample, s.carry...)
		s.carry = nil
	}
	if s.curBad {
		s.endLine()
	}
	switch {
	case bytes.HasPrefix(s.head, []byte{0xFF, 0xFE}):
		return EncodingResult{Name: UTF16LE}
	case bytes.HasPrefix(s.head, []byte{0xFE, 0xFF}):
		return EncodingResult{Name: UTF16BE}
	}
	if name := utf16ByZeros(s.head); name != "" {
		return EncodingResult{Name: name}
	}
	bom := bytes.HasPrefix(s.head, []byte("\uFEFF"))
	if s.invalid == 0 {
		if bom {
			return EncodingResult{Name: UTF8BOM}
		}
		return EncodingResult{Name: UTF8}
	}
	legacy := DetectLegacy(s.sample)
	res := EncodingResult{InvalidLines: s.invalid, InvalidLineNumbers: s.lineNos}
	if s.multi || bom {
		res.Name, res.Mixed, res.Fallback = UTF8, true, legacy
		if bom {
			res.Name = UTF8BOM
		}
		return res
	}
	res.Name = legacy
	return res
}

// utf16ByZeros recognises UTF-16 without a byte order mark: text in Latin
// scripts has a zero byte in every other position.
func utf16ByZeros(head []byte) string {
	n := len(head) &^ 1
	if n < 4 {
		return ""
	}
	var even, odd int
	for i := 0; i < n; i += 2 {
		if head[i] == 0 {
			even++
		}
		if head[i+1] == 0 {
			odd++
		}
	}
	pairs := n / 2
	switch {
	case odd*10 >= pairs*4 && even*20 < pairs:
		return UTF16LE
	case even*10 >= pairs*4 && odd*20 < pairs:
		return UTF16BE
	}
	return ""
}

// DetectLegacy names the legacy encoding of text that is not UTF-8. A
// statistical detector (a port of Mozilla's universal detector) decides
// when it is confident and its answer decodes the sample cleanly; it needs
// more text than a small file has for some encodings (Shift_JIS), so East
// Asian candidates are then tried on the sample itself: the one whose
// characters are most often among its language's common characters wins.
// Else the detector's best clean answer, else windows-1252.
func DetectLegacy(sample []byte) string {
	if len(sample) == 0 {
		return Windows1252
	}
	results := chardet.DetectAll(sample)
	var fallback string
	for _, r := range results {
		name := detectedName(r.Encoding)
		if name == "" {
			continue
		}
		dec, canonical, err := Lookup(name)
		if err != nil || dec == nil || !decodesCleanly(dec, sample) {
			continue
		}
		if r.Confidence >= 0.5 {
			return canonical
		}
		if fallback == "" {
			fallback = canonical
		}
	}
	if name := commonestEastAsian(sample); name != "" {
		return name
	}
	if fallback != "" {
		return fallback
	}
	return Windows1252
}

// detectedName maps the detector's names onto ours; "" for the ones this
// package does not read as legacy text.
func detectedName(n string) string {
	switch strings.ToUpper(n) {
	case "ASCII", "UTF-8", "UTF-8-SIG", "UTF-16", "UTF-16LE", "UTF-16BE", "UTF-32", "UTF-32LE", "UTF-32BE", "":
		return ""
	case "ISO-8859-1":
		return Windows1252
	case "GB2312":
		return "gb18030"
	case "CP932":
		return "shift_jis"
	case "CP949":
		return "euc-kr"
	case "MACCYRILLIC", "TIS-620", "JOHAB", "EUC-TW", "HZ-GB-2312", "ISO-2022-CN", "ISO-2022-KR", "IBM855":
		return ""
	}
	return strings.ToLower(n)
}

// decodesCleanly says the sample decodes without replacement characters
// or control characters other than line breaks and tabs.
func decodesCleanly(dec *encoding.Decoder, sample []byte) bool {
	out, err := dec.Bytes(sample)
	if err != nil {
		return false
	}
	for _, r := range string(out) {
		if r == utf8.RuneError || (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || (r >= 0x7F && r < 0xA0) {
			return false
		}
	}
	return true
}

// TranscodeStats describe a transcoding.
type TranscodeStats struct {
	// FallbackLines counts the lines of a mixed file read in its fallback
	// encoding.
	FallbackLines int64
	// Replaced counts the characters that could not be decoded and were
	// replaced by U+FFFD.
	Replaced int64
	// ReplacedLineNumbers lists the first lines with replacements.
	ReplacedLineNumbers []int64
}

// Transcode copies src to dst as UTF-8, reading it as res says: through
// the detected decoder, or line by line for a mixed file (UTF-8 lines as
// they are, the others through the fallback decoder).
func Transcode(dst io.Writer, src io.Reader, res EncodingResult) (TranscodeStats, error) {
	var st TranscodeStats
	bw := bufio.NewWriterSize(dst, 1<<20)
	br := bufio.NewReaderSize(src, 1<<20)
	var dec *encoding.Decoder
	name := res.Name
	if res.Mixed {
		name = res.Fallback
	}
	dec, _, err := Lookup(name)
	if err != nil {
		return st, err
	}
	var line int64
	var in io.Reader = br
	if !res.Mixed && dec != nil {
		in = transform.NewReader(br, dec)
	}
	lr := bufio.NewReaderSize(in, 1<<20)
	var buf []byte
	for {
		buf = buf[:0]
		chunk, err := lr.ReadSlice('\n')
		for errors.Is(err, bufio.ErrBufferFull) {
			buf = append(buf, chunk...)
			chunk, err = lr.ReadSlice('\n')
		}
		buf = append(buf, chunk...)
		if len(buf) > 0 {
			line++
			out := buf
			decoded := !res.Mixed && dec != nil
			if res.Mixed && !utf8.Valid(buf) {
				st.FallbackLines++
				decoded = true
				var derr error
				if out, derr = dec.Bytes(buf); derr != nil {
					return st, fmt.Errorf("decode line %d: %w", line, derr)
				}
			}
			if n := bytes.Count(out, []byte("\uFFFD")); decoded && n > 0 {
				st.Replaced += int64(n)
				if len(st.ReplacedLineNumbers) < maxListedLines {
					st.ReplacedLineNumbers = append(st.ReplacedLineNumbers, line)
				}
			}
			if _, werr := bw.Write(out); werr != nil {
				return st, werr
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return st, err
		}
	}
	return st, bw.Flush()
}

// Supported says name is an encoding Lookup reads.
func Supported(name string) bool {
	_, _, err := Lookup(name)
	return err == nil
}

// sortedSupported is SupportedEncodings for messages.
func sortedSupported() []string {
	out := slices.Clone(SupportedEncodings)
	slices.Sort(out)
	return out
}

// UnknownEncodingMessage says which encodings a user may name instead.
func UnknownEncodingMessage(name string) string {
	return fmt.Sprintf("unsupported encoding %q (supported: %s)", name, strings.Join(sortedSupported(), ", "))
}
