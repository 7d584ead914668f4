package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/fileingest/internal/files"
	"github.com/nonefinity/backend/services/fileingest/internal/store"
)

const (
	alice = "65f2a1b3c4d5e6f708192a3b"
	bob   = "65f2a1b3c4d5e6f708192a3c"
)

func newStore(t *testing.T) (*store.Store, context.Context) {
	t.Helper()
	s, _, ctx := newStoreDB(t)
	return s, ctx
}

// newStoreDB is newStore with the database, for tests that look at the
// stored documents.
func newStoreDB(t *testing.T) (*store.Store, *mongo.Database, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	db := testkit.Mongo(t)
	s := store.New(db)
	if err := s.EnsureIndexes(ctx, nil); err != nil {
		t.Fatalf("EnsureIndexes: %v", err)
	}
	return s, db, ctx
}

var t0 = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)

func insert(t *testing.T, s *store.Store, ctx context.Context, owner, path, name, typ string, size int64, at time.Time) files.File {
	t.Helper()
	f, err := s.Insert(ctx, files.File{
		OwnerID: owner, Bucket: "b", FilePath: path, FileName: name, FileExt: ".csv", FileType: typ,
		FileSize: size, Status: files.StatusUploaded, CreatedAt: at, UpdatedAt: at,
	})
	if err != nil {
		t.Fatalf("Insert %s: %v", path, err)
	}
	return f
}

func TestInsertGetOwnershipAndUniquePath(t *testing.T) {
	s, ctx := newStore(t)
	f := insert(t, s, ctx, alice, "users/a/raw/1.csv", "sales", "text/csv", 10, t0)
	got, err := s.Get(ctx, alice, f.ID)
	if err != nil || got.FilePath != f.FilePath || got.Status != files.StatusUploaded || !got.CreatedAt.Equal(t0) {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	for _, tc := range []struct{ owner, id string }{{bob, f.ID}, {alice, "nothex"}, {alice, "65f2a1b3c4d5e6f708192fff"}} {
		if _, err := s.Get(ctx, tc.owner, tc.id); !errors.Is(err, files.ErrNotFound) {
			t.Errorf("Get(%s, %s) = %v, want ErrNotFound", tc.owner, tc.id, err)
		}
	}
	if _, err := s.Insert(ctx, files.File{OwnerID: alice, FilePath: "users/a/raw/1.csv", CreatedAt: t0}); !errors.Is(err, files.ErrDuplicate) {
		t.Fatalf("second insert of the same path: %v, want ErrDuplicate", err)
	}
	if got, err := s.GetByPath(ctx, alice, "users/a/raw/1.csv"); err != nil || got.ID != f.ID {
		t.Fatalf("GetByPath = %+v, %v", got, err)
	}
	if _, err := s.GetByPath(ctx, bob, "users/a/raw/1.csv"); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("GetByPath of another owner: %v", err)
	}
	if err := s.Delete(ctx, bob, f.ID); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("Delete by another owner: %v", err)
	}
	if _, err := s.Rename(ctx, bob, f.ID, "x", t0); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("Rename by another owner: %v", err)
	}
}

