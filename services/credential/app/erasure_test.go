package app

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/client"
	"github.com/nonefinity/backend/contracts/credentialv1"
	"github.com/nonefinity/backend/contracts/userv1"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/credential/internal/store"
)

// A user deleted while MongoDB is down is erased once it is back, however
// long that takes: the consumer used to terminate the event after 5 failed
// deliveries and leave the user's encrypted keys forever. MongoDB (FerretDB)
// stays down for more than twice that many attempts here.
func TestErasureOutlastsAMongoOutage(t *testing.T) {
	ns := testkit.NATS(t)
	mdb := testkit.OwnMongo(t)
	mc, err := mongo.Connect(options.Client().ApplyURI(mdb.URI()).SetServerSelectionTimeout(300 * time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mc.Disconnect(context.Background()) })
	e := &env{ns: ns, db: mc.Database("credential"), cl: client.Credential{R: natsx.NewClient(ns.Conn(t))}}
	e.start(t, e.config(t, "secret-one"), hooks{erasureRetry: 20 * time.Millisecond})
	for _, c := range []struct{ owner, name string }{{userA, "a1"}, {userA, "a2"}, {userB, "b1"}} {
		if _, err := e.cl.Create(as(c.owner), credentialv1.CreateRequest{Name: c.name, ProviderName: "openai", APIKey: goodKey}); err != nil {
			t.Fatal(err)
		}
	}

	acks := testkit.WatchAcks(t, ns.Conn(t), contracts.StreamUsers, contracts.DurableCredentialUserErase)

	mdb.Stop()
	ev := userv1.UserDeleted{UserID: userA, ClerkID: "user_clerk_a", DeletedAt: time.Now().UTC()}
	if err := natsx.Publish(context.Background(), ns.JetStream(t), ev.Subject(), "user.deleted."+userA, ev); err != nil {
		t.Fatal(err)
	}
	const outageAttempts = 11
	for failed := 0; failed < outageAttempts; {
		switch kind := testkit.NextAck(t, acks, 30*time.Second); kind {
		case "-NAK":
			failed++
		default:
			t.Fatalf("attempt %d during the outage answered %q", failed+1, kind)
		}
	}

	mdb.Start(t)
	for kind := ""; kind != "+ACK"; {
		if kind = testkit.NextAck(t, acks, 30*time.Second); kind == "+TERM" {
			t.Fatal("the erasure was terminated")
		}
	}
	coll := e.db.Collection(store.CredentialsCollection)
	if n, err := coll.CountDocuments(context.Background(), bson.M{"owner_id": userA}); err != nil || n != 0 {
		t.Fatalf("%d documents of the deleted user remain (%v)", n, err)
	}
	if n, _ := coll.CountDocuments(context.Background(), bson.M{"owner_id": userB}); n != 1 {
		t.Fatalf("user B has %d documents, want 1", n)
	}
}

// A user.deleted event whose body names another user than its subject is
// applied to nobody.
func TestErasureIgnoresABodyNamingAnotherUser(t *testing.T) {
	e := newEnv(t)
	e.start(t, e.config(t, "secret-one"), hooks{})
	if _, err := e.cl.Create(as(userB), credentialv1.CreateRequest{Name: "b", ProviderName: "openai", APIKey: goodKey}); err != nil {
		t.Fatal(err)
	}
	acks := testkit.WatchAcks(t, e.ns.Conn(t), contracts.StreamUsers, contracts.DurableCredentialUserErase)
	// Published for user A, naming user B in the body.
	forged := userv1.UserDeleted{UserID: userB, DeletedAt: time.Now().UTC()}
	subject := contracts.EventSubject(contracts.DomainUser, contracts.EventDeleted, userA)
	if err := natsx.Publish(context.Background(), e.ns.JetStream(t), subject, "forged", forged); err != nil {
		t.Fatal(err)
	}
	if kind := testkit.NextAck(t, acks, 20*time.Second); kind != "+TERM" {
		t.Fatalf("the consumer answered %q, want +TERM", kind)
	}
	if l, err := e.cl.List(as(userB), credentialv1.ListRequest{}); err != nil || l.Total != 1 {
		t.Fatalf("user B lists %+v, %v", l, err)
	}
}
