package mongox_test

import (
	"errors"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nonefinity/backend/pkg/mongox"
	"github.com/nonefinity/backend/pkg/testkit"
)

type ownedDoc struct {
	ID    bson.ObjectID `bson:"_id"`
	Owner string        `bson:"owner_id"`
	Note  string        `bson:"note"`
}

func TestFindByIDHidesOtherOwnersDocuments(t *testing.T) {
	ctx := testCtx(t)
	coll := testkit.Mongo(t).Collection("things")
	mine, theirs := bson.NewObjectID(), bson.NewObjectID()
	if _, err := coll.InsertMany(ctx, []any{
		ownedDoc{ID: mine, Owner: "u1", Note: "mine"},
		ownedDoc{ID: theirs, Owner: "u2", Note: "theirs"},
	}); err != nil {
		t.Fatal(err)
	}
	ownedBy := func(owner string) func(*ownedDoc) bool {
		return func(d *ownedDoc) bool { return d.Owner == owner }
	}

	got, err := mongox.FindByID(ctx, coll, mine, ownedBy("u1"))
	if err != nil || got.Note != "mine" {
		t.Fatalf("own document: %+v, %v", got, err)
	}
	// Another owner's document and a missing one look the same.
	for name, id := range map[string]bson.ObjectID{"another owner's": theirs, "missing": bson.NewObjectID()} {
		got, err := mongox.FindByID(ctx, coll, id, ownedBy("u1"))
		if !errors.Is(err, mongo.ErrNoDocuments) {
			t.Errorf("%s document: err = %v, want ErrNoDocuments", name, err)
		}
		if got != (ownedDoc{}) {
			t.Errorf("%s document: returned %+v, want the zero value", name, got)
		}
	}
}
