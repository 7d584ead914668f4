package tabular

import (
	"sync"
	"unicode"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
)

// eastAsian is a multi-byte legacy encoding and the characters its
// language uses most: the first level of its national character set (the
// most frequent characters, as the standards order them).
type eastAsian struct {
	name string
	enc  encoding.Encoding
	// level1 is a byte range [lead0, lead1] × [trail0, trail1] of the
	// standard's first level, decoded once.
	lead0, lead1, trail0, trail1 byte
	kana                         bool
	common                       map[rune]bool
}

var (
	eastAsianOnce sync.Once
	eastAsians    = []*eastAsian{
		// JIS X 0208 level 1 kanji, rows 16-47, through EUC-JP.
		{name: "shift_jis", enc: japanese.EUCJP, lead0: 0xB0, lead1: 0xCF, trail0: 0xA1, trail1: 0xFE, kana: true},
		{name: "euc-jp", enc: japanese.EUCJP, lead0: 0xB0, lead1: 0xCF, trail0: 0xA1, trail1: 0xFE, kana: true},
		// GB 2312 level 1 hanzi, rows 16-55.
		{name: "gb18030", enc: simplifiedchinese.GBK, lead0: 0xB0, lead1: 0xD7, trail0: 0xA1, trail1: 0xFE},
		// Big5 frequently used characters, A440-C67E.
		{name: "big5", enc: traditionalchinese.Big5, lead0: 0xA4, lead1: 0xC6, trail0: 0x40, trail1: 0xFE},
		// KS X 1001 hangul syllables, rows 16-40.
		{name: "euc-kr", enc: korean.EUCKR, lead0: 0xB0, lead1: 0xC8, trail0: 0xA1, trail1: 0xFE},
	}
)

func loadEastAsian() {
	for _, e := range eastAsians {
		e.common = map[rune]bool{}
		dec := e.enc.NewDecoder()
		for lead := int(e.lead0); lead <= int(e.lead1); lead++ {
			for trail := int(e.trail0); trail <= int(e.trail1); trail++ {
				out, err := dec.Bytes([]byte{byte(lead), byte(trail)})
				if err != nil {
					continue
				}
				for _, r := range string(out) {
					if r != '\uFFFD' && r > 0x7F {
						e.common[r] = true
					}
				}
			}
		}
	}
}

// commonestEastAsian decodes the sample with each East Asian encoding and
// returns the one whose non-ASCII characters are most often common in its
// language (kana count for Japanese; CJK punctuation and full-width forms
// are neutral), when that share is at least a half; "" otherwise.
func commonestEastAsian(sample []byte) string {
	eastAsianOnce.Do(loadEastAsian)
	best, bestScore := "", 0.5
	for _, e := range eastAsians {
		dec, _, err := Lookup(e.name)
		if err != nil || !decodesCleanly(dec, sample) {
			continue
		}
		out, err := dec.Bytes(sample)
		if err != nil {
			continue
		}
		var total, common int
		for _, r := range string(out) {
			switch {
			case r <= 0x7F:
				continue
			case r >= 0x3000 && r <= 0x303F, r >= 0xFF00 && r <= 0xFFEF:
				continue
			}
			total++
			if e.common[r] || (e.kana && (unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r))) {
				common++
			}
		}
		if total == 0 {
			continue
		}
		if score := float64(common) / float64(total); score > bestScore {
			best, bestScore = e.name, score
		}
	}
	return best
}