// Pages follow each other by position: every file once, newest first,
// files created in the same millisecond ordered by id, a file added
// meanwhile (newer than the first page) never repeating an older one, and
// no preview in any list.
func TestListPages(t *testing.T) {
	s, ctx := newStore(t)
	var want []string
	for i := range 7 {
		at := t0.Add(time.Duration(i/3) * time.Minute) // three files per minute
		f := insert(t, s, ctx, alice, fmt.Sprintf("p%d", i), fmt.Sprintf("f%d", i), "text/csv", 1, at)
		if _, applied, err := s.StartProcessing(ctx, alice, f.ID, at); err != nil || !applied {
			t.Fatalf("StartProcessing: %v", err)
		}
		preview := &files.Preview{Columns: []string{"a"}, Rows: [][]string{{"1"}}}
		if _, _, err := s.FinishProcessing(ctx, alice, f.ID, files.Outcome{Status: files.StatusReady, DetectedType: "text/csv", Preview: preview}, at); err != nil {
			t.Fatal(err)
		}
		want = append([]string{f.ID}, want...)
	}
	insert(t, s, ctx, bob, "pb", "bob's", "text/csv", 1, t0)
	// List first: the files added while it pages are not ready, so
	// ReadyOfTypes never lists them either.
	for _, tc := range []struct {
		name string
		list func(files.Page) ([]files.File, error)
	}{
		{"List", func(p files.Page) ([]files.File, error) { return s.List(ctx, alice, p) }},
		{"ReadyOfTypes", func(p files.Page) ([]files.File, error) { return s.ReadyOfTypes(ctx, alice, []string{"text/csv"}, p) }},
	} {
		name, list := tc.name, tc.list
		var got []string
		p := files.Page{Limit: 3}
		for page := 0; ; page++ {
			fs, err := list(p)
			if err != nil {
				t.Fatalf("%s page %d: %v", name, page, err)
			}
			if page == 0 {
				insert(t, s, ctx, alice, "late-"+name, "late", "text/csv", 1, t0.Add(time.Hour))
			}
			for _, f := range fs {
				if f.Preview != nil {
					t.Fatalf("%s lists a preview: %+v", name, f)
				}
				got = append(got, f.ID)
			}
			if len(fs) < p.Limit {
				break
			}
			p.After = files.PositionOf(fs[len(fs)-1])
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s pages = %v\nwant %v", name, got, want)
		}
	}
	if f, err := s.Get(ctx, alice, want[0]); err != nil || f.Preview == nil {
		t.Fatalf("Get keeps the preview: %+v, %v", f, err)
	}
}

func TestSearchListTypesAndSums(t *testing.T) {
	s, ctx := newStore(t)
	insert(t, s, ctx, alice, "p1", "Sales (2024)", "text/csv", 100, t0)
	insert(t, s, ctx, alice, "p2", "sales.2024 final", "application/pdf", 200, t0.Add(time.Minute))
	insert(t, s, ctx, alice, "p3", "photo", "image/png", 300, t0.Add(2*time.Minute))
	insert(t, s, ctx, bob, "p4", "sales bob", "text/csv", 1000, t0)

	names := func(fs []files.File) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f.FileName)
		}
		return out
	}
	all, err := s.List(ctx, alice, files.Page{Limit: 100})
	if err != nil || !reflect.DeepEqual(names(all), []string{"photo", "sales.2024 final", "Sales (2024)"}) {
		t.Fatalf("List = %v, %v", names(all), err)
	}
	for _, tc := range []struct {
		q    files.SearchQuery
		want []string
	}{
		{files.SearchQuery{Name: "SALES", Limit: 50}, []string{"sales.2024 final", "Sales (2024)"}},
		{files.SearchQuery{Name: "(2024)", Limit: 50}, []string{"Sales (2024)"}},
		{files.SearchQuery{Name: "s.2", Limit: 50}, []string{"sales.2024 final"}}, // "." is literal
		{files.SearchQuery{Name: ".*", Limit: 50}, nil},
		{files.SearchQuery{TypePrefix: "text/", Limit: 50}, []string{"Sales (2024)"}},
		{files.SearchQuery{Name: "sales", TypePrefix: "application", Limit: 50}, []string{"sales.2024 final"}},
		{files.SearchQuery{Limit: 1}, []string{"photo"}},
	} {
		got, err := s.Search(ctx, alice, tc.q)
		if err != nil || !reflect.DeepEqual(names(got), tc.want) {
			t.Errorf("Search(%+v) = %v, %v; want %v", tc.q, names(got), err, tc.want)
		}
	}
	if used, err := s.UsedBytes(ctx, alice); err != nil || used != 600 {
		t.Fatalf("UsedBytes = %d, %v", used, err)
	}
	if used, err := s.UsedBytes(ctx, "nobody"); err != nil || used != 0 {
		t.Fatalf("UsedBytes(nobody) = %d, %v", used, err)
	}
	types, err := s.Types(ctx, alice)
	if err != nil || len(types) != 3 {
		t.Fatalf("Types = %v, %v", types, err)
	}
	ts, err := s.TypeSizes(ctx, alice)
	if err != nil || len(ts) != 3 {
		t.Fatalf("TypeSizes = %v, %v", ts, err)
	}
	if n, err := s.DeleteOwner(ctx, alice); err != nil || n != 3 {
		t.Fatalf("DeleteOwner = %d, %v", n, err)
	}
	if left, _ := s.List(ctx, bob, files.Page{Limit: 100}); len(left) != 1 {
		t.Fatalf("bob's files after erasing alice: %d", len(left))
	}
}

