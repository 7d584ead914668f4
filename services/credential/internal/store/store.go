// Package store keeps providers, credentials and the key bookkeeping
// (canary, rotation progress) in MongoDB. The documents keep the field names
// of the Python service, so an existing database can be used as is.
//
// It runs on MongoDB and on FerretDB v1, which has no partial indexes: names
// are unique per owner among live credentials through a unique index on
// (owner_id, name, deleted_marker), where deleted_marker is "" for a live
// credential and the credential's own id once it is deleted.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nonefinity/backend/pkg/mongox"
	"github.com/nonefinity/backend/services/credential/internal/credential"
)

// Collection names.
const (
	ProvidersCollection   = "providers"
	CredentialsCollection = "credentials"
	// StateCollection holds the service's own bookkeeping: the encryption
	// canary and the rotation progress.
	StateCollection = "credential_state"
)

const (
	canaryID   = "canary"
	rotationID = "rotation"
)

// Store implements credential.Store over one database.
type Store struct {
	providers   *mongo.Collection
	credentials *mongo.Collection
	state       *mongo.Collection
}

var _ credential.Store = (*Store)(nil)

// New returns a store over db. Call EnsureIndexes once at startup.
func New(db *mongo.Database) *Store {
	return &Store{
		providers:   db.Collection(ProvidersCollection),
		credentials: db.Collection(CredentialsCollection),
		state:       db.Collection(StateCollection),
	}
}

// EnsureIndexes creates the store's indexes, first filling in
// deleted_marker on documents written before it existed (the Python
// service's): the unique name index depends on it.
func (s *Store) EnsureIndexes(ctx context.Context, log *slog.Logger) error {
	if err := s.backfillDeletedMarker(ctx); err != nil {
		return err
	}
	_, err := mongox.EnsureIndexes(ctx, s.credentials.Database(), []mongox.Index{
		{Collection: ProvidersCollection, Keys: bson.D{{Key: "provider_name", Value: 1}}, Name: "provider_name_unique", Unique: true},
		{Collection: CredentialsCollection, Keys: bson.D{{Key: "owner_id", Value: 1}, {Key: "name", Value: 1}, {Key: "deleted_marker", Value: 1}}, Name: "owner_name_live_unique", Unique: true},
		{Collection: CredentialsCollection, Keys: bson.D{{Key: "owner_id", Value: 1}, {Key: "provider_name", Value: 1}}, Name: "owner_provider"},
		// The list's filter and its whole order (newestFirst): MongoDB walks
		// one owner's entries in order and stops after the page, with no
		// sort in memory.
		{Collection: CredentialsCollection, Keys: bson.D{{Key: "owner_id", Value: 1}, {Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}, Name: "owner_created_id"},
	}, log)
	if err != nil {
		return fmt.Errorf("ensure indexes: %w", err)
	}
	// owner_created_id replaces it: it lacked the _id tie-break, so the
	// list sorted each owner's credentials in memory.
	if err := s.credentials.Indexes().DropOne(ctx, "owner_created"); err != nil && !isIndexNotFound(err) {
		return dbErr("drop index owner_created", err)
	}
	return nil
}

// isIndexNotFound is the error of dropping an index that is not there
// (MongoDB's IndexNotFound, 27; FerretDB answers the same).
func isIndexNotFound(err error) bool {
	var se mongo.ServerError
	return errors.As(err, &se) && se.HasErrorCode(27)
}

func (s *Store) backfillDeletedMarker(ctx context.Context) error {
	missing := bson.M{"deleted_marker": bson.M{"$exists": false}}
	if _, err := s.credentials.UpdateMany(ctx,
		bson.M{"deleted_marker": bson.M{"$exists": false}, "is_deleted": bson.M{"$ne": true}},
		bson.M{"$set": bson.M{"deleted_marker": ""}}); err != nil {
		return dbErr("backfill deleted_marker", err)
	}
	// Deleted documents need their own id as marker; there are few, and
	// FerretDB v1 has no pipeline updates, so one at a time.
	cur, err := s.credentials.Find(ctx, missing, options.Find().SetProjection(bson.M{"_id": 1}))
	if err != nil {
		return dbErr("backfill deleted_marker", err)
	}
	var ids []struct {
		ID bson.ObjectID `bson:"_id"`
	}
	if err := cur.All(ctx, &ids); err != nil {
		return dbErr("backfill deleted_marker", err)
	}
	for _, d := range ids {
		if _, err := s.credentials.UpdateOne(ctx, bson.M{"_id": d.ID},
			bson.M{"$set": bson.M{"deleted_marker": d.ID.Hex()}}); err != nil {
			return dbErr("backfill deleted_marker", err)
		}
	}
	return nil
}

// coreErrors are the core's sentinels for the driver errors it tells apart.
var coreErrors = mongox.CoreErrors{Unavailable: credential.ErrDatabaseUnavailable}

// dbErr names the operation and gives an unreachable database the core's
// sentinel while keeping the driver error for the log.
func dbErr(op string, err error) error {
	return fmt.Errorf("%s: %w", op, coreErrors.Map(err))
}

// NewID returns a fresh ObjectID in hex.
func (s *Store) NewID() string { return bson.NewObjectID().Hex() }

func parseID(id string) (bson.ObjectID, bool) {
	oid, err := bson.ObjectIDFromHex(id)
	return oid, err == nil
}

// liveOf is the filter of one owner's live credential.
func liveOf(ownerID string, id bson.ObjectID) bson.M {
	return bson.M{"_id": id, "owner_id": ownerID, "is_deleted": bson.M{"$ne": true}}
}

// ---- canary ----

type stateDoc struct {
	ID        string    `bson:"_id"`
	Value     string    `bson:"value"`
	KeyID     string    `bson:"key_id,omitempty"`
	UpdatedAt time.Time `bson:"updated_at"`
}

// LoadCanary returns the stored canary ciphertext.
func (s *Store) LoadCanary(ctx context.Context) (string, bool, error) {
	var d stateDoc
	err := s.state.FindOne(ctx, bson.M{"_id": canaryID}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", false, nil
	}
	if err != nil {
		return "", false, dbErr("load canary", err)
	}
	return d.Value, true, nil
}

// SaveCanary stores the canary ciphertext.
func (s *Store) SaveCanary(ctx context.Context, ciphertext string, at time.Time) error {
	_, err := s.state.ReplaceOne(ctx, bson.M{"_id": canaryID},
		stateDoc{ID: canaryID, Value: ciphertext, KeyID: keyIDOf(ciphertext), UpdatedAt: at},
		options.Replace().SetUpsert(true))
	if err != nil {
		return dbErr("save canary", err)
	}
	return nil
}
