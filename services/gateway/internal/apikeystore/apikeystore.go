// Package apikeystore is the MongoDB store of personal API keys: the
// gateway's api_keys collection.
package apikeystore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nonefinity/backend/pkg/mongox"
	"github.com/nonefinity/backend/services/gateway/internal/access"
	"github.com/nonefinity/backend/services/gateway/internal/apikeys"
)

// Collection is the collection of API keys.
const Collection = "api_keys"

// UsageCollection holds each key's last_used_at, by key id. It is apart
// from the key so that the writes of use (off the request path, once a
// minute) never meet a revocation on the same document: FerretDB applies
// an update by reading and writing the whole document, and a use recorded
// concurrently could write back a key as it was before its revocation.
const UsageCollection = "api_key_usage"

var dbErrors = mongox.CoreErrors{NotFound: apikeys.ErrNotFound, Unavailable: apikeys.ErrDatabaseUnavailable}

// keyDoc is one key. key_hash is the hex HMAC-SHA-256 of the key under the
// pepper; the key itself is stored nowhere.
type keyDoc struct {
	ID        bson.ObjectID `bson:"_id"`
	OwnerID   string        `bson:"owner_id"`
	ClerkID   string        `bson:"clerk_id"`
	Name      string        `bson:"name"`
	KeyPrefix string        `bson:"key_prefix"`
	KeyHash   string        `bson:"key_hash"`
	// Slot is the key's place among its owner's at most N keys; the unique
	// (owner_id, slot) index keeps concurrent creations within N.
	Slot      int        `bson:"slot"`
	Scopes    []string   `bson:"scopes"`
	ExpiresAt *time.Time `bson:"expires_at"`
	RevokedAt *time.Time `bson:"revoked_at"`
	CreatedAt time.Time  `bson:"created_at"`
	UpdatedAt time.Time  `bson:"updated_at"`
}

// usageDoc is one key's last use.
type usageDoc struct {
	ID         bson.ObjectID `bson:"_id"`
	LastUsedAt time.Time     `bson:"last_used_at"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func valTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func toCore(d keyDoc) apikeys.Key {
	scopes := make([]access.Scope, 0, len(d.Scopes))
	for _, s := range d.Scopes {
		// A scope this version does not know grants nothing.
		if sc, ok := access.Parse(s); ok {
			scopes = append(scopes, sc)
		}
	}
	return apikeys.Key{
		ID: d.ID.Hex(), OwnerID: d.OwnerID, ClerkID: d.ClerkID, Name: d.Name, Prefix: d.KeyPrefix, Scopes: scopes,
		ExpiresAt: valTime(d.ExpiresAt), RevokedAt: valTime(d.RevokedAt),
		CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(),
	}
}

func scopeNames(scopes []access.Scope) []string {
	out := make([]string, len(scopes))
	for i, s := range scopes {
		out[i] = string(s)
	}
	return out
}

// Store implements apikeys.Store.
type Store struct {
	coll  *mongo.Collection
	usage *mongo.Collection
	log   *slog.Logger
}

var _ apikeys.Store = (*Store)(nil)

// New returns the store over db's api_keys collection.
func New(db *mongo.Database, log *slog.Logger) *Store {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{coll: db.Collection(Collection), usage: db.Collection(UsageCollection), log: log}
}

// EnsureIndexes creates the unique digest index (the lookup of every key
// not in the cache) and the unique owner and slot index (the limit; lists,
// counts and erasure by owner).
func (s *Store) EnsureIndexes(ctx context.Context) error {
	_, err := mongox.EnsureIndexes(ctx, s.coll.Database(), []mongox.Index{
		{Collection: Collection, Keys: bson.D{{Key: "key_hash", Value: 1}}, Name: "key_hash_unique", Unique: true},
		{Collection: Collection, Keys: bson.D{{Key: "owner_id", Value: 1}, {Key: "slot", Value: 1}}, Name: "owner_slot_unique", Unique: true},
	}, s.log)
	return err
}

// Insert stores k in the lowest free of its owner's max slots. Two
// creations racing for one slot meet on the unique (owner_id, slot) index
// and the loser takes the next free one, so the owner never holds more than
// max keys, however many instances create at once; none free is
// apikeys.ErrTooMany.
func (s *Store) Insert(ctx context.Context, k apikeys.Key, digest apikeys.Digest, max int) (apikeys.Key, error) {
	d := keyDoc{
		ID: bson.NewObjectID(), OwnerID: k.OwnerID, ClerkID: k.ClerkID, Name: k.Name, KeyPrefix: k.Prefix,
		KeyHash: hex.EncodeToString(digest[:]), Scopes: scopeNames(k.Scopes), ExpiresAt: optTime(k.ExpiresAt),
		CreatedAt: k.CreatedAt.UTC(), UpdatedAt: k.UpdatedAt.UTC(),
	}
	for attempt := 0; attempt <= max; attempt++ {
		slot, err := s.freeSlot(ctx, k.OwnerID, max)
		if err != nil {
			return apikeys.Key{}, err
		}
		d.Slot = slot
		_, err = s.coll.InsertOne(ctx, d)
		if err == nil {
			return toCore(d), nil
		}
		if !mongox.IsDuplicateKey(err) {
			return apikeys.Key{}, fmt.Errorf("insert API key: %w", dbErrors.Map(err))
		}
	}
	return apikeys.Key{}, fmt.Errorf("insert API key: every slot was taken while trying: %w", apikeys.ErrTooMany)
}

// freeSlot is the lowest slot below max that owner's keys leave free.
func (s *Store) freeSlot(ctx context.Context, ownerID string, max int) (int, error) {
	cur, err := s.coll.Find(ctx, bson.D{{Key: "owner_id", Value: ownerID}}, options.Find().SetProjection(bson.D{{Key: "slot", Value: 1}}))
	if err != nil {
		return 0, fmt.Errorf("read API key slots: %w", dbErrors.Map(err))
	}
	var docs []struct {
		Slot int `bson:"slot"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return 0, fmt.Errorf("read API key slots: %w", dbErrors.Map(err))
	}
	used := make(map[int]bool, len(docs))
	for _, d := range docs {
		used[d.Slot] = true
	}
	for slot := range max {
		if !used[slot] {
			return slot, nil
		}
	}
	return 0, fmt.Errorf("no free API key slot: %w", apikeys.ErrTooMany)
}

