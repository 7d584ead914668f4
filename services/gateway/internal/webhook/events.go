package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nonefinity/backend/pkg/mongox"
	"github.com/nonefinity/backend/services/gateway/internal/users"
)

// EventsCollection records the svix ids of deliveries already handled.
const EventsCollection = "webhook_events"

// Record states. A delivery is "done" once its effects are stored and
// published; "pending" exists only for user.deleted, between recording the
// user id it is about and finishing (see Handler.handleDeleted).
const (
	statePending = "pending"
	stateDone    = "done"
)

// eventRecord is one webhook_events document. The svix id is the _id, so
// the primary key is the unique index on it.
type eventRecord struct {
	SvixID     string    `bson:"_id"`
	Type       string    `bson:"type"`
	State      string    `bson:"state"`
	ClerkID    string    `bson:"clerk_id,omitempty"`
	UserID     string    `bson:"user_id,omitempty"`
	ReceivedAt time.Time `bson:"received_at"`
}

func eventIndexes(retention time.Duration) []mongox.Index {
	return []mongox.Index{{
		Collection:  EventsCollection,
		Name:        "received_at_ttl",
		Keys:        bson.D{{Key: "received_at", Value: 1}},
		ExpireAfter: retention,
	}}
}

type eventStore struct {
	coll *mongo.Collection
}

func (s *eventStore) ensureIndexes(ctx context.Context, retention time.Duration, log *slog.Logger) (mongox.EnsureReport, error) {
	return mongox.EnsureIndexes(ctx, s.coll.Database(), eventIndexes(retention), log)
}

// find returns the record of svixID; found is false when there is none.
func (s *eventStore) find(ctx context.Context, svixID string) (rec eventRecord, found bool, err error) {
	err = s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: svixID}}).Decode(&rec)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return eventRecord{}, false, nil
	}
	if err != nil {
		return eventRecord{}, false, fmt.Errorf("find webhook event %s: %w", svixID, users.DatabaseErrors.Map(err))
	}
	return rec, true, nil
}

// insert stores rec. When a record with the same svix id already exists (a
// concurrent delivery of the same event got there first), that record is
// returned instead and inserted is false.
func (s *eventStore) insert(ctx context.Context, rec eventRecord) (stored eventRecord, inserted bool, err error) {
	_, err = s.coll.InsertOne(ctx, rec)
	if err == nil {
		return rec, true, nil
	}
	if !mongox.IsDuplicateKey(err) {
		return eventRecord{}, false, fmt.Errorf("record webhook event %s: %w", rec.SvixID, users.DatabaseErrors.Map(err))
	}
	existing, found, err := s.find(ctx, rec.SvixID)
	if err != nil {
		return eventRecord{}, false, err
	}
	if !found { // swept in between: nothing left to compare with
		return rec, false, nil
	}
	return existing, false, nil
}

func (s *eventStore) markDone(ctx context.Context, svixID string) error {
	_, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: svixID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: stateDone}}}})
	if err != nil {
		return fmt.Errorf("mark webhook event %s done: %w", svixID, users.DatabaseErrors.Map(err))
	}
	return nil
}

// deleteReceivedBefore removes the records received before cutoff and
// returns how many there were.
func (s *eventStore) deleteReceivedBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := s.coll.DeleteMany(ctx, bson.D{{Key: "received_at", Value: bson.D{{Key: "$lt", Value: cutoff}}}})
	if err != nil {
		return 0, fmt.Errorf("sweep webhook events: %w", users.DatabaseErrors.Map(err))
	}
	return res.DeletedCount, nil
}
