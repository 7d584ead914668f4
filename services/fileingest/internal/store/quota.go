package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nonefinity/backend/pkg/mongox"
	"github.com/nonefinity/backend/services/fileingest/internal/files"
)

// Collections of the quota: reservations of uploads not committed yet, and
// the quota tickets that order them (see files.Service.reserve).
const (
	ReservationsCollection = "upload_reservations"
	TicketsCollection      = "quota_tickets"
)

type reservationDoc struct {
	ID         bson.ObjectID `bson:"_id,omitempty"`
	OwnerID    string        `bson:"owner_id"`
	ObjectKey  string        `bson:"object_key"`
	Size       int64         `bson:"size"`
	ExpiresAt  time.Time     `bson:"expires_at"`
	SweepAfter time.Time     `bson:"sweep_after"`
	CreatedAt  time.Time     `bson:"created_at"`
}

func fromReservationDoc(d reservationDoc) files.Reservation {
	return files.Reservation{
		ID: d.ID.Hex(), OwnerID: d.OwnerID, ObjectKey: d.ObjectKey, Size: d.Size,
		ExpiresAt: d.ExpiresAt.UTC(), SweepAfter: d.SweepAfter.UTC(), CreatedAt: d.CreatedAt.UTC(),
	}
}

func (s *Store) Reserve(ctx context.Context, r files.Reservation) (files.Reservation, error) {
	d := reservationDoc{
		ID: bson.NewObjectID(), OwnerID: r.OwnerID, ObjectKey: r.ObjectKey, Size: r.Size,
		ExpiresAt: r.ExpiresAt, SweepAfter: r.SweepAfter, CreatedAt: r.CreatedAt,
	}
	if _, err := s.reservations.InsertOne(ctx, d); err != nil {
		return files.Reservation{}, fail("store reservation", err)
	}
	return fromReservationDoc(d), nil
}

func (s *Store) ReservationFor(ctx context.Context, owner, key string) (files.Reservation, error) {
	var d reservationDoc
	err := s.reservations.FindOne(ctx, bson.D{{Key: "owner_id", Value: owner}, {Key: "object_key", Value: key}}).Decode(&d)
	if err != nil {
		return files.Reservation{}, fail("find reservation", err)
	}
	return fromReservationDoc(d), nil
}

func (s *Store) ReservedBytes(ctx context.Context, owner string) (int64, error) {
	return sumSizes(ctx, s.reservations, owner, "size", "sum reservations")
}

// Release deletes by id: the database removes the row once, so of callers
// racing for it exactly one counts a deletion. The owner is checked on a read by _id and the delete filters by _id
// alone (see ownedFile).
func (s *Store) Release(ctx context.Context, owner, id string) (bool, error) {
	oid, err := bson.ObjectIDFromHex(id)
	if err != nil {
		return false, fmt.Errorf("release reservation %q: %w", id, files.ErrNotFound)
	}
	_, err = mongox.FindByID(ctx, s.reservations, oid, func(d *reservationDoc) bool { return d.OwnerID == owner })
	if errors.Is(err, mongo.ErrNoDocuments) {
		// Released already, or not the owner's: nothing deleted.
		return false, nil
	}
	if err != nil {
		return false, fail("release reservation", err)
	}
	res, err := s.reservations.DeleteOne(ctx, bson.D{{Key: "_id", Value: oid}})
	if err != nil {
		return false, fail("release reservation", err)
	}
	return res.DeletedCount == 1, nil
}

func (s *Store) DueReservations(ctx context.Context, now time.Time, limit int) ([]files.Reservation, error) {
	opts := options.Find().SetSort(bson.D{{Key: "sweep_after", Value: 1}}).SetLimit(int64(limit))
	cur, err := s.reservations.Find(ctx, bson.D{{Key: "sweep_after", Value: bson.D{{Key: "$lt", Value: now}}}}, opts)
	if err != nil {
		return nil, fail("list due reservations", err)
	}
	var docs []reservationDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fail("list due reservations", err)
	}
	out := make([]files.Reservation, len(docs))
	for i, d := range docs {
		out[i] = fromReservationDoc(d)
	}
	return out, nil
}

type ticketDoc struct {
	OwnerID string    `bson:"owner_id"`
	Seq     int64     `bson:"seq"`
	TakenAt time.Time `bson:"taken_at"`
}

func (s *Store) QuotaTicket(ctx context.Context, owner string) (int64, error) {
	var d ticketDoc
	opts := options.FindOne().SetSort(bson.D{{Key: "seq", Value: -1}})
	err := s.tickets.FindOne(ctx, bson.D{{Key: "owner_id", Value: owner}}, opts).Decode(&d)
	switch {
	case err == nil:
		return d.Seq, nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return 0, nil
	}
	return 0, fail("read quota ticket", err)
}

// TakeQuotaTicket inserts ticket n under the unique (owner_id, seq) index.
func (s *Store) TakeQuotaTicket(ctx context.Context, owner string, n int64) (bool, error) {
	_, err := s.tickets.InsertOne(ctx, ticketDoc{OwnerID: owner, Seq: n, TakenAt: time.Now().UTC()})
	if mongox.IsDuplicateKey(err) {
		return false, nil
	}
	if err != nil {
		return false, fail("take quota ticket", err)
	}
	return true, nil
}

// DropTickets deletes the tickets taken before `before`, except each
// owner's latest: a number must never be free to take twice while a
// caller who read the one before it may still try.
func (s *Store) DropTickets(ctx context.Context, before time.Time) (int64, error) {
	cur, err := s.tickets.Aggregate(ctx, mongo.Pipeline{
		{{Key: "$match", Value: bson.D{{Key: "taken_at", Value: bson.D{{Key: "$lt", Value: before}}}}}},
		{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$owner_id"}}}},
	})
	if err != nil {
		return 0, fail("list owners of old quota tickets", err)
	}
	var owners []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &owners); err != nil {
		return 0, fail("list owners of old quota tickets", err)
	}
	var dropped int64
	for _, o := range owners {
		owner := o.ID
		latest, err := s.QuotaTicket(ctx, owner)
		if err != nil {
			return dropped, err
		}
		res, err := s.tickets.DeleteMany(ctx, bson.D{
			{Key: "owner_id", Value: owner},
			{Key: "taken_at", Value: bson.D{{Key: "$lt", Value: before}}},
			{Key: "seq", Value: bson.D{{Key: "$lt", Value: latest}}},
		})
		if err != nil {
			return dropped, fail("drop old quota tickets", err)
		}
		dropped += res.DeletedCount
	}
	return dropped, nil
}