func (s *Store) List(ctx context.Context, ownerID string) ([]apikeys.Key, error) {
	cur, err := s.coll.Find(ctx, bson.D{{Key: "owner_id", Value: ownerID}},
		options.Find().SetSort(bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}))
	if err != nil {
		return nil, fmt.Errorf("list API keys: %w", dbErrors.Map(err))
	}
	var docs []keyDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("list API keys: %w", dbErrors.Map(err))
	}
	ids := make([]bson.ObjectID, len(docs))
	for i, d := range docs {
		ids[i] = d.ID
	}
	used, err := s.lastUses(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]apikeys.Key, len(docs))
	for i, d := range docs {
		out[i] = toCore(d)
		out[i].LastUsedAt = used[d.ID]
	}
	return out, nil
}

// lastUses reads the last use of each of ids that has one.
func (s *Store) lastUses(ctx context.Context, ids []bson.ObjectID) (map[bson.ObjectID]time.Time, error) {
	out := map[bson.ObjectID]time.Time{}
	if len(ids) == 0 {
		return out, nil
	}
	cur, err := s.usage.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
	if err != nil {
		return nil, fmt.Errorf("read API key use: %w", dbErrors.Map(err))
	}
	var docs []usageDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("read API key use: %w", dbErrors.Map(err))
	}
	for _, d := range docs {
		out[d.ID] = d.LastUsedAt.UTC()
	}
	return out, nil
}

// withLastUse adds k's last use.
func (s *Store) withLastUse(ctx context.Context, k apikeys.Key, id bson.ObjectID) (apikeys.Key, error) {
	used, err := s.lastUses(ctx, []bson.ObjectID{id})
	if err != nil {
		return apikeys.Key{}, err
	}
	k.LastUsedAt = used[id]
	return k, nil
}

// oid parses a key id; a malformed one names no key.
func oid(id string) (bson.ObjectID, error) {
	o, err := bson.ObjectIDFromHex(id)
	if err != nil {
		return o, fmt.Errorf("API key %q: %w", id, apikeys.ErrNotFound)
	}
	return o, nil
}

func (s *Store) Get(ctx context.Context, ownerID, id string) (apikeys.Key, error) {
	o, err := oid(id)
	if err != nil {
		return apikeys.Key{}, err
	}
	d, err := mongox.FindByID(ctx, s.coll, o, func(d *keyDoc) bool { return d.OwnerID == ownerID })
	if err != nil {
		return apikeys.Key{}, fmt.Errorf("get API key %s: %w", id, dbErrors.Map(err))
	}
	return s.withLastUse(ctx, toCore(d), o)
}

// modify applies update to owner's key id and returns the document after.
func (s *Store) modify(ctx context.Context, ownerID, id string, filter, update bson.D) (apikeys.Key, error) {
	o, err := oid(id)
	if err != nil {
		return apikeys.Key{}, err
	}
	filter = append(bson.D{{Key: "_id", Value: o}, {Key: "owner_id", Value: ownerID}}, filter...)
	var d keyDoc
	err = s.coll.FindOneAndUpdate(ctx, filter, update, options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&d)
	if err != nil {
		return apikeys.Key{}, fmt.Errorf("update API key %s: %w", id, dbErrors.Map(err))
	}
	return s.withLastUse(ctx, toCore(d), o)
}

