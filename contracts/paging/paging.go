// Package paging is the skip/limit window every list request of the API
// shares, with the defaults and cap API.md promises, so the gateway and the
// services agree on them.
package paging

const (
	// DefaultLimit applies when a request names no limit.
	DefaultLimit = 100
	// MaxLimit caps every limit a caller asks for.
	MaxLimit = 1000
	// MaxSkip caps where a window starts: beyond any list, and small
	// enough that skip+limit never overflows and every page number stays
	// an exact JSON number (2^53 - 1).
	MaxSkip = 1<<53 - 1
	// MaxPage is the last page number whose window starts within
	// MaxSkip at any page size.
	MaxPage = MaxSkip/MaxLimit + 1
)

// Page is a skip/limit window. Request types embed it so its fields appear
// at the top level of their JSON ({"skip":0,"limit":100}).
type Page struct {
	Skip  int `json:"skip"`
	Limit int `json:"limit"`
}

// FromPageSize converts the 1-based page/page_size form the API also accepts.
// A page below 1 counts as the first page; one past MaxPage as MaxPage.
func FromPageSize(page, size int) Page {
	page = min(max(page, 1), MaxPage)
	p := Page{Limit: size}.Normalize()
	p.Skip = (page - 1) * p.Limit
	return p
}

// Normalize applies the defaults and the caps: a negative skip becomes 0,
// one above MaxSkip MaxSkip, a limit of 0 or less becomes DefaultLimit, one
// above MaxLimit becomes MaxLimit.
func (p Page) Normalize() Page {
	p.Skip = min(max(p.Skip, 0), MaxSkip)
	switch {
	case p.Limit <= 0:
		p.Limit = DefaultLimit
	case p.Limit > MaxLimit:
		p.Limit = MaxLimit
	}
	return p
}

// Number is the 1-based page this window starts in (the original service's
// "page"); it assumes a normalized window.
func (p Page) Number() int {
	if p.Limit <= 0 {
		return 1
	}
	return p.Skip/p.Limit + 1
}

// Pages is how many windows of this size hold total items (at least 1, so an
// empty list still has a first page to show).
func (p Page) Pages(total int) int {
	if p.Limit <= 0 || total <= 0 {
		return 1
	}
	return (total + p.Limit - 1) / p.Limit
}
