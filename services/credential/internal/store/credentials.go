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
	"github.com/nonefinity/backend/services/credential/internal/keyring"
)

// credentialDoc is a credentials document: the Python service's fields
// first, then the ones this service adds.
type credentialDoc struct {
	ID                bson.ObjectID     `bson:"_id"`
	OwnerID           string            `bson:"owner_id"`
	Name              string            `bson:"name"`
	ProviderName      string            `bson:"provider_name"`
	APIKey            string            `bson:"api_key"` // ciphertext
	BaseURL           *string           `bson:"base_url"`
	AdditionalHeaders map[string]string `bson:"additional_headers"`
	IsActive          bool              `bson:"is_active"`
	IsDeleted         bool              `bson:"is_deleted"`
	DeletedAt         *time.Time        `bson:"deleted_at"`
	CreatedAt         time.Time         `bson:"created_at"`
	UpdatedAt         time.Time         `bson:"updated_at"`

	DeletedMarker  string     `bson:"deleted_marker"`
	KeyID          string     `bson:"key_id,omitempty"`
	KeyLast4       string     `bson:"key_last4,omitempty"`
	KeyMasked      string     `bson:"key_masked,omitempty"`
	KeyFingerprint string     `bson:"key_fingerprint,omitempty"`
	LastTestedAt   *time.Time `bson:"last_tested_at,omitempty"`
	LastTestOK     *bool      `bson:"last_test_ok,omitempty"`
	LastUsedAt     *time.Time `bson:"last_used_at,omitempty"`
}

func keyIDOf(ciphertext string) string {
	if ciphertext == "" {
		return ""
	}
	return keyring.KeyIDOf(ciphertext)
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func toDoc(c credential.Credential, km credential.KeyMaterial) (credentialDoc, error) {
	id, ok := parseID(c.ID)
	if !ok {
		return credentialDoc{}, errors.New("credential id is not an ObjectID")
	}
	return credentialDoc{
		ID: id, OwnerID: c.OwnerID, Name: c.Name, ProviderName: c.ProviderName,
		APIKey: km.Ciphertext, BaseURL: optional(c.BaseURL), AdditionalHeaders: c.AdditionalHeaders,
		IsActive: c.IsActive, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		KeyID: km.KeyID, KeyLast4: km.Last4, KeyMasked: km.Masked, KeyFingerprint: km.Fingerprint,
	}, nil
}

func (d credentialDoc) toCore() credential.Credential {
	c := credential.Credential{
		ID: d.ID.Hex(), OwnerID: d.OwnerID, Name: d.Name, ProviderName: d.ProviderName,
		AdditionalHeaders: d.AdditionalHeaders, IsActive: d.IsActive,
		CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(),
		Ciphertext: d.APIKey, KeyMasked: d.KeyMasked, KeyLast4: d.KeyLast4, KeyFingerprint: d.KeyFingerprint,
		LastTestedAt: utc(d.LastTestedAt), LastTestOK: d.LastTestOK, LastUsedAt: utc(d.LastUsedAt),
	}
	if d.BaseURL != nil {
		c.BaseURL = *d.BaseURL
	}
	return c
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// InsertCredential stores a new credential with its key material.
func (s *Store) InsertCredential(ctx context.Context, c credential.Credential, km credential.KeyMaterial) error {
	doc, err := toDoc(c, km)
	if err != nil {
		return err
	}
	if _, err := s.credentials.InsertOne(ctx, doc); err != nil {
		if mongox.IsDuplicateKey(err) {
			return credential.ErrDuplicateName
		}
		return dbErr("insert credential", err)
	}
	return nil
}

// GetCredential returns one live credential of the owner.
func (s *Store) GetCredential(ctx context.Context, ownerID, id string) (credential.Credential, error) {
	oid, ok := parseID(id)
	if !ok {
		return credential.Credential{}, credential.ErrNotFound
	}
	d, err := mongox.FindByID(ctx, s.credentials, oid, func(d *credentialDoc) bool {
		return d.OwnerID == ownerID && !d.IsDeleted
	})
	if errors.Is(err, mongo.ErrNoDocuments) {
		return credential.Credential{}, credential.ErrNotFound
	}
	if err != nil {
		return credential.Credential{}, dbErr("get credential", err)
	}
	return d.toCore(), nil
}

// listed are the fields of a credential a list answers with: no key
// material, which a list never shows. Leaving the ciphertext out also
// saves its encoding on the server and its decoding here.
var listed = bson.D{
	{Key: "_id", Value: 1}, {Key: "owner_id", Value: 1}, {Key: "name", Value: 1}, {Key: "provider_name", Value: 1},
	{Key: "base_url", Value: 1}, {Key: "additional_headers", Value: 1}, {Key: "is_active", Value: 1},
	{Key: "created_at", Value: 1}, {Key: "updated_at", Value: 1},
	{Key: "last_tested_at", Value: 1}, {Key: "last_test_ok", Value: 1}, {Key: "last_used_at", Value: 1},
}

// newestFirst is the order of every list, the one index owner_created_id
// holds per owner.
var newestFirst = bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}

func liveOwned(ownerID string) bson.M {
	return bson.M{"owner_id": ownerID, "is_deleted": bson.M{"$ne": true}}
}

// ListCredentials returns one page of the owner's live credentials, newest
// first, and how many there are in all. One more than a page is read: when
// the page is the last one the total follows from it and the count (a
// second query, slow on FerretDB) is skipped.
func (s *Store) ListCredentials(ctx context.Context, ownerID string, skip, limit int) ([]credential.Credential, int64, error) {
	filter := liveOwned(ownerID)
	opts := options.Find().SetSort(newestFirst).SetProjection(listed).
		SetSkip(int64(skip)).SetLimit(int64(limit) + 1)
	out, err := s.findCredentials(ctx, filter, opts)
	if err != nil {
		return nil, 0, err
	}
	if len(out) <= limit && (len(out) > 0 || skip == 0) {
		return out, int64(skip + len(out)), nil
	}
	total, err := s.credentials.CountDocuments(ctx, filter)
	if err != nil {
		return nil, 0, dbErr("count credentials", err)
	}
	return out[:min(len(out), limit)], total, nil
}

// ListCredentialsByProvider returns every live credential of the owner for
// one provider, newest first.
func (s *Store) ListCredentialsByProvider(ctx context.Context, ownerID, provider string) ([]credential.Credential, error) {
	filter := liveOwned(ownerID)
	filter["provider_name"] = provider
	return s.findCredentials(ctx, filter, options.Find().SetSort(newestFirst).SetProjection(listed))
}

func (s *Store) findCredentials(ctx context.Context, filter bson.M, opts *options.FindOptionsBuilder) ([]credential.Credential, error) {
	cur, err := s.credentials.Find(ctx, filter, opts)
	if err != nil {
		return nil, dbErr("find credentials", err)
	}
	var docs []credentialDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, dbErr("read credentials", err)
	}
	out := make([]credential.Credential, len(docs))
	for i, d := range docs {
		out[i] = d.toCore()
	}
	return out, nil
}

