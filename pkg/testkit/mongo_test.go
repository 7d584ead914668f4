package testkit_test

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nonefinity/backend/pkg/testkit"
)

func TestMongoInsertFindAndUniqueIndex(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	start := time.Now()
	db := testkit.Mongo(t)
	t.Logf("mongo setup took %s (includes FerretDB start if first)", time.Since(start))

	coll := db.Collection("users")
	if _, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "email", Value: 1}},
		Options: options.Index().SetUnique(true),
	}); err != nil {
		t.Fatalf("create unique index: %v", err)
	}
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "email", Value: "a@example.com"}, {Key: "n", Value: 7}}); err != nil {
		t.Fatalf("insert: %v", err)
	}
	var got struct {
		Email string `bson:"email"`
		N     int    `bson:"n"`
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "email", Value: "a@example.com"}}).Decode(&got); err != nil {
		t.Fatalf("find: %v", err)
	}
	if got.Email != "a@example.com" || got.N != 7 {
		t.Fatalf("read back %+v", got)
	}
	_, err := coll.InsertOne(ctx, bson.D{{Key: "email", Value: "a@example.com"}})
	if !mongo.IsDuplicateKeyError(err) {
		t.Fatalf("duplicate insert error = %v, want duplicate key error", err)
	}
}

func TestMongoDatabasesArePrivatePerTest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	var names []string
	for _, sub := range []string{"first", "second"} {
		t.Run(sub, func(t *testing.T) {
			db := testkit.Mongo(t)
			names = append(names, db.Name())
			if _, err := db.Collection("c").InsertOne(ctx, bson.D{{Key: "who", Value: sub}}); err != nil {
				t.Fatalf("insert: %v", err)
			}
			n, err := db.Collection("c").CountDocuments(ctx, bson.D{})
			if err != nil {
				t.Fatalf("count: %v", err)
			}
			if n != 1 {
				t.Fatalf("%s sees %d documents, want only its own 1", sub, n)
			}
		})
	}
	if len(names) != 2 || names[0] == names[1] {
		t.Fatalf("database names %q, want two different", names)
	}

	// The subtests' databases were dropped at their cleanup.
	client, err := mongo.Connect(options.Client().ApplyURI(testkit.MongoURI(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(ctx)
	all, err := client.ListDatabaseNames(ctx, bson.D{})
	if err != nil {
		t.Fatalf("list databases: %v", err)
	}
	for _, have := range all {
		for _, dropped := range names {
			if have == dropped {
				t.Fatalf("database %s still exists after its test ended", dropped)
			}
		}
	}
}
