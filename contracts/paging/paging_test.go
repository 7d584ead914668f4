package paging_test

import (
	"math"
	"testing"

	"github.com/nonefinity/backend/contracts/paging"
)

func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		in, want paging.Page
	}{
		{paging.Page{}, paging.Page{Skip: 0, Limit: 100}},
		{paging.Page{Skip: -5, Limit: -1}, paging.Page{Skip: 0, Limit: 100}},
		{paging.Page{Skip: 40, Limit: 20}, paging.Page{Skip: 40, Limit: 20}},
		{paging.Page{Skip: 3, Limit: 1000}, paging.Page{Skip: 3, Limit: 1000}},
		{paging.Page{Skip: 3, Limit: 1001}, paging.Page{Skip: 3, Limit: 1000}},
		{paging.Page{Skip: math.MaxInt, Limit: 10}, paging.Page{Skip: paging.MaxSkip, Limit: 10}},
	} {
		if got := tc.in.Normalize(); got != tc.want {
			t.Errorf("%+v.Normalize() = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestFromPageSize(t *testing.T) {
	for _, tc := range []struct {
		page, size int
		want       paging.Page
	}{
		{1, 20, paging.Page{Skip: 0, Limit: 20}},
		{3, 20, paging.Page{Skip: 40, Limit: 20}},
		{0, 0, paging.Page{Skip: 0, Limit: 100}},
		{2, 5000, paging.Page{Skip: 1000, Limit: 1000}},
		{math.MaxInt, 1000, paging.Page{Skip: (paging.MaxPage - 1) * 1000, Limit: 1000}},
	} {
		got := paging.FromPageSize(tc.page, tc.size)
		if got != tc.want {
			t.Errorf("FromPageSize(%d, %d) = %+v, want %+v", tc.page, tc.size, got, tc.want)
		}
		if tc.page >= 1 && tc.page <= paging.MaxPage && got.Number() != tc.page {
			t.Errorf("FromPageSize(%d, %d).Number() = %d", tc.page, tc.size, got.Number())
		}
	}
}

func TestNumberAndPages(t *testing.T) {
	p := paging.Page{Skip: 25, Limit: 10}
	if n := p.Number(); n != 3 {
		t.Errorf("Number() = %d, want 3", n)
	}
	for total, want := range map[int]int{0: 1, 1: 1, 10: 1, 11: 2, 1000: 100} {
		if got := p.Pages(total); got != want {
			t.Errorf("Pages(%d) = %d, want %d", total, got, want)
		}
	}
	if n := (paging.Page{}).Number(); n != 1 {
		t.Errorf("zero page Number() = %d, want 1", n)
	}
}
