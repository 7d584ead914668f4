package embedded_test

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nonefinity/backend/pkg/embedded"
)

func TestFerretDBKeepsDataAcrossRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dir := t.TempDir()

	start := time.Now()
	first, err := embedded.StartFerretDB(ctx, embedded.FerretOptions{Dir: dir})
	if err != nil {
		t.Fatalf("first start: %v", err)
	}
	t.Logf("ferretdb first start took %s", time.Since(start))
	insertOne(ctx, t, first.URI(), bson.D{{Key: "_id", Value: "k1"}, {Key: "v", Value: "kept"}})
	closeStart := time.Now()
	first.Close()
	t.Logf("ferretdb close took %s", time.Since(closeStart))

	second, err := embedded.StartFerretDB(ctx, embedded.FerretOptions{Dir: dir})
	if err != nil {
		t.Fatalf("second start: %v", err)
	}
	defer second.Close()

	client := connect(ctx, t, second.URI())
	var got bson.M
	if err := client.Database("persist").Collection("c").FindOne(ctx, bson.D{{Key: "_id", Value: "k1"}}).Decode(&got); err != nil {
		t.Fatalf("find after restart: %v", err)
	}
	if got["v"] != "kept" {
		t.Fatalf("document after restart = %v, want v=kept", got)
	}
	// Disconnect before Close: FerretDB gives connected clients a 3s grace
	// period when it stops.
	if err := client.Disconnect(ctx); err != nil {
		t.Fatalf("disconnect: %v", err)
	}
}

func TestFerretDBRejectsRelativeDir(t *testing.T) {
	if _, err := embedded.StartFerretDB(context.Background(), embedded.FerretOptions{Dir: "data"}); err == nil {
		t.Fatal("StartFerretDB accepted a relative directory")
	}
}

func insertOne(ctx context.Context, t *testing.T, uri string, doc bson.D) {
	t.Helper()
	client := connect(ctx, t, uri)
	if _, err := client.Database("persist").Collection("c").InsertOne(ctx, doc); err != nil {
		t.Fatalf("insert: %v", err)
	}
	if err := client.Disconnect(ctx); err != nil {
		t.Fatalf("disconnect: %v", err)
	}
}

func connect(ctx context.Context, t *testing.T, uri string) *mongo.Client {
	t.Helper()
	client, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatalf("connect %s: %v", uri, err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	return client
}
