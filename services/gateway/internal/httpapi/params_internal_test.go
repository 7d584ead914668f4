package httpapi

import (
	"math"
	"net/url"
	"testing"

	"github.com/nonefinity/backend/contracts/paging"
)

func TestPageQueryWindow(t *testing.T) {
	n := func(v int) *int { return &v }
	for _, tc := range []struct {
		name string
		q    pageQuery
		want paging.Page
	}{
		{"defaults", pageQuery{}, paging.Page{Skip: 0, Limit: 100}},
		{"skip and limit", pageQuery{Skip: n(30), Limit: n(10)}, paging.Page{Skip: 30, Limit: 10}},
		{"negative skip, zero limit", pageQuery{Skip: n(-5), Limit: n(0)}, paging.Page{Skip: 0, Limit: 100}},
		{"limit capped", pageQuery{Limit: n(5000)}, paging.Page{Skip: 0, Limit: 1000}},
		{"page and page_size", pageQuery{Page: n(3), PageSize: n(10)}, paging.Page{Skip: 20, Limit: 10}},
		{"page with limit", pageQuery{Page: n(2), Limit: n(25)}, paging.Page{Skip: 25, Limit: 25}},
		{"page alone", pageQuery{Page: n(2)}, paging.Page{Skip: 100, Limit: 100}},
		{"page zero is the first", pageQuery{Page: n(0), PageSize: n(10)}, paging.Page{Skip: 0, Limit: 10}},
		{"skip wins over page", pageQuery{Skip: n(7), Page: n(5), PageSize: n(10)}, paging.Page{Skip: 7, Limit: 10}},
	} {
		if got := tc.q.window(); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// A page number or skip past what any list holds is refused, not
// multiplied into an overflow (page=9223372036854775807 once became page
// -1 of a negative window).
func TestPageQueryRefusesOverflowingWindows(t *testing.T) {
	n := func(v int) *int { return &v }
	for _, tc := range []struct {
		name  string
		q     pageQuery
		field string
	}{
		{"largest int page", pageQuery{Page: n(math.MaxInt64), PageSize: n(1000)}, "page"},
		{"page past MaxPage", pageQuery{Page: n(paging.MaxPage + 1)}, "page"},
		{"largest int skip", pageQuery{Skip: n(math.MaxInt64)}, "skip"},
	} {
		e := tc.q.validate()
		if e == nil || e.Field != tc.field || e.HTTPStatus() != 422 {
			t.Errorf("%s: %v, want 422 on %s", tc.name, e, tc.field)
		}
	}
	last := pageQuery{Page: n(paging.MaxPage), PageSize: n(1000)}
	if e := last.validate(); e != nil {
		t.Fatalf("last page refused: %v", e)
	}
	if w := last.window(); w.Skip < 0 || w.Skip > paging.MaxSkip || w.Number() != paging.MaxPage {
		t.Errorf("last page window %+v (page %d)", w, w.Number())
	}
}

// Form values reach every kind of field the request types use, and bad
// values name the field.
func TestDecodeValues(t *testing.T) {
	type embedded struct {
		Header *bool `json:"header,omitempty"`
	}
	type target struct {
		Name    string            `json:"name"`
		Opt     *string           `json:"opt,omitempty"`
		Count   int               `json:"count"`
		Size    int64             `form:"size_bytes" json:"size"`
		Ratio   float64           `json:"ratio"`
		On      bool              `json:"on"`
		IDs     []string          `json:"ids"`
		Headers map[string]string `json:"headers"`
		Skipped string            `json:"-"`
		embedded
	}
	var got target
	e := decodeValues(url.Values{
		"name": {"n"}, "opt": {""}, "count": {"3"}, "size_bytes": {"9"}, "ratio": {"0.5"}, "on": {"yes"},
		"ids": {"a", "b"}, "headers": {`{"X":"1"}`}, "header": {"off"}, "-": {"x"}, "size": {"ignored"},
	}, &got)
	if e != nil {
		t.Fatal(e)
	}
	if got.Name != "n" || got.Opt == nil || *got.Opt != "" || got.Count != 3 || got.Size != 9 || got.Ratio != 0.5 || !got.On ||
		len(got.IDs) != 2 || got.Headers["X"] != "1" || got.Header == nil || *got.Header || got.Skipped != "" {
		t.Errorf("decoded %+v", got)
	}
	var arr target
	if e := decodeValues(url.Values{"ids": {`["x","y","z"]`}, "count": {""}}, &arr); e != nil || len(arr.IDs) != 3 || arr.Count != 0 {
		t.Errorf("JSON array in one value: %+v %v", arr, e)
	}
	for field, value := range map[string]string{"count": "1.5", "size_bytes": "x", "ratio": "half", "on": "maybe", "headers": "{"} {
		var tg target
		e := decodeValues(url.Values{field: {value}}, &tg)
		if e == nil || e.Field != field || e.HTTPStatus() != 400 {
			t.Errorf("%s=%s: %v", field, value, e)
		}
	}
}
