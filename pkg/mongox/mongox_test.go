package mongox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nonefinity/backend/pkg/mongox"
	"github.com/nonefinity/backend/pkg/testkit"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// closedPortAddr returns a loopback address nothing listens on.
func closedPortAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func TestConnectPingsAndUsesTheNamedDatabase(t *testing.T) {
	ctx := testCtx(t)
	private := testkit.Mongo(t) // reserves a database name and drops it afterwards
	var logs bytes.Buffer
	client, db, err := mongox.Connect(ctx, testkit.MongoURI(t), private.Name(), mongox.ConnectOptions{
		AppName: "mongox-test",
		Logger:  slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })

	if db.Name() != private.Name() {
		t.Fatalf("database = %q, want %q", db.Name(), private.Name())
	}
	if _, err := db.Collection("things").InsertOne(ctx, bson.D{{Key: "n", Value: 7}}); err != nil {
		t.Fatalf("insert through Connect's client: %v", err)
	}
	var got struct{ N int }
	if err := private.Collection("things").FindOne(ctx, bson.D{}).Decode(&got); err != nil {
		t.Fatalf("read back through testkit's client: %v", err)
	}
	if got.N != 7 {
		t.Fatalf("n = %d, want 7", got.N)
	}
	if !strings.Contains(logs.String(), "mongodb connected") {
		t.Fatalf("no connect log line: %q", logs.String())
	}
}

func TestConnectToClosedPortFailsUnavailableWithoutPassword(t *testing.T) {
	ctx := testCtx(t)
	const password = "s3cr3t-P@ss:word"
	uri := "mongodb://alice:" + strings.NewReplacer("@", "%40", ":", "%3A").Replace(password) +
		"@" + closedPortAddr(t) + "/?authSource=admin&tlsCertificateKeyFilePassword=filepass123"
	var logs bytes.Buffer
	client, db, err := mongox.Connect(ctx, uri, "app", mongox.ConnectOptions{
		Timeout: 300 * time.Millisecond,
		Logger:  slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err == nil {
		t.Fatal("Connect to a closed port succeeded")
	}
	if client != nil || db != nil {
		t.Fatal("Connect returned a client together with an error")
	}
	if !mongox.IsUnavailable(err) {
		t.Fatalf("IsUnavailable(%v) = false", err)
	}
	msg := err.Error()
	for _, secret := range []string{password, "s3cr3t-P%40ss%3Aword", "s3cr3t", "filepass123"} {
		if strings.Contains(msg, secret) || strings.Contains(logs.String(), secret) {
			t.Fatalf("error or log contains secret %q: %s", secret, msg)
		}
	}
	if !strings.Contains(msg, "alice:xxxxx@") {
		t.Fatalf("error does not name the server with a redacted password: %s", msg)
	}
	errDown := errors.New("database unavailable")
	if mapped := (mongox.CoreErrors{Unavailable: errDown}).Map(err); !errors.Is(mapped, errDown) {
		t.Fatalf("CoreErrors.Map = %v, want unavailable", mapped)
	}
}

func TestConnectRejectsMalformedURIWithoutPassword(t *testing.T) {
	_, _, err := mongox.Connect(testCtx(t), "mongodb://bob:hunter2secret@127.0.0.1:1/?connectTimeoutMS=notanumber", "app",
		mongox.ConnectOptions{Timeout: 200 * time.Millisecond})
	if err == nil {
		t.Fatal("Connect accepted a malformed URI")
	}
	if strings.Contains(err.Error(), "hunter2secret") {
		t.Fatalf("error contains the password: %v", err)
	}
}

func TestEnsureIndexesIsIdempotentAndEnforcesUnique(t *testing.T) {
	ctx := testCtx(t)
	db := testkit.Mongo(t)
	idx := []mongox.Index{
		{Collection: "users", Keys: bson.D{{Key: "email", Value: 1}}, Name: "email_unique", Unique: true},
		{Collection: "users", Keys: bson.D{{Key: "org", Value: 1}, {Key: "created_at", Value: -1}}},
	}
	for i := range 2 {
		rep, err := mongox.EnsureIndexes(ctx, db, idx, nil)
		if err != nil {
			t.Fatalf("EnsureIndexes run %d: %v", i+1, err)
		}
		if rep.NeedsSweep() {
			t.Fatalf("run %d reported TTL fallback without TTL indexes: %+v", i+1, rep)
		}
	}

	specs, err := db.Collection("users").Indexes().ListSpecifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]mongo.IndexSpecification{}
	for _, s := range specs {
		byName[s.Name] = s
	}
	if len(specs) != 3 { // _id_, email_unique, org_1_created_at_-1
		t.Fatalf("indexes = %v, want 3", names(specs))
	}
	if s, ok := byName["email_unique"]; !ok || s.Unique == nil || !*s.Unique {
		t.Fatalf("email_unique missing or not unique: %v", names(specs))
	}

	users := db.Collection("users")
	if _, err := users.InsertOne(ctx, bson.D{{Key: "email", Value: "a@example.com"}}); err != nil {
		t.Fatal(err)
	}
	_, err = users.InsertOne(ctx, bson.D{{Key: "email", Value: "a@example.com"}})
	if !mongox.IsDuplicateKey(err) {
		t.Fatalf("second insert: IsDuplicateKey(%v) = false", err)
	}
	errTaken := errors.New("email taken")
	mapped := mongox.CoreErrors{Duplicate: errTaken}.Map(err)
	if !errors.Is(mapped, errTaken) {
		t.Fatalf("CoreErrors.Map(duplicate) = %v, want a duplicate", mapped)
	}
	if !mongo.IsDuplicateKeyError(mapped) {
		t.Fatal("mapped error no longer wraps the driver error")
	}

	// An update that collides with the unique index is a duplicate too
	// (FerretDB reports it differently from an insert).
	if _, err := users.InsertOne(ctx, bson.D{{Key: "email", Value: "b@example.com"}}); err != nil {
		t.Fatal(err)
	}
	_, err = users.UpdateOne(ctx, bson.D{{Key: "email", Value: "b@example.com"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "email", Value: "a@example.com"}}}})
	if !mongox.IsDuplicateKey(err) {
		t.Fatalf("colliding update: IsDuplicateKey(%v) = false", err)
	}
}

