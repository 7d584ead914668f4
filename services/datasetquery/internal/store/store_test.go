package store_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/datasetquery/internal/datasets"
	"github.com/nonefinity/backend/services/datasetquery/internal/store"
)

const (
	alice = "65f2a1b3c4d5e6f708192a3b"
	bob   = "65f2a1b3c4d5e6f708192a3c"
)

var t0 = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)

func newStore(t *testing.T) (*store.Store, *mongo.Database, context.Context) {
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

func columns(names ...string) []datasets.Column {
	out := make([]datasets.Column, len(names))
	for i, n := range names {
		out[i] = datasets.Column{Name: n, Type: "INTEGER"}
	}
	return out
}

// countSchemas counts the owner's records in store.SchemasCollection.
func countSchemas(t *testing.T, ctx context.Context, db *mongo.Database, owner string) int64 {
	t.Helper()
	n, err := db.Collection(store.SchemasCollection).CountDocuments(ctx, bson.D{{Key: "owner_id", Value: owner}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// storedInline says whether the (first) dataset document holds its
// columns itself.
func storedInline(t *testing.T, ctx context.Context, db *mongo.Database) bool {
	t.Helper()
	var raw bson.M
	if err := db.Collection(store.Collection).FindOne(ctx, bson.D{}).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	_, inline := raw["data_schema"]
	return inline
}

// A dataset's columns are kept apart from it (store.SchemasCollection) and
// only its owner reaches them: every read carries them, another user's
// Get, Update, Delete, AppendPart and AddAttempt fail and change nothing,
// the owner's Update replaces them, Delete and erasure remove them, and an
// insert refused for its name leaves none behind.
func TestSchemaKeptApart(t *testing.T) {
	s, db, ctx := newStore(t)
	processing := datasets.StatusProcessing
	d, err := s.Insert(ctx, datasets.Dataset{OwnerID: alice, Name: "sales", Schema: columns("a", "b"), Status: processing,
		Parts: []datasets.Part{{Key: "p0", Size: 1}}, CreatedAt: t0, UpdatedAt: t0})
	if err != nil || d.ID == "" || !reflect.DeepEqual(d.Schema, columns("a", "b")) {
		t.Fatalf("Insert = %+v, %v", d, err)
	}
	if storedInline(t, ctx, db) {
		t.Fatal("the dataset document holds the columns")
	}
	reads := map[string]func() (datasets.Dataset, error){
		"Get":       func() (datasets.Dataset, error) { return s.Get(ctx, alice, d.ID) },
		"GetByName": func() (datasets.Dataset, error) { return s.GetByName(ctx, alice, "sales") },
		"List": func() (datasets.Dataset, error) {
			ds, total, err := s.List(ctx, alice, 0, 10)
			if err != nil || total != 1 || len(ds) != 1 {
				return datasets.Dataset{}, errors.Join(err, errors.New("not one dataset"))
			}
			return ds[0], nil
		},
	}
	for name, read := range reads {
		if got, err := read(); err != nil || got.ID != d.ID || !reflect.DeepEqual(got.Schema, columns("a", "b")) {
			t.Errorf("%s = %+v, %v", name, got, err)
		}
	}

	// Bob's attempts on alice's dataset.
	other := "bob's"
	if _, err := s.Get(ctx, bob, d.ID); !errors.Is(err, datasets.ErrNotFound) {
		t.Errorf("bob's Get: %v", err)
	}
	if _, err := s.Update(ctx, bob, d.ID, datasets.Changes{Name: &other, Schema: columns("x")}); !errors.Is(err, datasets.ErrNotFound) {
		t.Errorf("bob's Update: %v", err)
	}
	if _, err := s.AppendPart(ctx, bob, d.ID, 1, datasets.Part{Key: "k"}, 5); !errors.Is(err, datasets.ErrNotFound) {
		t.Errorf("bob's AppendPart: %v", err)
	}
	if _, err := s.AddAttempt(ctx, bob, d.ID); !errors.Is(err, datasets.ErrNotFound) {
		t.Errorf("bob's AddAttempt: %v", err)
	}
	if _, err := s.Delete(ctx, bob, d.ID); !errors.Is(err, datasets.ErrNotFound) {
		t.Errorf("bob's Delete: %v", err)
	}
	if got, err := s.Get(ctx, alice, d.ID); err != nil || got.Name != "sales" || got.RowCount != 0 || len(got.Parts) != 1 ||
		!reflect.DeepEqual(got.Schema, columns("a", "b")) {
		t.Fatalf("alice's dataset after bob's attempts: %+v, %v", got, err)
	}
	if n := countSchemas(t, ctx, db, bob); n != 0 {
		t.Fatalf("bob owns %d schema records", n)
	}

	// The owner's changes.
	if n, err := s.AddAttempt(ctx, alice, d.ID); err != nil || n != 1 {
		t.Fatalf("AddAttempt = %d, %v", n, err)
	}
	got, err := s.AppendPart(ctx, alice, d.ID, 1, datasets.Part{Key: "k", Size: 1}, 5)
	if err != nil || got.RowCount != 5 || !reflect.DeepEqual(got.Schema, columns("a", "b")) {
		t.Fatalf("AppendPart = %+v, %v", got, err)
	}
	if _, err := s.AppendPart(ctx, alice, d.ID, 1, datasets.Part{Key: "k2"}, 5); !errors.Is(err, datasets.ErrConcurrentChange) {
		t.Fatalf("AppendPart on a stale count: %v", err)
	}
	renamed := "sales2"
	got, err = s.Update(ctx, alice, d.ID, datasets.Changes{Name: &renamed})
	if err != nil || got.Name != renamed || !reflect.DeepEqual(got.Schema, columns("a", "b")) {
		t.Fatalf("Update name = %+v, %v", got, err)
	}
	got, err = s.Update(ctx, alice, d.ID, datasets.Changes{Schema: columns("c")})
	if err != nil || !reflect.DeepEqual(got.Schema, columns("c")) {
		t.Fatalf("Update schema = %+v, %v", got, err)
	}
	if got, err := s.Get(ctx, alice, d.ID); err != nil || !reflect.DeepEqual(got.Schema, columns("c")) {
		t.Fatalf("Get after the schema changed = %+v, %v", got, err)
	}
	if n := countSchemas(t, ctx, db, alice); n != 1 {
		t.Fatalf("alice has %d schema records, want 1", n)
	}

	// A taken name: refused, and no record stays.
	if _, err := s.Insert(ctx, datasets.Dataset{OwnerID: alice, Name: renamed, Schema: columns("z"), CreatedAt: t0}); !errors.Is(err, datasets.ErrDuplicateName) {
		t.Fatalf("Insert of a taken name: %v", err)
	}
	if n := countSchemas(t, ctx, db, alice); n != 1 {
		t.Fatalf("alice has %d schema records after a refused insert, want 1", n)
	}

	gone, err := s.Delete(ctx, alice, d.ID)
	if err != nil || gone.ID != d.ID || !reflect.DeepEqual(gone.Schema, columns("c")) {
		t.Fatalf("Delete = %+v, %v", gone, err)
	}
	if n := countSchemas(t, ctx, db, alice); n != 0 {
		t.Fatalf("%d schema records left after Delete", n)
	}

	for _, owner := range []string{alice, alice, bob} {
		if _, err := s.Insert(ctx, datasets.Dataset{OwnerID: owner, Name: bson.NewObjectID().Hex(), Schema: columns("a"), CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.DeleteOwner(ctx, alice); err != nil || n != 2 {
		t.Fatalf("DeleteOwner = %d, %v", n, err)
	}
	if a, b := countSchemas(t, ctx, db, alice), countSchemas(t, ctx, db, bob); a != 0 || b != 1 {
		t.Fatalf("schema records after erasing alice: alice %d, bob %d", a, b)
	}
}

// A dataset written with its columns inline (the Python service's, and
// this one's before SchemasCollection) still shows them, and a schema
// change moves them apart.
func TestInlineSchemaStillRead(t *testing.T) {
	s, db, ctx := newStore(t)
	oid := bson.NewObjectID()
	_, err := db.Collection(store.Collection).InsertOne(ctx, bson.D{
		{Key: "_id", Value: oid}, {Key: "owner_id", Value: alice}, {Key: "name", Value: "old"}, {Key: "created_at", Value: t0},
		{Key: "data_schema", Value: bson.A{bson.D{{Key: "column_name", Value: "a"}, {Key: "column_type", Value: "INTEGER"}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, alice, oid.Hex()); err != nil || !reflect.DeepEqual(got.Schema, columns("a")) || got.Status != datasets.StatusReady {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	if ds, _, err := s.List(ctx, alice, 0, 10); err != nil || len(ds) != 1 || !reflect.DeepEqual(ds[0].Schema, columns("a")) {
		t.Fatalf("List = %+v, %v", ds, err)
	}
	if _, err := s.Get(ctx, bob, oid.Hex()); !errors.Is(err, datasets.ErrNotFound) {
		t.Fatalf("bob's Get: %v", err)
	}
	if got, err := s.Update(ctx, alice, oid.Hex(), datasets.Changes{Schema: columns("b")}); err != nil || !reflect.DeepEqual(got.Schema, columns("b")) {
		t.Fatalf("Update = %+v, %v", got, err)
	}
	if storedInline(t, ctx, db) {
		t.Fatal("the columns stayed inline after a schema change")
	}
}