func TestProcessingTransitions(t *testing.T) {
	s, ctx := newStore(t)
	f := insert(t, s, ctx, alice, "p1", "sales", "text/csv", 100, t0)

	got, started, err := s.StartProcessing(ctx, alice, f.ID, t0.Add(time.Second))
	if err != nil || !started || got.Status != files.StatusProcessing || got.Processing.Attempts != 1 {
		t.Fatalf("StartProcessing = %+v, %v, %v", got, started, err)
	}
	// An interrupted attempt may start again.
	got, started, err = s.StartProcessing(ctx, alice, f.ID, t0.Add(2*time.Second))
	if err != nil || !started || got.Processing.Attempts != 2 {
		t.Fatalf("second StartProcessing = %+v, %v, %v", got, started, err)
	}
	preview := &files.Preview{Columns: []string{"a", "b"}, Encoding: "utf-8", Delimiter: ";", HasHeader: true, Rows: [][]string{{"1", "2"}}}
	got, applied, err := s.FinishProcessing(ctx, alice, f.ID, files.Outcome{
		Status: files.StatusReady, Category: "spreadsheet", DetectedType: "text/csv", SHA256: "abc", Preview: preview,
	}, t0.Add(3*time.Second))
	if err != nil || !applied || got.Status != files.StatusReady || !reflect.DeepEqual(got.Preview, preview) || got.Processing.OutcomePublished {
		t.Fatalf("FinishProcessing = %+v, %v, %v", got, applied, err)
	}
	// Finished files neither start again nor take another outcome.
	if got, started, err := s.StartProcessing(ctx, alice, f.ID, t0); err != nil || started || got.Status != files.StatusReady {
		t.Fatalf("StartProcessing of a ready file = %+v, %v, %v", got, started, err)
	}
	if got, applied, err := s.FinishProcessing(ctx, alice, f.ID, files.Outcome{Status: files.StatusFailed, Error: "late"}, t0); err != nil || applied || got.Status != files.StatusReady {
		t.Fatalf("late failure = %+v, %v, %v", got, applied, err)
	}
	if err := s.MarkOutcomePublished(ctx, alice, f.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, alice, f.ID); !got.Processing.OutcomePublished || got.Error != "" {
		t.Fatalf("after MarkOutcomePublished: %+v", got)
	}
	ready, err := s.ReadyOfTypes(ctx, alice, []string{"text/csv"}, files.Page{Limit: 100})
	if err != nil || len(ready) != 1 {
		t.Fatalf("ReadyOfTypes = %v, %v", ready, err)
	}

	// Giving up on a file that never started.
	g := insert(t, s, ctx, alice, "p2", "other", "text/csv", 1, t0)
	got, applied, err = s.FinishProcessing(ctx, alice, g.ID, files.Outcome{Status: files.StatusFailed, Error: "gave up"}, t0)
	if err != nil || !applied || got.Status != files.StatusFailed || got.Error != "gave up" {
		t.Fatalf("fail an uploaded file = %+v, %v, %v", got, applied, err)
	}
	if _, _, err := s.StartProcessing(ctx, bob, f.ID, t0); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("StartProcessing for another owner: %v", err)
	}
}

