package httpapi

import (
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/nonefinity/backend/contracts/paging"
	"github.com/nonefinity/backend/contracts/rpcerr"
)

// pageQuery is the paging of list routes: skip/limit, or the 1-based
// page/page_size the original service also accepted.
type pageQuery struct {
	Skip     *int `form:"skip" json:"skip,omitempty" doc:"Items to skip" minimum:"0" maximum:"9007199254740991" default:"0"`
	Limit    *int `form:"limit" json:"limit,omitempty" doc:"Items per page (capped at 1000)" minimum:"1" maximum:"1000" default:"100"`
	Page     *int `form:"page" json:"page,omitempty" doc:"1-based page number (instead of skip)" minimum:"1" maximum:"9007199254741"`
	PageSize *int `form:"page_size" json:"page_size,omitempty" doc:"Page size (instead of limit)" minimum:"1" maximum:"1000"`
}

// validate refuses a negative skip, pages or sizes below 1, and a skip or
// page past paging.MaxSkip/MaxPage (page × page_size would overflow); a
// limit above the cap is only capped, as the original service did.
func (q *pageQuery) validate() *rpcerr.Error {
	for _, f := range []struct {
		name     string
		v        *int
		min, max int
	}{
		{"skip", q.Skip, 0, paging.MaxSkip}, {"limit", q.Limit, 1, 0},
		{"page", q.Page, 1, paging.MaxPage}, {"page_size", q.PageSize, 1, 0},
	} {
		switch {
		case f.v == nil:
		case *f.v < f.min:
			return rpcerr.Field(rpcerr.Validation, f.name, fmt.Sprintf("%s must be at least %d", f.name, f.min))
		case f.max > 0 && *f.v > f.max:
			return rpcerr.Field(rpcerr.Validation, f.name, fmt.Sprintf("%s must be at most %d", f.name, f.max))
		}
	}
	return nil
}

// window is the normalized skip/limit window asked for; page/page_size is
// used when given and skip is not.
func (q pageQuery) window() paging.Page {
	if q.Skip == nil && (q.Page != nil || q.PageSize != nil) {
		page, size := 1, 0
		if q.Page != nil {
			page = *q.Page
		}
		if q.PageSize != nil {
			size = *q.PageSize
		} else if q.Limit != nil {
			size = *q.Limit
		}
		return paging.FromPageSize(page, size)
	}
	var p paging.Page
	if q.Skip != nil {
		p.Skip = *q.Skip
	}
	if q.Limit != nil {
		p.Limit = *q.Limit
	} else if q.PageSize != nil {
		p.Limit = *q.PageSize
	}
	return p.Normalize()
}

// objectIDLen is the length of a MongoDB ObjectId in hex.
const objectIDLen = 24

// isObjectID reports whether s is a 24-hex ObjectId.
func isObjectID(s string) bool {
	if len(s) != objectIDLen {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// pathID returns the path parameter name as a lower-case ObjectId. A
// malformed id names nothing that exists, so it is a 404 like an unknown
// one (API.md).
func pathID(r *http.Request, name, what string) (string, *rpcerr.Error) {
	id := chi.URLParam(r, name)
	if !isObjectID(id) {
		return "", rpcerr.NotFoundf(what + " not found")
	}
	return strings.ToLower(id), nil
}
