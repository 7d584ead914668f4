package tabular_test

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	xunicode "golang.org/x/text/encoding/unicode"

	"github.com/nonefinity/backend/pkg/tabular"
)

// scan feeds data to a scanner in writes of step bytes, so sequences and
// lines are cut at every kind of place.
func scan(data []byte, step int) tabular.EncodingResult {
	var s tabular.EncodingScanner
	for len(data) > 0 {
		n := min(step, len(data))
		_, _ = s.Write(data[:n])
		data = data[n:]
	}
	return s.Result()
}

func encode(t *testing.T, e encoding.Encoding, s string) []byte {
	t.Helper()
	b, err := e.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func transcode(t *testing.T, data []byte, res tabular.EncodingResult) (string, tabular.TranscodeStats) {
	t.Helper()
	var out bytes.Buffer
	st, err := tabular.Transcode(&out, bytes.NewReader(data), res)
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), st
}

func TestUTF8ThroughoutStaysUTF8(t *testing.T) {
	var b strings.Builder
	b.WriteString("id,name\n")
	for i := range 60000 {
		b.WriteString("1,Zoë Ångström 東京 ")
		b.WriteByte(byte('a' + i%26))
		b.WriteByte('\n')
	}
	for _, step := range []int{1 << 20, 4093, 7} {
		if res := scan([]byte(b.String()), step); res.Name != tabular.UTF8 || res.Decoding() {
			t.Fatalf("step %d: %+v", step, res)
		}
	}
	if res := scan(append([]byte("\uFEFF"), "a,b\n1,é\n"...), 3); res.Name != tabular.UTF8BOM || res.Decoding() {
		t.Fatalf("bom: %+v", res)
	}
}

// A UTF-8 file (over 1 MiB) with one Latin-1 row at its end keeps every
// UTF-8 row byte for byte; the Latin-1 row is decoded as windows-1252 and
// reported.
func TestMixedUTF8AndLatin1(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("id,city\n")
	n := 0
	for b.Len() < 1<<20+5000 {
		n++
		b.WriteString("1,Zürich – Genève\n")
	}
	b.Write(encode(t, charmap.ISO8859_1, "2,Besançon\n"))
	for _, step := range []int{1 << 16, 1000, 3} {
		res := scan(b.Bytes(), step)
		if res.Name != tabular.UTF8 || !res.Mixed || res.Fallback != tabular.Windows1252 || res.InvalidLines != 1 ||
			!reflect.DeepEqual(res.InvalidLineNumbers, []int64{int64(n) + 2}) {
			t.Fatalf("step %d: %+v", step, res)
		}
	}
	out, st := transcode(t, b.Bytes(), scan(b.Bytes(), 1<<16))
	if st.FallbackLines != 1 || st.Replaced != 0 || strings.Count(out, "1,Zürich – Genève\n") != n || !strings.HasSuffix(out, "2,Besançon\n") {
		t.Fatalf("transcoded %+v, tail %q", st, out[len(out)-40:])
	}
}

// Latin-1 accents that first appear after 1 MiB of ASCII make the whole
// file Latin-1 (windows-1252).
func TestLegacyAfterTheFirstMegabyte(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("id,name\n")
	for b.Len() < 1<<20+100 {
		b.WriteString("1,plain ascii\n")
	}
	b.Write(encode(t, charmap.Windows1252, "2,Café crème brûlée\n3,Müller\n"))
	res := scan(b.Bytes(), 64<<10)
	if res.Name != tabular.Windows1252 || res.Mixed || res.InvalidLines != 2 {
		t.Fatalf("%+v", res)
	}
	out, _ := transcode(t, b.Bytes(), res)
	if !strings.HasSuffix(out, "2,Café crème brûlée\n3,Müller\n") {
		t.Fatalf("tail %q", out[len(out)-40:])
	}
}