// A preview is kept apart from its file (store.PreviewsCollection) and
// only the file's owner reaches it: Get carries it, another user's Get,
// Rename, MarkOutcomePublished and Delete of the file fail without
// touching it, the owner's Delete and erasure remove it, and an outcome
// that is not applied (file gone, or finished without one) leaves none.
func TestPreviewKeptApart(t *testing.T) {
	s, db, ctx := newStoreDB(t)
	previews := db.Collection(store.PreviewsCollection)
	countPreviews := func(owner string) int64 {
		t.Helper()
		n, err := previews.CountDocuments(ctx, bson.D{{Key: "owner_id", Value: owner}})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	preview := &files.Preview{Columns: []string{"a", "b"}, HasHeader: true, Rows: [][]string{{"1", "2"}, {}}}
	ready := files.Outcome{Status: files.StatusReady, DetectedType: "text/csv", Preview: preview}
	finish := func(owner, path string) files.File {
		t.Helper()
		f := insert(t, s, ctx, owner, path, path, "text/csv", 1, t0)
		if _, started, err := s.StartProcessing(ctx, owner, f.ID, t0); err != nil || !started {
			t.Fatalf("StartProcessing: %v, %v", started, err)
		}
		got, applied, err := s.FinishProcessing(ctx, owner, f.ID, ready, t0)
		if err != nil || !applied || !reflect.DeepEqual(got.Preview, preview) {
			t.Fatalf("FinishProcessing = %+v, %v, %v", got, applied, err)
		}
		return got
	}
	f := finish(alice, "p1")
	var raw bson.M
	if err := db.Collection(store.Collection).FindOne(ctx, bson.D{}).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	if _, inline := raw["preview"]; inline {
		t.Fatalf("the file document holds the preview: %v", raw)
	}
	if got, err := s.Get(ctx, alice, f.ID); err != nil || !reflect.DeepEqual(got.Preview, preview) {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	if got, err := s.Rename(ctx, alice, f.ID, "renamed", t0); err != nil || got.FileName != "renamed" || !reflect.DeepEqual(got.Preview, preview) {
		t.Fatalf("Rename = %+v, %v", got, err)
	}
	if _, err := s.Get(ctx, bob, f.ID); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("bob's Get: %v", err)
	}
	if _, err := s.Rename(ctx, bob, f.ID, "bob's", t0); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("bob's Rename: %v", err)
	}
	if err := s.MarkOutcomePublished(ctx, bob, f.ID); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("bob's MarkOutcomePublished: %v", err)
	}
	if err := s.Delete(ctx, bob, f.ID); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("bob's Delete: %v", err)
	}
	if _, _, err := s.FinishProcessing(ctx, bob, f.ID, ready, t0); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("bob's FinishProcessing: %v", err)
	}
	if got, err := s.Get(ctx, alice, f.ID); err != nil || got.FileName != "renamed" || got.Processing.OutcomePublished || !reflect.DeepEqual(got.Preview, preview) {
		t.Fatalf("alice's file after bob's attempts: %+v, %v", got, err)
	}
	if n := countPreviews(bob); n != 0 {
		t.Fatalf("bob owns %d previews", n)
	}
	if err := s.Delete(ctx, alice, f.ID); err != nil {
		t.Fatal(err)
	}
	if n := countPreviews(alice); n != 0 {
		t.Fatalf("%d previews left after Delete", n)
	}

	// An outcome with a preview for a file that failed already is not
	// applied, and its preview does not stay.
	g := insert(t, s, ctx, alice, "p2", "p2", "text/csv", 1, t0)
	if _, applied, err := s.FinishProcessing(ctx, alice, g.ID, files.Outcome{Status: files.StatusFailed, Error: "gave up"}, t0); err != nil || !applied {
		t.Fatal(applied, err)
	}
	if got, applied, err := s.FinishProcessing(ctx, alice, g.ID, ready, t0); err != nil || applied || got.Status != files.StatusFailed || got.Preview != nil {
		t.Fatalf("late ready outcome = %+v, %v, %v", got, applied, err)
	}
	if n := countPreviews(alice); n != 0 {
		t.Fatalf("%d previews left by an outcome not applied", n)
	}

	finish(alice, "p3")
	finish(bob, "p4")
	if _, err := s.DeleteOwner(ctx, alice); err != nil {
		t.Fatal(err)
	}
	if a, b := countPreviews(alice), countPreviews(bob); a != 0 || b != 1 {
		t.Fatalf("previews after erasing alice: alice %d, bob %d", a, b)
	}
}

// A file written before previews moved apart still shows its inline
// preview.
func TestInlinePreviewStillRead(t *testing.T) {
	s, db, ctx := newStoreDB(t)
	oid := bson.NewObjectID()
	_, err := db.Collection(store.Collection).InsertOne(ctx, bson.D{
		{Key: "_id", Value: oid}, {Key: "owner_id", Value: alice}, {Key: "file_path", Value: "old"}, {Key: "file_name", Value: "old"},
		{Key: "status", Value: "ready"}, {Key: "created_at", Value: t0},
		{Key: "preview", Value: bson.D{{Key: "columns", Value: bson.A{"a"}}, {Key: "has_header", Value: true},
			{Key: "rows", Value: bson.A{bson.D{{Key: "cells", Value: bson.A{"1"}}}}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := &files.Preview{Columns: []string{"a"}, HasHeader: true, Rows: [][]string{{"1"}}}
	if got, err := s.Get(ctx, alice, oid.Hex()); err != nil || !reflect.DeepEqual(got.Preview, want) {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	if _, err := s.Get(ctx, bob, oid.Hex()); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("bob's Get: %v", err)
	}
}