// UpdateCredential applies an update to one live credential of the owner.
func (s *Store) UpdateCredential(ctx context.Context, ownerID, id string, u credential.Update) (credential.Credential, error) {
	oid, ok := parseID(id)
	if !ok {
		return credential.Credential{}, credential.ErrNotFound
	}
	set := bson.M{"updated_at": u.UpdatedAt}
	if u.Name != nil {
		set["name"] = *u.Name
	}
	if u.BaseURL != nil {
		set["base_url"] = optional(*u.BaseURL)
	}
	if u.IsActive != nil {
		set["is_active"] = *u.IsActive
	}
	if u.AdditionalHeaders != nil {
		set["additional_headers"] = *u.AdditionalHeaders
	}
	if u.Key != nil {
		setKey(set, *u.Key)
	}
	res, err := s.credentials.UpdateOne(ctx, liveOf(ownerID, oid), bson.M{"$set": set})
	switch {
	case mongox.IsDuplicateKey(err):
		return credential.Credential{}, credential.ErrDuplicateName
	case err != nil:
		return credential.Credential{}, dbErr("update credential", err)
	case res.MatchedCount == 0:
		return credential.Credential{}, credential.ErrNotFound
	}
	return s.GetCredential(ctx, ownerID, id)
}

func setKey(set bson.M, km credential.KeyMaterial) {
	set["api_key"] = km.Ciphertext
	set["key_id"] = km.KeyID
	set["key_last4"] = km.Last4
	set["key_masked"] = km.Masked
	set["key_fingerprint"] = km.Fingerprint
}

// DeleteCredential marks a credential deleted, frees its name and wipes its
// key: a deleted key has no reason to stay decryptable.
func (s *Store) DeleteCredential(ctx context.Context, ownerID, id string, at time.Time) error {
	oid, ok := parseID(id)
	if !ok {
		return credential.ErrNotFound
	}
	res, err := s.credentials.UpdateOne(ctx, liveOf(ownerID, oid), bson.M{
		"$set": bson.M{
			"is_deleted": true, "deleted_at": at, "deleted_marker": oid.Hex(), "is_active": false,
			"updated_at": at, "api_key": "",
		},
		"$unset": bson.M{"key_id": "", "key_last4": "", "key_masked": "", "key_fingerprint": ""},
	})
	if err != nil {
		return dbErr("delete credential", err)
	}
	if res.MatchedCount == 0 {
		return credential.ErrNotFound
	}
	return nil
}

