package users_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/gateway/internal/users"
)

const waitLong = 30 * time.Second

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	t.Cleanup(cancel)
	return ctx
}

func newService(t *testing.T, db *mongo.Database, o users.Options) *users.Service {
	t.Helper()
	o.DB = db
	s := users.New(o)
	if err := s.EnsureIndexes(testCtx(t)); err != nil {
		t.Fatalf("ensure indexes: %v", err)
	}
	return s
}

// ownClient connects a client of the test's own to the database db names, so
// the test can disconnect it without touching the shared testkit client.
func ownClient(t *testing.T, db *mongo.Database) *mongo.Database {
	t.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI(testkit.MongoURI(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c.Database(db.Name())
}

func countUsers(t *testing.T, db *mongo.Database, filter bson.D) int64 {
	t.Helper()
	n, err := db.Collection(users.Collection).CountDocuments(testCtx(t), filter)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Twenty first requests of the same new user, each through its own Service
// (no shared cache), must leave exactly one document and agree on its id.
func TestResolveCreatesOneDocumentUnderConcurrency(t *testing.T) {
	db := testkit.Mongo(t)
	ctx := testCtx(t)
	newService(t, db, users.Options{})

	const n = 20
	ids := make([]users.Identity, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		s := users.New(users.Options{DB: db})
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ids[i], errs[i] = s.Resolve(ctx, "user_race")
		}()
	}
	close(start)
	wg.Wait()

	for i, err := range errs {
		if err != nil {
			t.Fatalf("resolve %d: %v", i, err)
		}
		if ids[i].UserID == "" || ids[i].UserID != ids[0].UserID || ids[i].ClerkID != "user_race" || ids[i].Banned {
			t.Fatalf("resolve %d = %+v, resolve 0 = %+v", i, ids[i], ids[0])
		}
	}
	if got := countUsers(t, db, bson.D{{Key: "clerk_id", Value: "user_race"}}); got != 1 {
		t.Fatalf("%d documents for user_race, want 1", got)
	}

	// The minimal document has the original's shape, with lists not nulls.
	var doc bson.M
	if err := db.Collection(users.Collection).FindOne(ctx, bson.D{{Key: "clerk_id", Value: "user_race"}}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc["_id"].(bson.ObjectID).Hex() != ids[0].UserID {
		t.Fatalf("_id %v, resolved %s", doc["_id"], ids[0].UserID)
	}
	for _, f := range []string{"emails", "oauth_providers"} {
		if a, ok := doc[f].(bson.A); !ok || len(a) != 0 {
			t.Errorf("%s = %#v, want an empty array", f, doc[f])
		}
	}
	for _, f := range []string{"created_at", "updated_at"} {
		if _, ok := doc[f].(bson.DateTime); !ok {
			t.Errorf("%s = %#v, want a date", f, doc[f])
		}
	}
}

// After the first call, the identity comes from the in-process cache: the
// MongoDB client is gone and the second call still answers. A user that is
// not cached meets the dead client and gets a 503, not a 500.
func TestResolveCacheHitDoesNotTouchMongo(t *testing.T) {
	db := ownClient(t, testkit.Mongo(t))
	ctx := testCtx(t)
	s := newService(t, db, users.Options{})

	first, err := s.Resolve(ctx, "user_cached")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Client().Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	again, err := s.Resolve(ctx, "user_cached")
	if err != nil {
		t.Fatalf("cached resolve after disconnect: %v", err)
	}
	if again != first {
		t.Fatalf("cached %+v, first %+v", again, first)
	}

	_, err = s.Resolve(ctx, "user_uncached")
	re, ok := rpcerr.As(err)
	if !ok || re.HTTPStatus() != 503 {
		t.Fatalf("resolve with mongodb gone: %v, want an rpcerr with status 503", err)
	}
}

func TestResolveCacheExpiresAfterLocalTTL(t *testing.T) {
	db := testkit.Mongo(t)
	ctx := testCtx(t)
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newService(t, db, users.Options{LocalTTL: time.Minute, Now: func() time.Time { return now }})

	if _, err := s.Resolve(ctx, "user_ttl"); err != nil {
		t.Fatal(err)
	}
	setBanned(t, db, "user_ttl", true)
	if id, _ := s.Resolve(ctx, "user_ttl"); id.Banned {
		t.Fatal("a cached identity was re-read before its TTL")
	}
	now = now.Add(time.Minute)
	id, err := s.Resolve(ctx, "user_ttl")
	if err != nil || !id.Banned {
		t.Fatalf("after the TTL: %+v, %v; want the stored ban", id, err)
	}
}

func setBanned(t *testing.T, db *mongo.Database, clerkID string, banned bool) {
	t.Helper()
	_, err := db.Collection(users.Collection).UpdateOne(testCtx(t),
		bson.D{{Key: "clerk_id", Value: clerkID}}, bson.D{{Key: "$set", Value: bson.D{{Key: "banned", Value: banned}}}})
	if err != nil {
		t.Fatal(err)
	}
}

func TestResolveBannedUser(t *testing.T) {
	db := testkit.Mongo(t)
	ctx := testCtx(t)
	s := newService(t, db, users.Options{})
	res, err := db.Collection(users.Collection).InsertOne(ctx, bson.D{
		{Key: "clerk_id", Value: "user_banned"}, {Key: "banned", Value: true},
		{Key: "emails", Value: bson.A{"b@example.com"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	id, err := s.Resolve(ctx, "user_banned")
	if err != nil {
		t.Fatal(err)
	}
	if !id.Banned || id.UserID != res.InsertedID.(bson.ObjectID).Hex() {
		t.Fatalf("identity %+v, want banned with id %v", id, res.InsertedID)
	}
	if got := countUsers(t, db, bson.D{{Key: "clerk_id", Value: "user_banned"}}); got != 1 {
		t.Fatalf("%d documents, want the existing one only", got)
	}
}

func TestResolveRejectsEmptySubject(t *testing.T) {
	s := newService(t, testkit.Mongo(t), users.Options{})
	_, err := s.Resolve(testCtx(t), " ")
	if re, ok := rpcerr.As(err); !ok || re.Code != rpcerr.Unauthorized {
		t.Fatalf("empty subject: %v, want unauthorized", err)
	}
}

// Instance B never talks to MongoDB (its client is closed) and still
// resolves the user instance A cached in Redis.
func TestRedisCacheIsSharedBetweenInstances(t *testing.T) {
	rk := testkit.Redis(t)
	mdb := testkit.Mongo(t)
	ctx := testCtx(t)
	a := newService(t, mdb, users.Options{Redis: rk.Client, RedisPrefix: rk.Prefix})
	bdb := ownClient(t, mdb)
	b := users.New(users.Options{DB: bdb, Redis: rk.Client, RedisPrefix: rk.Prefix})
	if err := bdb.Client().Disconnect(ctx); err != nil {
		t.Fatal(err)
	}

	fromA, err := a.Resolve(ctx, "user_shared")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := rk.Client.Exists(ctx, rk.Key("user", "clerk", "user_shared")).Result(); err != nil || n != 1 {
		t.Fatalf("redis key under the test prefix: exists=%d err=%v", n, err)
	}
	fromB, err := b.Resolve(ctx, "user_shared")
	if err != nil {
		t.Fatalf("instance B: %v", err)
	}
	if fromB != fromA {
		t.Fatalf("B resolved %+v, A %+v", fromB, fromA)
	}
}

// Invalidate drops the entry in this process and in Redis: another
// instance that has nothing in process reads the ban from MongoDB instead
// of the stale shared entry.
func TestInvalidateDropsLocalAndRedisEntries(t *testing.T) {
	rk := testkit.Redis(t)
	db := testkit.Mongo(t)
	ctx := testCtx(t)
	a := newService(t, db, users.Options{Redis: rk.Client, RedisPrefix: rk.Prefix})
	if _, err := a.Resolve(ctx, "user_inv"); err != nil {
		t.Fatal(err)
	}
	setBanned(t, db, "user_inv", true)
	if id, _ := a.Resolve(ctx, "user_inv"); id.Banned {
		t.Fatal("expected the cached (unbanned) identity before invalidation")
	}
	if err := a.Invalidate(ctx, "user_inv"); err != nil {
		t.Fatal(err)
	}
	if n, _ := rk.Client.Exists(ctx, rk.Key("user", "clerk", "user_inv")).Result(); n != 0 {
		t.Fatal("redis entry survived Invalidate")
	}
	b := users.New(users.Options{DB: db, Redis: rk.Client, RedisPrefix: rk.Prefix})
	for name, s := range map[string]*users.Service{"A": a, "B": b} {
		id, err := s.Resolve(ctx, "user_inv")
		if err != nil || !id.Banned {
			t.Fatalf("instance %s after invalidation: %+v, %v; want banned", name, id, err)
		}
	}
}

func TestApplyProfileKeepsTheNewestVersion(t *testing.T) {
	db := testkit.Mongo(t)
	ctx := testCtx(t)
	s := newService(t, db, users.Options{})
	created := time.UnixMilli(1_700_000_000_000).UTC()
	profile := func(name string, updated time.Time) users.Profile {
		return users.Profile{
			ClerkID: "user_order", Emails: []string{"a@example.com"}, PrimaryEmail: "a@example.com",
			FirstName: name, OAuthProviders: []string{"oauth_google"}, CreatedAt: created, UpdatedAt: updated,
		}
	}

	r, err := s.ApplyProfile(ctx, profile("v2", created.Add(2*time.Second)))
	if err != nil || !r.Applied {
		t.Fatalf("first apply: %+v, %v", r, err)
	}
	if r.User.FirstName != "v2" || !r.User.IsOAuth || r.User.ID == "" || !r.User.CreatedAt.Equal(created) {
		t.Fatalf("stored %+v", r.User)
	}
	r, err = s.ApplyProfile(ctx, profile("v1", created.Add(time.Second)))
	if err != nil || r.Applied || r.Repeated {
		t.Fatalf("older apply: %+v, %v; want not applied", r, err)
	}
	r, err = s.ApplyProfile(ctx, profile("v2-again", created.Add(2*time.Second)))
	if err != nil || r.Applied {
		t.Fatalf("same-version apply: %+v, %v; want not applied", r, err)
	}
	if !r.Repeated || r.User.FirstName != "v2" {
		t.Fatalf("same-version apply: %+v; want repeated with the stored v2", r)
	}
	got, err := s.Get(ctx, getByClerk(t, s, "user_order").UserID)
	if err != nil {
		t.Fatal(err)
	}
	if got.FirstName != "v2" {
		t.Fatalf("first_name %q after an older update, want v2", got.FirstName)
	}
	r, err = s.ApplyProfile(ctx, profile("v3", created.Add(3*time.Second)))
	if err != nil || !r.Applied || r.User.FirstName != "v3" {
		t.Fatalf("newer apply: %+v, %v", r, err)
	}
	if n := countUsers(t, db, bson.D{{Key: "clerk_id", Value: "user_order"}}); n != 1 {
		t.Fatalf("%d documents, want 1", n)
	}
}

// A document created from a session token carries our clock in updated_at;
// Clerk's first event must replace it even though Clerk's time is older. A
// document of the original service without updated_at is replaced too.
func TestApplyProfileOverwritesProvisionalAndUndatedDocuments(t *testing.T) {
	db := testkit.Mongo(t)
	ctx := testCtx(t)
	s := newService(t, db, users.Options{})
	id, err := s.Resolve(ctx, "user_early")
	if err != nil {
		t.Fatal(err)
	}
	clerkTime := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	r, err := s.ApplyProfile(ctx, users.Profile{ClerkID: "user_early", FirstName: "Ada", CreatedAt: clerkTime, UpdatedAt: clerkTime})
	if err != nil || !r.Applied {
		t.Fatalf("apply over provisional: %+v, %v", r, err)
	}
	if r.User.ID != id.UserID || r.User.FirstName != "Ada" || !r.User.UpdatedAt.Equal(clerkTime) {
		t.Fatalf("stored %+v, want id %s and Clerk's times", r.User, id.UserID)
	}
	if n := countUsers(t, db, bson.D{{Key: "provisional", Value: true}}); n != 0 {
		t.Fatal("the provisional mark survived the webhook")
	}
	// Now a real document: an older event is refused again.
	if r, _ := s.ApplyProfile(ctx, users.Profile{ClerkID: "user_early", FirstName: "old", UpdatedAt: clerkTime.Add(-time.Second)}); r.Applied {
		t.Fatal("an older event applied over a webhook-written document")
	}

	if _, err := db.Collection(users.Collection).InsertOne(ctx, bson.D{
		{Key: "clerk_id", Value: "user_legacy"}, {Key: "updated_at", Value: nil}, {Key: "first_name", Value: "Old"},
	}); err != nil {
		t.Fatal(err)
	}
	r, err = s.ApplyProfile(ctx, users.Profile{ClerkID: "user_legacy", FirstName: "New", CreatedAt: clerkTime, UpdatedAt: clerkTime})
	if err != nil || !r.Applied || r.User.FirstName != "New" {
		t.Fatalf("apply over a document without updated_at: %+v, %v", r, err)
	}
}

func getByClerk(t *testing.T, s *users.Service, clerkID string) users.Identity {
	t.Helper()
	id, err := s.Lookup(testCtx(t), clerkID)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestGet(t *testing.T) {
	db := testkit.Mongo(t)
	ctx := testCtx(t)
	s := newService(t, db, users.Options{})
	at := time.UnixMilli(1_700_000_000_123).UTC()
	r, err := s.ApplyProfile(ctx, users.Profile{
		ClerkID: "user_get", Emails: []string{"p@example.com", "q@example.com"}, PrimaryEmail: "p@example.com",
		Username: "pq", FirstName: "P", LastName: "Q", HasImage: true, ProfileImage: "https://img.example/p.png",
		OAuthProviders: []string{"oauth_github"}, CreatedAt: at, UpdatedAt: at,
	})
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.Get(ctx, r.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	if u.ClerkID != "user_get" || u.PrimaryEmail != "p@example.com" || len(u.Emails) != 2 || u.Username != "pq" ||
		!u.HasImage || u.ProfileImage != "https://img.example/p.png" || !u.IsOAuth || u.OAuthProviders[0] != "oauth_github" ||
		!u.CreatedAt.Equal(at) || u.CreatedAt.Location() != time.UTC {
		t.Fatalf("got %+v", u)
	}

	for _, id := range []string{"not-an-id", bson.NewObjectID().Hex()} {
		_, err := s.Get(ctx, id)
		re, ok := rpcerr.As(err)
		if !errors.Is(err, users.ErrNotFound) || !ok || re.HTTPStatus() != 404 {
			t.Errorf("Get(%q): %v, want ErrNotFound (404)", id, err)
		}
	}
}

func TestDelete(t *testing.T) {
	db := testkit.Mongo(t)
	ctx := testCtx(t)
	s := newService(t, db, users.Options{})
	first, err := s.Resolve(ctx, "user_del")
	if err != nil {
		t.Fatal(err)
	}
	deleted, err := s.Delete(ctx, "user_del")
	if err != nil || !deleted {
		t.Fatalf("delete: %v, %v", deleted, err)
	}
	if _, err := s.Lookup(ctx, "user_del"); !errors.Is(err, users.ErrNotFound) {
		t.Fatalf("lookup after delete: %v", err)
	}
	// The cache was dropped: resolving again makes a new document.
	again, err := s.Resolve(ctx, "user_del")
	if err != nil || again.UserID == first.UserID {
		t.Fatalf("resolve after delete: %+v, %v; want a new id", again, err)
	}
	if deleted, err := s.Delete(ctx, "user_never"); err != nil || deleted {
		t.Fatalf("delete unknown: %v, %v", deleted, err)
	}
}
