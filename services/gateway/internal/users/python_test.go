package users_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/gateway/internal/users"
)

// pythonUsers gives the users collection the Python service's indexes, as
// Beanie makes them from Indexed(unique=True): plain unique indexes on
// clerk_id, primary_email and username, none of them sparse or partial.
func pythonUsers(t *testing.T, db *mongo.Database) {
	t.Helper()
	for _, field := range []string{"clerk_id", "primary_email", "username"} {
		_, err := db.Collection(users.Collection).Indexes().CreateOne(testCtx(t), mongo.IndexModel{
			Keys: bson.D{{Key: field, Value: 1}}, Options: options.Index().SetUnique(true),
		})
		if err != nil {
			t.Fatalf("index %s: %v", field, err)
		}
	}
}

// Under the Python service's unique indexes, users created on their first
// request and Clerk users without a username or an email are stored with
// both fields set and distinct, which MongoDB's unique indexes need (they
// index a missing field as null, so only one user may lack it), and are
// shown without them.
func TestUsersWithoutUsernameOrEmailUnderPythonIndexes(t *testing.T) {
	db := testkit.Mongo(t)
	ctx := testCtx(t)
	pythonUsers(t, db)
	s := newService(t, db, users.Options{})

	first, err := s.Resolve(ctx, "user_first")
	if err != nil {
		t.Fatalf("first lazy user: %v", err)
	}
	second, err := s.Resolve(ctx, "user_second")
	if err != nil || second.UserID == first.UserID {
		t.Fatalf("second lazy user: %+v, %v", second, err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	for _, p := range []users.Profile{
		{ClerkID: "user_nameless_1", PrimaryEmail: "user_nameless_1@example.com", Emails: []string{"user_nameless_1@example.com"}},
		{ClerkID: "user_nameless_2", PrimaryEmail: "user_nameless_2@example.com", Emails: []string{"user_nameless_2@example.com"}},
		{ClerkID: "user_phone_1", Username: "phone_1"},
		{ClerkID: "user_phone_2", Username: "phone_2"},
	} {
		p.CreatedAt, p.UpdatedAt = now, now
		if r, err := s.ApplyProfile(ctx, p); err != nil || !r.Applied {
			t.Fatalf("webhook user %s without a username or an email: %+v, %v", p.ClerkID, r, err)
		}
	}
	// What MongoDB's unique index needs: no user lacks either field.
	for _, field := range []string{"primary_email", "username"} {
		if n := countUsers(t, db, bson.D{{Key: field, Value: nil}}); n != 0 {
			t.Errorf("%d users without %s", n, field)
		}
		if n := countUsers(t, db, bson.D{{Key: field, Value: ""}}); n != 0 {
			t.Errorf("%d users with an empty %s", n, field)
		}
	}

	got, err := s.Get(ctx, first.UserID)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(got)
	if got.Username != "" || got.PrimaryEmail != "" || strings.Contains(string(raw), "clerk:") {
		t.Fatalf("a lazy user shows its stand-ins: %s", raw)
	}
	nameless, err := s.Get(ctx, getByClerk(t, s, "user_nameless_1").UserID)
	if err != nil || nameless.Username != "" || nameless.PrimaryEmail != "user_nameless_1@example.com" {
		t.Fatalf("user without a username = %+v, %v", nameless, err)
	}
	// The first webhook gives the lazy user its real fields.
	r, err := s.ApplyProfile(ctx, users.Profile{ClerkID: "user_first", Username: "ada", PrimaryEmail: "ada@example.com", CreatedAt: now, UpdatedAt: now})
	if err != nil || !r.Applied || r.User.Username != "ada" || r.User.PrimaryEmail != "ada@example.com" || r.User.ID != first.UserID {
		t.Fatalf("webhook over the lazy user: %+v, %v", r, err)
	}
}

// A user the Python service wrote (updated_at null, as its TimeMixin
// leaves it until an update) reads as it is: no year-1 time, and the
// JSON leaves updated_at out, as API.md does with null fields.
func TestPythonUserDocument(t *testing.T) {
	db := testkit.Mongo(t)
	ctx := testCtx(t)
	pythonUsers(t, db)
	s := newService(t, db, users.Options{})
	created := time.Date(2025, 9, 6, 12, 23, 56, 0, time.UTC)
	oid := bson.NewObjectID()
	if _, err := db.Collection(users.Collection).InsertOne(ctx, bson.D{
		{Key: "_id", Value: oid}, {Key: "clerk_id", Value: "user_py"},
		{Key: "emails", Value: bson.A{"py@example.com"}}, {Key: "primary_email", Value: "py@example.com"},
		{Key: "username", Value: "pyuser"}, {Key: "first_name", Value: "Py"}, {Key: "last_name", Value: "Thon"},
		{Key: "has_image", Value: false}, {Key: "profile_image", Value: "https://img.example.com/py.png"},
		{Key: "banned", Value: false}, {Key: "is_oauth", Value: false}, {Key: "oauth_providers", Value: nil},
		{Key: "minio_secret_key", Value: nil},
		{Key: "created_at", Value: created}, {Key: "updated_at", Value: nil},
	}); err != nil {
		t.Fatal(err)
	}
	id, err := s.Resolve(ctx, "user_py")
	if err != nil || id.UserID != oid.Hex() {
		t.Fatalf("resolve the Python user: %+v, %v", id, err)
	}
	got, err := s.Get(ctx, id.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Username != "pyuser" || got.PrimaryEmail != "py@example.com" || !got.CreatedAt.Equal(created) || !got.UpdatedAt.IsZero() {
		t.Fatalf("Python user = %+v", got)
	}
	raw, _ := json.Marshal(got)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	if _, ok := m["updated_at"]; ok || strings.Contains(string(raw), "0001-01-01") || m["created_at"] != "2025-09-06T12:23:56Z" {
		t.Fatalf("Python user as JSON: %s", raw)
	}
}
