package mongox

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// FindByID decodes the document whose _id is id into a T and returns it
// if owned accepts it; a document that is missing or not accepted is
// mongo.ErrNoDocuments alike, so a caller cannot tell another user's
// document from none.
//
// The filter is the _id alone on purpose. MongoDB answers it from the _id
// index as it would {_id, owner_id}; FerretDB's SQLite backend (the
// embedded store) pushes only a filter that is exactly {_id: …} down to
// SQL and answers any other filter by decoding every document of the
// collection, so one user's large documents (file previews, wide schemas)
// would make every other user's lookups slow.
func FindByID[T any](ctx context.Context, coll *mongo.Collection, id any, owned func(*T) bool) (T, error) {
	var doc, zero T
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&doc); err != nil {
		return zero, err
	}
	if !owned(&doc) {
		return zero, mongo.ErrNoDocuments
	}
	return doc, nil
}
