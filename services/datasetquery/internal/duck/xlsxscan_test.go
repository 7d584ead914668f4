package duck

import "testing"

func TestClassifyFormatCode(t *testing.T) {
	cases := map[string]numFmtClass{
		"General":                    fmtNumber,
		"0.00":                       fmtNumber,
		`#,##0 "days"`:               fmtNumber, // quoted text is not a token
		"[Red]0.00;[Blue]-0.00":      fmtNumber,
		`[$€-2] #,##0.00`:            fmtNumber,
		"yyyy-mm-dd":                 fmtDate,
		"d-mmm-yy":                   fmtDate,
		"[$-409]mmmm d, yyyy;@":      fmtDate,
		"yyyy-mm-dd hh:mm":           fmtDateTime,
		"m/d/yy h:mm AM/PM":          fmtDateTime,
		"hh:mm:ss":                   fmtTime,
		"[h]:mm":                     fmtDuration, // elapsed hours count past 24
		"[mm]:ss":                    fmtDuration,
		"yyyy-mm-dd [h]:mm":          fmtDateTime,
		`0.0\d`:                      fmtNumber, // an escaped d
		`"year "0`:                   fmtNumber,
		"yyyy-mm-dd;[Red]yyyy-mm-dd": fmtDate,
	}
	for code, want := range cases {
		if got := classifyFormatCode(code); got != want {
			t.Errorf("classifyFormatCode(%q) = %d, want %d", code, got, want)
		}
	}
}

func TestWiden(t *testing.T) {
	cases := []struct{ a, b, want colType }{
		{typeNull, typeBigint, typeBigint},
		{typeBigint, typeDouble, typeDouble},
		{typeDate, typeTimestamp, typeTimestamp},
		{typeBigint, typeText, typeText},
		{typeBool, typeBigint, typeText},
		{typeDate, typeDouble, typeText},
		{typeTimestamp, typeNull, typeTimestamp},
		{typeTime, typeInterval, typeInterval},
		{typeTime, typeTimestamp, typeText},
	}
	for _, c := range cases {
		if got := widen(c.a, c.b); got != c.want {
			t.Errorf("widen(%d, %d) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestAttr(t *testing.T) {
	tag := []byte(`c r="B12" s="3" t='s'`)
	for name, want := range map[string]string{"r": "B12", "s": "3", "t": "s"} {
		if v, ok := attr(tag, name); !ok || string(v) != want {
			t.Errorf("attr %s = %q %v", name, v, ok)
		}
	}
	if _, ok := attr([]byte(`row spans="1:4" customHeight="1"`), "r"); ok {
		t.Error("found r inside another attribute's name")
	}
}
