package store_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/credential/internal/credential"
	"github.com/nonefinity/backend/services/credential/internal/store"
)

func indexNames(t *testing.T, db *mongo.Database) []string {
	t.Helper()
	specs, err := db.Collection(store.CredentialsCollection).Indexes().ListSpecifications(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range specs {
		names = append(names, s.Name)
	}
	return names
}

// The list's index holds its whole order; the one it replaces, without the
// _id tie-break, is dropped from a database that has it, and a start
// without it is not a failure.
func TestListIndexReplacesTheOldOne(t *testing.T) {
	ctx := context.Background()
	db := testkit.Mongo(t)
	s := store.New(db)
	if err := s.EnsureIndexes(ctx, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Collection(store.CredentialsCollection).Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys: bson.D{{Key: "owner_id", Value: 1}, {Key: "created_at", Value: -1}}, Options: options.Index().SetName("owner_created"),
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureIndexes(ctx, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	names := indexNames(t, db)
	if !slices.Contains(names, "owner_created_id") || slices.Contains(names, "owner_created") {
		t.Fatalf("indexes %v, want owner_created_id and not owner_created", names)
	}
}

// A list answers without key material and only with the owner's live
// credentials, newest first.
func TestListCarriesNoKeyMaterial(t *testing.T) {
	ctx := context.Background()
	s := store.New(testkit.Mongo(t))
	if err := s.EnsureIndexes(ctx, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var ids []string
	for i, owner := range []string{"owner-a", "owner-b", "owner-a"} {
		c := credential.Credential{ID: s.NewID(), OwnerID: owner, Name: "k" + string(rune('0'+i)), ProviderName: "openai",
			IsActive: true, CreatedAt: at.Add(time.Duration(i) * time.Second), UpdatedAt: at}
		km := credential.KeyMaterial{Ciphertext: "v2:secret-ciphertext", KeyID: "k1", Last4: "1234", Masked: "sk-...1234", Fingerprint: "fp"}
		if err := s.InsertCredential(ctx, c, km); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	list, total, err := s.ListCredentials(ctx, "owner-a", 0, 10)
	if err != nil || total != 2 || len(list) != 2 {
		t.Fatalf("list = %d items, total %d, %v", len(list), total, err)
	}
	if list[0].ID != ids[2] || list[1].ID != ids[0] {
		t.Fatalf("list order %s, %s, want newest first", list[0].ID, list[1].ID)
	}
	for _, c := range list {
		if c.OwnerID != "owner-a" || c.Name == "" || c.CreatedAt.IsZero() {
			t.Errorf("listed %+v lacks a listed field", c)
		}
		if c.Ciphertext != "" || c.KeyMasked != "" || c.KeyLast4 != "" || c.KeyFingerprint != "" {
			t.Errorf("listed %+v carries key material", c)
		}
	}
	byProvider, err := s.ListCredentialsByProvider(ctx, "owner-a", "openai")
	if err != nil || len(byProvider) != 2 || byProvider[0].Ciphertext != "" {
		t.Fatalf("by provider = %+v, %v", byProvider, err)
	}
}