func TestEnsureIndexesFallsBackWhenTTLIsRefused(t *testing.T) {
	ctx := testCtx(t)
	db := testkit.Mongo(t)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	idx := []mongox.Index{
		{Collection: "sessions", Keys: bson.D{{Key: "expires_at", Value: 1}}, Name: "sessions_ttl", ExpireAfter: time.Hour},
		{Collection: "uploads", Keys: bson.D{{Key: "created_at", Value: 1}}, Name: "uploads_ttl", ExpireAfter: 90 * time.Second},
		{Collection: "uploads", Keys: bson.D{{Key: "key", Value: 1}}, Name: "uploads_key", Unique: true},
	}
	for i := range 2 {
		logs.Reset()
		rep, err := mongox.EnsureIndexes(ctx, db, idx, log)
		if err != nil {
			t.Fatalf("EnsureIndexes run %d: %v", i+1, err)
		}
		// FerretDB v1.24.2 has no TTL indexes (measured), so both fall back.
		want := []string{"sessions.sessions_ttl", "uploads.uploads_ttl"}
		if !rep.NeedsSweep() || strings.Join(rep.TTLUnsupported, ",") != strings.Join(want, ",") {
			t.Fatalf("run %d report = %+v, want %v", i+1, rep, want)
		}
		if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
			t.Fatalf("run %d logged %d warnings, want exactly 1:\n%s", i+1, n, logs.String())
		}
		if !strings.Contains(logs.String(), "sweep") {
			t.Fatalf("warning does not tell the caller to sweep: %s", logs.String())
		}
	}

	specs, err := db.Collection("sessions").Indexes().ListSpecifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range specs {
		if s.Name == "sessions_ttl" {
			found = true
		}
	}
	if !found {
		t.Fatalf("plain fallback index not created: %v", names(specs))
	}
}

func TestEnsureIndexesReturnsOtherErrors(t *testing.T) {
	ctx := testCtx(t)
	db := testkit.Mongo(t)
	first := []mongox.Index{{Collection: "c", Keys: bson.D{{Key: "a", Value: 1}}, Name: "same_name"}}
	if _, err := mongox.EnsureIndexes(ctx, db, first, nil); err != nil {
		t.Fatal(err)
	}
	// Same name, different keys: the server must refuse, and so must we.
	clash := []mongox.Index{{Collection: "c", Keys: bson.D{{Key: "b", Value: 1}}, Name: "same_name"}}
	_, err := mongox.EnsureIndexes(ctx, db, clash, nil)
	if err == nil {
		t.Fatal("conflicting index definition accepted")
	}
	if !strings.Contains(err.Error(), "c.same_name") {
		t.Fatalf("error does not name the index: %v", err)
	}

	if _, err := mongox.EnsureIndexes(ctx, db, []mongox.Index{{Collection: "c"}}, nil); err == nil {
		t.Fatal("index without keys accepted")
	}
}

