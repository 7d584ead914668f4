package app_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nonefinity/backend/contracts/filev1"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/testkit"
)

// insertFiles stores n ready CSV files of owner directly, newest last,
// with long fields made of a character JSON escapes to six bytes: names
// and types as long as the rules allow and an error of 25,000 of them,
// about 150 KiB per listed file. The first `previews` of them also get a
// 500-column preview.
func (h *harness) insertFiles(owner string, n, previews int) []string {
	h.t.Helper()
	long := strings.Repeat("<", 250)
	cols := make([]string, 500)
	cells := make([]string, 500)
	for i := range cols {
		cols[i] = fmt.Sprintf("column_%03d", i)
		cells[i] = strings.Repeat("v", 30)
	}
	rows := bson.A{}
	for range 1 {
		rows = append(rows, bson.D{{Key: "cells", Value: cells}})
	}
	at := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	docs := make([]any, n)
	ids := make([]string, n)
	for i := range docs {
		id := bson.NewObjectID()
		ids[i] = id.Hex()
		doc := bson.D{
			{Key: "_id", Value: id}, {Key: "owner_id", Value: owner}, {Key: "bucket", Value: "b"},
			{Key: "file_path", Value: fmt.Sprintf("users/%s/raw/%04d.csv", owner, i)},
			{Key: "file_name", Value: long + fmt.Sprint(i)}, {Key: "file_ext", Value: ".csv"},
			{Key: "file_type", Value: "text/" + long}, {Key: "file_size", Value: int64(10)},
			{Key: "status", Value: "ready"}, {Key: "detected_type", Value: "text/csv"},
			{Key: "error", Value: strings.Repeat("<", 25000)}, {Key: "processing", Value: bson.D{{Key: "attempts", Value: 1}}},
			// Several files per millisecond: ties are ordered by id.
			{Key: "created_at", Value: at.Add(time.Duration(i/3) * time.Millisecond)}, {Key: "updated_at", Value: at},
		}
		if i < previews {
			doc = append(doc, bson.E{Key: "preview", Value: bson.D{
				{Key: "columns", Value: cols}, {Key: "has_header", Value: true}, {Key: "rows", Value: rows},
			}})
		}
		docs[i] = doc
	}
	if _, err := h.db.Collection("files").InsertMany(h.ctx(owner), docs); err != nil {
		h.t.Fatal(err)
	}
	return ids
}

// Three files with 500-column previews made an unpaged list larger than a
// NATS message: the reply was never sent and the caller waited 30 s for a
// 503. Lists now carry no previews and come in pages that each fit in one
// message; following the pages yields every file once, newest first.
func TestListPagesFitInOneMessage(t *testing.T) {
	h := start(t, nil)
	ids := h.insertFiles(alice, 12, 3)
	slices.Reverse(ids)
	h.insertFiles(bob, 2, 0)
	maxPayload := int(h.nc.MaxPayload())

	for name, list := range map[string]func(filev1.ListRequest) (filev1.ListReply, error){
		"list":          func(r filev1.ListRequest) (filev1.ListReply, error) { return h.files.List(h.ctx(alice), r) },
		"allow_convert": func(r filev1.ListRequest) (filev1.ListReply, error) { return h.files.AllowConvert(h.ctx(alice), r) },
	} {
		var got []string
		var req filev1.ListRequest
		pages := 0
		for {
			page, err := list(req)
			if err != nil {
				t.Fatalf("%s page %d: %v", name, pages, err)
			}
			pages++
			b, _ := json.Marshal(page)
			if len(b) >= maxPayload {
				t.Fatalf("%s page %d has %d bytes, the payload limit is %d", name, pages, len(b), maxPayload)
			}
			for _, f := range page.Files {
				if f.Preview != nil {
					t.Fatalf("%s lists a preview", name)
				}
				got = append(got, f.ID)
			}
			if page.Next == "" {
				break
			}
			req.Cursor = page.Next
		}
		if !slices.Equal(got, ids) {
			t.Fatalf("%s: %d files in %d pages, want the %d files newest first", name, len(got), pages, len(ids))
		}
		// 12 files of 150 KiB are 1.8 MB: the byte budget, not the count,
		// cut the pages.
		if pages < 2 {
			t.Errorf("%s: %d pages for 1.8 MB of files", name, pages)
		}
	}

	// The single file keeps its preview.
	f, err := h.files.Get(h.ctx(alice), filev1.GetRequest{ID: ids[len(ids)-1]})
	if err != nil || f.Preview == nil || len(f.Preview.Columns) != 500 {
		t.Fatalf("Get of a file with a 500-column preview: %v", err)
	}
	// A search is one reply, without previews: of the 12 files it may
	// find, those that fit in it.
	found, err := h.files.Search(h.ctx(alice), filev1.SearchRequest{Q: "<", Limit: 100})
	if err != nil || len(found.Files) == 0 || len(found.Files) >= len(ids) || found.Next != "" || found.Files[0].ID != ids[0] {
		t.Fatalf("search = %d files (next %q), %v", len(found.Files), found.Next, err)
	}
	for _, f := range found.Files {
		if f.Preview != nil {
			t.Fatal("search lists a preview")
		}
	}
	// A cursor is the service's own; anything else is refused.
	for _, bad := range []string{"x", "1.nothex", "12.65f2a1b3c4d5e6f708192a3", "1741944413000"} {
		t.Run(bad, func(t *testing.T) {
			_, err := h.files.List(h.ctx(alice), filev1.ListRequest{Cursor: bad})
			testkit.WantField(t, err, rpcerr.Validation, "cursor")
		})
	}
}
