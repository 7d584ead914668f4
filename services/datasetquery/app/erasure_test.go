package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/nonefinity/backend/contracts"
	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/contracts/userv1"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/pkg/testkit"
)

// The user to erase is the event's subject: a body naming another user
// (the service used to prefer the body) is applied to nobody.
func TestErasureFollowsTheSubject(t *testing.T) {
	e := start(t)
	schema := []dv1.Column{{ColumnName: "id", ColumnType: "bigint"}}
	da, err := e.ds.Create(as(alice), dv1.CreateRequest{DatasetName: "a", Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	db, err := e.ds.Create(as(bob), dv1.CreateRequest{DatasetName: "b", Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	acks := testkit.WatchAcks(t, e.nc, contracts.StreamUsers, contracts.DurableDatasetUserErase)
	verdict := func(want string) {
		t.Helper()
		if kind := testkit.NextAck(t, acks, 20*time.Second); kind != want {
			t.Fatalf("the consumer answered %q, want %s", kind, want)
		}
	}

	forged := userv1.UserDeleted{UserID: bob, DeletedAt: time.Now().UTC()}
	if err := natsx.Publish(context.Background(), e.js, contracts.EventSubject(contracts.DomainUser, contracts.EventDeleted, alice), "forged", forged); err != nil {
		t.Fatal(err)
	}
	verdict("+TERM")
	for owner, id := range map[string]string{alice: da.ID, bob: db.ID} {
		if _, err := e.ds.Get(as(owner), dv1.GetRequest{ID: id}); err != nil {
			t.Fatalf("a rejected event erased %s's dataset: %v", owner, err)
		}
	}

	deleted := userv1.UserDeleted{UserID: alice, DeletedAt: time.Now().UTC()}
	if err := natsx.Publish(context.Background(), e.js, deleted.Subject(), "user.deleted."+alice, deleted); err != nil {
		t.Fatal(err)
	}
	verdict("+ACK")
	_, err = e.ds.Get(as(alice), dv1.GetRequest{ID: da.ID})
	testkit.WantCode(t, err, rpcerr.NotFound)
	if _, err := e.ds.Get(as(bob), dv1.GetRequest{ID: db.ID}); err != nil {
		t.Fatalf("bob's dataset: %v", err)
	}
}