func TestMapError(t *testing.T) {
	ctx := testCtx(t)
	db := testkit.Mongo(t)

	err := db.Collection("empty").FindOne(ctx, bson.D{}).Err()
	errFileNotFound := errors.New("file not found")
	mapped := mongox.CoreErrors{NotFound: errFileNotFound}.Map(err)
	if !errors.Is(mapped, errFileNotFound) {
		t.Fatalf("CoreErrors.Map(ErrNoDocuments) = %v", mapped)
	}
	if !errors.Is(mapped, mongo.ErrNoDocuments) {
		t.Fatal("mapped not-found lost its cause")
	}
	withoutNotFound := mongox.CoreErrors{Unavailable: errors.New("down"), Duplicate: errors.New("taken")}
	if got := withoutNotFound.Map(err); got != err {
		t.Fatalf("Map(ErrNoDocuments) without NotFound = %v, want it unchanged", got)
	}

	other := errors.New("decode: boom")
	if got := withoutNotFound.Map(other); got != other {
		t.Fatalf("Map(other) = %v, want it unchanged", got)
	}
	already := fmt.Errorf("%w: %w", errFileNotFound, other)
	if got := withoutNotFound.Map(already); got != already {
		t.Fatalf("Map(a core's error) = %v, want it unchanged", got)
	}
	if withoutNotFound.Map(nil) != nil {
		t.Fatal("Map(nil) != nil")
	}
	if mongox.IsUnavailable(other) || mongox.IsUnavailable(err) || mongox.IsDuplicateKey(err) {
		t.Fatal("plain errors classified as unavailable or duplicate")
	}
}

func TestMapErrorOnLostDatabase(t *testing.T) {
	ctx := testCtx(t)
	client, _, err := mongox.Connect(ctx, testkit.MongoURI(t), testkit.Mongo(t).Name(), mongox.ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = client.Database("x").Collection("y").InsertOne(ctx, bson.D{{Key: "a", Value: 1}})
	if !mongox.IsUnavailable(err) {
		t.Fatalf("IsUnavailable(%v) = false after disconnect", err)
	}
	errDown := errors.New("database unavailable")
	if mapped := (mongox.CoreErrors{Unavailable: errDown}).Map(err); !errors.Is(mapped, errDown) {
		t.Fatalf("CoreErrors.Map after disconnect = %v, want unavailable", mapped)
	}
}

func names(specs []mongo.IndexSpecification) []string {
	out := make([]string, 0, len(specs))
	for _, s := range specs {
		out = append(out, s.Name+"("+strconv.Itoa(len(s.KeysDocument))+")")
	}
	return out
}

// Health follows the database: up after connecting, down (ErrUnavailable) once a ping fails while the server is stopped, up again
// after it restarts, with the same client throughout.
func TestHealthFollowsAnOutage(t *testing.T) {
	ctx := testCtx(t)
	m := testkit.OwnMongo(t)
	client, _, err := mongox.Connect(ctx, m.URI(), "app", mongox.ConnectOptions{ServerSelectionTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	changes := make(chan error, 4)
	h := mongox.WatchHealth(ctx, client, mongox.HealthOptions{Interval: 50 * time.Millisecond, Timeout: 200 * time.Millisecond,
		OnChange: func(err error) { changes <- err }})
	defer h.Stop()
	if err := h.Err(); err != nil {
		t.Fatalf("Err after connecting = %v", err)
	}

	next := func() error {
		t.Helper()
		select {
		case err := <-changes:
			return err
		case <-ctx.Done():
			t.Fatal("health did not change")
			return nil
		}
	}
	m.Stop()
	if err := next(); err == nil {
		t.Fatal("first change after the stop was to up")
	}
	if !errors.Is(h.Err(), mongox.ErrUnavailable) {
		t.Fatalf("Err while down = %v, want unavailable", h.Err())
	}

	m.Start(t)
	if err := next(); err != nil {
		t.Fatalf("change after the restart = %v, want up", err)
	}
	if err := h.Err(); err != nil {
		t.Fatalf("Err after the restart = %v", err)
	}
	if err := client.Ping(ctx, nil); err != nil {
		t.Fatalf("the same client does not serve after the restart: %v", err)
	}
}

// FerretDB reports some unique violations only in the message: they are
// duplicates too, and the health flag's error is an outage.
func TestErrorKindsWithoutADriverCode(t *testing.T) {
	for _, msg := range []string{
		"E11000 duplicate key error collection: app.datasets",
		"(InternalError) UNIQUE constraint failed: datasets.owner_id, datasets.name",
	} {
		if !mongox.IsDuplicateKey(errors.New(msg)) {
			t.Errorf("IsDuplicateKey(%q) = false", msg)
		}
	}
	if mongox.IsDuplicateKey(errors.New("decode: boom")) {
		t.Error("a plain error is a duplicate")
	}
	if !mongox.IsUnavailable(fmt.Errorf("list: %w", mongox.ErrUnavailable)) {
		t.Error("ErrUnavailable is not unavailable")
	}
}