// RecordTest stores the outcome of a key test.
func (s *Store) RecordTest(ctx context.Context, ownerID, id string, ok bool, at time.Time) error {
	return s.touch(ctx, ownerID, id, bson.M{"last_tested_at": at, "last_test_ok": ok})
}

// RecordUse stores when the key was last handed out.
func (s *Store) RecordUse(ctx context.Context, ownerID, id string, at time.Time) error {
	return s.touch(ctx, ownerID, id, bson.M{"last_used_at": at})
}

func (s *Store) touch(ctx context.Context, ownerID, id string, set bson.M) error {
	oid, ok := parseID(id)
	if !ok {
		return credential.ErrNotFound
	}
	res, err := s.credentials.UpdateOne(ctx, liveOf(ownerID, oid), bson.M{"$set": set})
	if err != nil {
		return dbErr("update credential", err)
	}
	if res.MatchedCount == 0 {
		return credential.ErrNotFound
	}
	return nil
}

// DeleteOwner removes every credential of the owner, deleted ones included.
func (s *Store) DeleteOwner(ctx context.Context, ownerID string) (int64, error) {
	res, err := s.credentials.DeleteMany(ctx, bson.M{"owner_id": ownerID})
	if err != nil {
		return 0, dbErr("delete owner's credentials", err)
	}
	return res.DeletedCount, nil
}

// ---- keys ----

// onOldKey matches records with a key that is not under keyID (records of
// the Python service have no key_id at all). Deleted records count too when
// they still hold a key, as the Python service's deleted records do.
func onOldKey(keyID string) bson.M {
	return bson.M{
		"api_key": bson.M{"$exists": true, "$ne": ""},
		"key_id":  bson.M{"$ne": keyID},
	}
}

// ReplaceKey swaps the key material while the stored ciphertext is still
// old. updated_at stays: re-encryption is no change the user made.
func (s *Store) ReplaceKey(ctx context.Context, id, old string, km credential.KeyMaterial) (bool, error) {
	oid, ok := parseID(id)
	if !ok {
		return false, credential.ErrNotFound
	}
	set := bson.M{}
	setKey(set, km)
	res, err := s.credentials.UpdateOne(ctx, bson.M{"_id": oid, "api_key": old}, bson.M{"$set": set})
	if err != nil {
		return false, dbErr("replace key", err)
	}
	return res.MatchedCount == 1, nil
}

// CountNotOnKey counts records not under keyID.
func (s *Store) CountNotOnKey(ctx context.Context, keyID string) (int64, error) {
	n, err := s.credentials.CountDocuments(ctx, onOldKey(keyID))
	if err != nil {
		return 0, dbErr("count records on old keys", err)
	}
	return n, nil
}

type keyRecordDoc struct {
	ID      bson.ObjectID `bson:"_id"`
	OwnerID string        `bson:"owner_id"`
	APIKey  string        `bson:"api_key"`
}

// NotOnKeyAfter returns the next batch of records not under keyID, in
// id order, after afterID.
func (s *Store) NotOnKeyAfter(ctx context.Context, keyID, afterID string, limit int) ([]credential.KeyRecord, error) {
	filter := onOldKey(keyID)
	if afterID != "" {
		after, ok := parseID(afterID)
		if !ok {
			return nil, errors.New("rotation resume point is not an ObjectID")
		}
		filter["_id"] = bson.M{"$gt": after}
	}
	cur, err := s.credentials.Find(ctx, filter, options.Find().
		SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)).
		SetProjection(bson.M{"_id": 1, "owner_id": 1, "api_key": 1}))
	if err != nil {
		return nil, dbErr("find records on old keys", err)
	}
	var docs []keyRecordDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, dbErr("read records on old keys", err)
	}
	out := make([]credential.KeyRecord, len(docs))
	for i, d := range docs {
		out[i] = credential.KeyRecord{ID: d.ID.Hex(), OwnerID: d.OwnerID, Ciphertext: d.APIKey}
	}
	return out, nil
}

// SampleKeyRecord returns the newest live record with a key.
func (s *Store) SampleKeyRecord(ctx context.Context) (credential.KeyRecord, bool, error) {
	var d keyRecordDoc
	err := s.credentials.FindOne(ctx,
		bson.M{"is_deleted": bson.M{"$ne": true}, "api_key": bson.M{"$exists": true, "$ne": ""}},
		options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}}).SetProjection(bson.M{"_id": 1, "owner_id": 1, "api_key": 1}),
	).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return credential.KeyRecord{}, false, nil
	}
	if err != nil {
		return credential.KeyRecord{}, false, dbErr("sample a stored key", err)
	}
	return credential.KeyRecord{ID: d.ID.Hex(), OwnerID: d.OwnerID, Ciphertext: d.APIKey}, true, nil
}