func TestLegacyEncodingsDetected(t *testing.T) {
	for _, tc := range []struct {
		name string
		enc  encoding.Encoding
		text string
	}{
		{"shift_jis", japanese.ShiftJIS, "名前,住所,電話\n山田太郎,東京都新宿区西新宿二丁目,03-1234-5678\n鈴木花子,大阪府大阪市北区梅田,06-9876-5432\n佐藤次郎,北海道札幌市中央区,011-222-3333\n"},
		{"euc-jp", japanese.EUCJP, "名前,住所,電話\n山田太郎,東京都新宿区西新宿二丁目,03-1234-5678\n鈴木花子,大阪府大阪市北区梅田,06-9876-5432\n"},
		{"gb18030", simplifiedchinese.GB18030, "姓名,城市,电话\n张伟,北京市朝阳区,010-12345678\n王芳,上海市浦东新区,021-87654321\n"},
		{"big5", traditionalchinese.Big5, "姓名,城市,電話\n陳大文,臺北市中正區,02-12345678\n林小美,高雄市前鎮區,07-87654321\n"},
		{"euc-kr", korean.EUCKR, "이름,도시,전화\n김철수,서울특별시 강남구,02-1234-5678\n이영희,부산광역시 해운대구,051-987-6543\n"},
		{"windows-1251", charmap.Windows1251, "Город;Население\nМосква;13010112\nСанкт-Петербург;5601911\nНовосибирск;1633595\n"},
		{"windows-1252", charmap.Windows1252, "Ville;Région\nOrléans;Centre-Val de Loire\nBesançon;Bourgogne-Franche-Comté\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := encode(t, tc.enc, tc.text)
			res := scan(data, 5)
			if res.Name != tc.name || res.Mixed {
				t.Fatalf("%+v", res)
			}
			if out, st := transcode(t, data, res); out != tc.text || st.Replaced != 0 {
				t.Fatalf("transcoded %q %+v", out, st)
			}
		})
	}
}

func TestUTF16(t *testing.T) {
	text := "städt\tzahl\nMünchen\t1\nKöln\t2\n"
	for _, tc := range []struct {
		want string
		enc  encoding.Encoding
	}{
		{tabular.UTF16LE, xunicode.UTF16(xunicode.LittleEndian, xunicode.UseBOM)},
		{tabular.UTF16BE, xunicode.UTF16(xunicode.BigEndian, xunicode.UseBOM)},
		{tabular.UTF16LE, xunicode.UTF16(xunicode.LittleEndian, xunicode.IgnoreBOM)},
		{tabular.UTF16BE, xunicode.UTF16(xunicode.BigEndian, xunicode.IgnoreBOM)},
	} {
		data := encode(t, tc.enc, text)
		res := scan(data, 3)
		if res.Name != tc.want {
			t.Fatalf("%x: %+v", data[:4], res)
		}
		if out, _ := transcode(t, data, res); strings.TrimPrefix(out, "\uFEFF") != text {
			t.Fatalf("transcoded %q", out)
		}
	}
}

func TestLookup(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"UTF-8", "utf-8"}, {"utf_8_sig", "utf-8-sig"}, {"cp1252", "windows-1252"}, {"latin-1", "windows-1252"},
		{"Shift_JIS", "shift_jis"}, {"sjis", "shift_jis"}, {"cp932", "shift_jis"}, {"euc_jp", "euc-jp"},
		{"GB2312", "gb18030"}, {"gbk", "gbk"}, {"big5", "big5"}, {"cp949", "euc-kr"}, {"utf-16", "utf-16"},
		{"iso-8859-2", "iso-8859-2"}, {"koi8_r", "koi8-r"},
	} {
		_, got, err := tabular.Lookup(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Lookup(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"ebcdic", "replacement", "x-user-defined"} {
		if _, _, err := tabular.Lookup(bad); !errors.Is(err, tabular.ErrUnknownEncoding) {
			t.Errorf("Lookup(%q) = %v", bad, err)
		}
	}
	for _, name := range tabular.SupportedEncodings {
		if !tabular.Supported(name) {
			t.Errorf("listed %q is not supported", name)
		}
	}
}

// A file too short for the statistical detector (a few lines of kanji
// names and addresses) is still read as what it is.
func TestShortEastAsianSamples(t *testing.T) {
	for _, tc := range []struct {
		name string
		enc  encoding.Encoding
		text string
	}{
		{"shift_jis", japanese.ShiftJIS, "名前,住所,金額\n山田太郎,東京都新宿区西新宿二丁目,1200\n鈴木花子,大阪府大阪市北区梅田,3400\n"},
		{"shift_jis", japanese.ShiftJIS, "品名,数量\nりんご,3\nみかん,5\n"},
		{"euc-kr", korean.EUCKR, "이름,도시\n김철수,서울\n"},
		{"gb18030", simplifiedchinese.GB18030, "姓名,城市\n张伟,北京市\n"},
		{"big5", traditionalchinese.Big5, "姓名,城市\n陳大文,臺北市\n"},
	} {
		if got := tabular.DetectLegacy(encode(t, tc.enc, tc.text)); got != tc.name {
			t.Errorf("%q: %s, want %s", tc.text, got, tc.name)
		}
	}
}
