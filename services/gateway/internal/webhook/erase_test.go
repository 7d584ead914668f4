package webhook_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/gateway/internal/apikeys"
	"github.com/nonefinity/backend/services/gateway/internal/apikeystore"
	"github.com/nonefinity/backend/services/gateway/internal/webhook"
)

// A deleted user's personal API keys go with the users document: gone from
// the collection and refused at once, even from a warm cache; another
// user's keys stay.
func TestUserDeletedErasesTheUsersAPIKeys(t *testing.T) {
	ctx := testCtx(t)
	db := testkit.Mongo(t)
	store := apikeystore.New(db, nil)
	if err := store.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	keys, err := apikeys.New(apikeys.Options{Store: store, Pepper: []byte("a-test-pepper-of-at-least-32-characters!")})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, fixtureOptions{db: db, erasers: []webhook.Eraser{keys}})
	u := f.firstSeen()

	newKey := func(owner apikeys.Owner) apikeys.Created {
		c, err := keys.Create(ctx, owner, apikeys.NewKey{Name: "k", Scopes: []string{"files:read"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := keys.Authenticate(ctx, c.Plaintext); err != nil { // warms the cache
			t.Fatal(err)
		}
		return c
	}
	mine := []apikeys.Created{newKey(apikeys.Owner{UserID: u.ID, ClerkID: clerkID}), newKey(apikeys.Owner{UserID: u.ID, ClerkID: clerkID})}
	other := newKey(apikeys.Owner{UserID: "65f2a1b3c4d5e6f708192c0b", ClerkID: "user_other"})

	decode(t, f.deliver("msg_del_keys", deletedEvent(t, clerkID)), http.StatusOK)

	if n := f.count(apikeystore.Collection, bson.D{{Key: "owner_id", Value: u.ID}}); n != 0 {
		t.Fatalf("%d keys of the deleted user remain", n)
	}
	for _, c := range mine {
		if _, err := keys.Authenticate(ctx, c.Plaintext); !errors.Is(err, apikeys.ErrUnknownKey) {
			t.Fatalf("deleted user's key: %v, want ErrUnknownKey", err)
		}
	}
	if _, err := keys.Authenticate(context.Background(), other.Plaintext); err != nil {
		t.Fatalf("another user's key: %v", err)
	}
	// A redelivery is acknowledged as handled.
	decode(t, f.deliver("msg_del_keys", deletedEvent(t, clerkID)), http.StatusOK)
}
