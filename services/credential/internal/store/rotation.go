package store

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nonefinity/backend/pkg/mongox"
	"github.com/nonefinity/backend/services/credential/internal/credential"
)

// rotationDoc is the rotation progress with its lease: Holder may write it
// until LeaseUntil.
type rotationDoc struct {
	ID          string     `bson:"_id"`
	State       string     `bson:"state"`
	TargetKeyID string     `bson:"target_key_id"`
	Total       int64      `bson:"total"`
	Processed   int64      `bson:"processed"`
	Failed      int64      `bson:"failed"`
	StartedAt   *time.Time `bson:"started_at,omitempty"`
	FinishedAt  *time.Time `bson:"finished_at,omitempty"`
	LastError   string     `bson:"last_error,omitempty"`
	LastID      string     `bson:"last_id"`
	BatchSize   int        `bson:"batch_size"`
	Holder      string     `bson:"holder"`
	LeaseUntil  time.Time  `bson:"lease_until"`
}

func (d rotationDoc) toCore() credential.RotationProgress {
	state := d.State
	if state == "" {
		state = credential.RotationIdle
	}
	return credential.RotationProgress{
		State: state, TargetKeyID: d.TargetKeyID, Total: d.Total, Processed: d.Processed, Failed: d.Failed,
		StartedAt: utc(d.StartedAt), FinishedAt: utc(d.FinishedAt), LastError: d.LastError,
		LastID: d.LastID, BatchSize: d.BatchSize,
	}
}

// LoadRotation returns the stored rotation progress.
func (s *Store) LoadRotation(ctx context.Context) (credential.RotationProgress, bool, error) {
	var d rotationDoc
	err := s.state.FindOne(ctx, bson.M{"_id": rotationID}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return credential.RotationProgress{State: credential.RotationIdle}, false, nil
	}
	if err != nil {
		return credential.RotationProgress{}, false, dbErr("load rotation progress", err)
	}
	return d.toCore(), true, nil
}

// ClaimRotation takes the rotation lease for holder when it is free,
// expired, or already holder's.
func (s *Store) ClaimRotation(ctx context.Context, holder string, now, until time.Time) (credential.RotationProgress, bool, error) {
	var d rotationDoc
	err := s.state.FindOneAndUpdate(ctx,
		bson.M{"_id": rotationID, "$or": bson.A{bson.M{"holder": holder}, bson.M{"lease_until": bson.M{"$lte": now}}}},
		bson.M{"$set": bson.M{"holder": holder, "lease_until": until}},
		options.FindOneAndUpdate().SetReturnDocument(options.After),
	).Decode(&d)
	if err == nil {
		return d.toCore(), true, nil
	}
	if !errors.Is(err, mongo.ErrNoDocuments) {
		return credential.RotationProgress{}, false, dbErr("claim rotation", err)
	}
	// Either there is no progress yet, or someone else holds a valid lease.
	fresh := rotationDoc{ID: rotationID, State: credential.RotationIdle, Holder: holder, LeaseUntil: until}
	if _, err := s.state.InsertOne(ctx, fresh); err != nil {
		if mongox.IsDuplicateKey(err) {
			p, _, lerr := s.LoadRotation(ctx)
			return p, false, lerr
		}
		return credential.RotationProgress{}, false, dbErr("claim rotation", err)
	}
	return fresh.toCore(), true, nil
}

// SaveRotation stores progress while holder holds the lease and sets the
// lease to until (zero releases it).
func (s *Store) SaveRotation(ctx context.Context, holder string, p credential.RotationProgress, until time.Time) error {
	res, err := s.state.UpdateOne(ctx, bson.M{"_id": rotationID, "holder": holder}, bson.M{"$set": bson.M{
		"state": p.State, "target_key_id": p.TargetKeyID, "total": p.Total, "processed": p.Processed,
		"failed": p.Failed, "started_at": p.StartedAt, "finished_at": p.FinishedAt, "last_error": p.LastError,
		"last_id": p.LastID, "batch_size": p.BatchSize, "lease_until": until,
	}})
	if err != nil {
		return dbErr("save rotation progress", err)
	}
	if res.MatchedCount == 0 {
		return credential.ErrRotationLeaseLost
	}
	return nil
}