func (s *Store) Update(ctx context.Context, ownerID, id string, p apikeys.Patch, now time.Time) (apikeys.Key, error) {
	set := bson.D{{Key: "updated_at", Value: now.UTC()}}
	if p.Name != nil {
		set = append(set, bson.E{Key: "name", Value: *p.Name})
	}
	if p.Scopes != nil {
		set = append(set, bson.E{Key: "scopes", Value: scopeNames(p.Scopes)})
	}
	return s.modify(ctx, ownerID, id, nil, bson.D{{Key: "$set", Value: set}})
}

// Revoke sets revoked_at once; a revoked key is returned as it is.
func (s *Store) Revoke(ctx context.Context, ownerID, id string, at time.Time) (apikeys.Key, error) {
	k, err := s.modify(ctx, ownerID, id, bson.D{{Key: "revoked_at", Value: nil}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "revoked_at", Value: at.UTC()}, {Key: "updated_at", Value: at.UTC()}}}})
	if errors.Is(err, apikeys.ErrNotFound) {
		return s.Get(ctx, ownerID, id)
	}
	return k, err
}

func (s *Store) Delete(ctx context.Context, ownerID, id string) error {
	o, err := oid(id)
	if err != nil {
		return err
	}
	res, err := s.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: o}, {Key: "owner_id", Value: ownerID}})
	if err != nil {
		return fmt.Errorf("delete API key %s: %w", id, dbErrors.Map(err))
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("delete API key %s: %w", id, apikeys.ErrNotFound)
	}
	if _, err := s.usage.DeleteOne(ctx, bson.D{{Key: "_id", Value: o}}); err != nil {
		return fmt.Errorf("delete API key %s use: %w", id, dbErrors.Map(err))
	}
	return nil
}

func (s *Store) FindByDigest(ctx context.Context, digest apikeys.Digest) (apikeys.Key, apikeys.Digest, error) {
	var d keyDoc
	err := s.coll.FindOne(ctx, bson.D{{Key: "key_hash", Value: hex.EncodeToString(digest[:])}}).Decode(&d)
	if err != nil {
		return apikeys.Key{}, apikeys.Digest{}, fmt.Errorf("find API key: %w", dbErrors.Map(err))
	}
	var stored apikeys.Digest
	if b, err := hex.DecodeString(d.KeyHash); err == nil && len(b) == len(stored) {
		copy(stored[:], b)
	}
	return toCore(d), stored, nil
}

// TouchLastUsed writes the key's last use unless one within every of at is
// stored. Two instances racing to insert the first use meet on _id; the
// loser's write is the one not needed.
func (s *Store) TouchLastUsed(ctx context.Context, id string, at time.Time, every time.Duration) error {
	o, err := oid(id)
	if err != nil {
		return err
	}
	_, err = s.usage.UpdateOne(ctx, bson.D{
		{Key: "_id", Value: o},
		{Key: "last_used_at", Value: bson.D{{Key: "$lte", Value: at.Add(-every).UTC()}}},
	}, bson.D{{Key: "$set", Value: bson.D{{Key: "last_used_at", Value: at.UTC()}}}}, options.UpdateOne().SetUpsert(true))
	if err != nil && !mongox.IsDuplicateKey(err) {
		return fmt.Errorf("touch API key %s: %w", id, dbErrors.Map(err))
	}
	return nil
}

func (s *Store) DeleteOwner(ctx context.Context, ownerID string) ([]string, error) {
	cur, err := s.coll.Find(ctx, bson.D{{Key: "owner_id", Value: ownerID}}, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("erase API keys: %w", dbErrors.Map(err))
	}
	var docs []struct {
		ID bson.ObjectID `bson:"_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("erase API keys: %w", dbErrors.Map(err))
	}
	oids := make([]bson.ObjectID, len(docs))
	ids := make([]string, len(docs))
	for i, d := range docs {
		oids[i], ids[i] = d.ID, d.ID.Hex()
	}
	if len(oids) > 0 {
		if _, err := s.usage.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: oids}}}}); err != nil {
			return nil, fmt.Errorf("erase API key use: %w", dbErrors.Map(err))
		}
	}
	if _, err := s.coll.DeleteMany(ctx, bson.D{{Key: "owner_id", Value: ownerID}}); err != nil {
		return nil, fmt.Errorf("erase API keys: %w", dbErrors.Map(err))
	}
	return ids, nil
}
