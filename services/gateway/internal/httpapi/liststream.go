package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
)

// A service answers a list in pages that each fit in one NATS message
// (never a reply the server would refuse); a route whose contract is one
// JSON array follows the pages and writes the items as they arrive, so the
// gateway holds one page at a time however long the list.

// listPage is one page of a list: its items and where the next page
// starts (the zero cursor when this was the last).
type listPage[T any, C comparable] struct {
	items []T
	next  C
	// total counts the whole list, where the service says (paged lists).
	total int
}

// streamList writes the success envelope of a list whose items come from
// fetch, starting at cursor start. An error of the first page is answered
// as usual; once the status line is out a later error can only cut the
// response short (the connection is aborted, so the client sees a broken
// body, never a complete-looking shorter list). meta, if not nil, is
// called with the first page to give the envelope's meta.
func streamList[T any, C comparable](a *API, w http.ResponseWriter, r *http.Request, message string, start C,
	fetch func(context.Context, C) (listPage[T, C], error), meta func(first listPage[T, C]) *PageMeta) {
	ctx, cancel := a.callCtx(r)
	defer cancel()
	page, err := fetch(ctx, start)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	head, _ := json.Marshal(Envelope{Success: true, Message: message})
	var tail []byte
	if meta != nil {
		if m := meta(page); m != nil {
			tail, _ = json.Marshal(m)
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	// {"success":true,"message":"…"} becomes {"success":true,"message":"…","data":[…],"meta":{…}}
	var buf bytes.Buffer
	buf.Write(head[:len(head)-1])
	buf.WriteString(`,"data":[`)
	var zero C
	first := true
	for {
		for _, item := range page.items {
			b, err := json.Marshal(item)
			if err != nil {
				a.log.ErrorContext(ctx, "encode list item", "err", err)
				panic(http.ErrAbortHandler)
			}
			if !first {
				buf.WriteByte(',')
			}
			first = false
			buf.Write(b)
			if buf.Len() >= 32<<10 {
				if _, err := w.Write(buf.Bytes()); err != nil {
					return
				}
				buf.Reset()
			}
		}
		if page.next == zero {
			break
		}
		if page, err = fetch(ctx, page.next); err != nil {
			a.log.WarnContext(ctx, "list cut short: a later page failed", "err", err)
			panic(http.ErrAbortHandler)
		}
	}
	buf.WriteByte(']')
	if tail != nil {
		buf.WriteString(`,"meta":`)
		buf.Write(tail)
	}
	buf.WriteString("}\n")
	_, _ = w.Write(buf.Bytes())
}
