package users

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nonefinity/backend/contracts/userv1"
	"github.com/nonefinity/backend/pkg/mongox"
)

// Collection is the MongoDB collection of users, named as in the original
// service.
const Collection = "users"

// indexes leaves the name to the server ("clerk_id_1"): that is the name
// the original service's unique index already has in an existing database,
// and the same keys under another name would be refused as a conflict.
func indexes() []mongox.Index {
	return []mongox.Index{
		{Collection: Collection, Keys: bson.D{{Key: "clerk_id", Value: 1}}, Unique: true},
	}
}

// userDoc is a users document with the original service's field names.
// String, bool and time fields decode BSON null (which the original wrote
// for absent optional fields) as their zero value.
type userDoc struct {
	ID             bson.ObjectID `bson:"_id"`
	ClerkID        string        `bson:"clerk_id"`
	Emails         []string      `bson:"emails"`
	PrimaryEmail   string        `bson:"primary_email"`
	Username       string        `bson:"username"`
	FirstName      string        `bson:"first_name"`
	LastName       string        `bson:"last_name"`
	HasImage       bool          `bson:"has_image"`
	ProfileImage   string        `bson:"profile_image"`
	Banned         bool          `bson:"banned"`
	IsOAuth        bool          `bson:"is_oauth"`
	OAuthProviders []string      `bson:"oauth_providers"`
	CreatedAt      time.Time     `bson:"created_at"`
	UpdatedAt      time.Time     `bson:"updated_at"`
}

// standIn is what a user without a username or a primary email stores in
// that field. The Python service's database has unique, non-sparse indexes
// on username and primary_email (Beanie's Indexed(unique=True)); MongoDB
// indexes a missing field as null, so a second user lacking either field
// (every user created on first request, every Clerk user without a
// username) would be refused as a duplicate. The clerk id is unique, and
// "clerk:" keeps the stand-in apart from any real username (Clerk allows
// none with ':') and any real email (it has no '@'). The indexes are the
// old service's and stay as they are; the stand-in is read back as absent.
func standIn(clerkID string) string { return "clerk:" + clerkID }

// orStandIn is v, or the stand-in of clerkID when v is empty.
func orStandIn(v, clerkID string) string {
	if v == "" {
		return standIn(clerkID)
	}
	return v
}

// unlessStandIn is v, or "" when v is the stand-in of clerkID.
func unlessStandIn(v, clerkID string) string {
	if v == standIn(clerkID) {
		return ""
	}
	return v
}

// provisionalField marks a document created from a session token before
// Clerk told us anything about the user. Its updated_at is our clock, not
// Clerk's, so the first webhook must win regardless of it.
const provisionalField = "provisional"

func toUser(d userDoc) userv1.User {
	return userv1.User{
		ID:             d.ID.Hex(),
		ClerkID:        d.ClerkID,
		Emails:         d.Emails,
		PrimaryEmail:   unlessStandIn(d.PrimaryEmail, d.ClerkID),
		Username:       unlessStandIn(d.Username, d.ClerkID),
		FirstName:      d.FirstName,
		LastName:       d.LastName,
		HasImage:       d.HasImage,
		ProfileImage:   d.ProfileImage,
		Banned:         d.Banned,
		IsOAuth:        d.IsOAuth,
		OAuthProviders: d.OAuthProviders,
		CreatedAt:      d.CreatedAt.UTC(),
		UpdatedAt:      d.UpdatedAt.UTC(),
	}
}

// identityDoc is the projection Resolve reads.
type identityDoc struct {
	ID     bson.ObjectID `bson:"_id"`
	Banned bool          `bson:"banned"`
}

var identityProjection = bson.D{{Key: "_id", Value: 1}, {Key: "banned", Value: 1}}

type store struct {
	coll *mongo.Collection
}

func (s *store) findByClerkID(ctx context.Context, clerkID string) (Identity, error) {
	var d identityDoc
	err := s.coll.FindOne(ctx, bson.D{{Key: "clerk_id", Value: clerkID}},
		options.FindOne().SetProjection(identityProjection)).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return Identity{}, fmt.Errorf("find user by clerk id: %w", ErrNotFound)
	}
	if err != nil {
		return Identity{}, fmt.Errorf("find user by clerk id: %w", DatabaseErrors.Map(err))
	}
	return Identity{UserID: d.ID.Hex(), ClerkID: clerkID, Banned: d.Banned}, nil
}

// findOrCreate returns the identity of clerkID, inserting a provisional
// document when there is none. Most calls find the user, so it reads first.
// Two first requests racing to insert are settled by the unique clerk_id
// index: the loser's insert fails with a duplicate key and it reads the
// winner's document. (A plain insert rather than an upsert with
// $setOnInsert: FerretDB v1 drops empty arrays from $setOnInsert, and the
// document must have the original's [] lists.)
func (s *store) findOrCreate(ctx context.Context, clerkID string, now time.Time) (Identity, error) {
	id, err := s.findByClerkID(ctx, clerkID)
	if !errors.Is(err, ErrNotFound) {
		return id, err
	}
	oid := bson.NewObjectID()
	_, err = s.coll.InsertOne(ctx, bson.D{
		{Key: "_id", Value: oid},
		{Key: "clerk_id", Value: clerkID},
		{Key: "emails", Value: bson.A{}},
		{Key: "primary_email", Value: standIn(clerkID)},
		{Key: "username", Value: standIn(clerkID)},
		{Key: "has_image", Value: false},
		{Key: "banned", Value: false},
		{Key: "is_oauth", Value: false},
		{Key: "oauth_providers", Value: bson.A{}},
		{Key: "created_at", Value: now},
		{Key: "updated_at", Value: now},
		{Key: provisionalField, Value: true},
	})
	if mongox.IsDuplicateKey(err) {
		return s.findByClerkID(ctx, clerkID)
	}
	if err != nil {
		return Identity{}, fmt.Errorf("create user: %w", DatabaseErrors.Map(err))
	}
	return Identity{UserID: oid.Hex(), ClerkID: clerkID}, nil
}

func (s *store) get(ctx context.Context, userID string) (userv1.User, error) {
	oid, err := bson.ObjectIDFromHex(userID)
	if err != nil {
		return userv1.User{}, fmt.Errorf("get user %q: %w", userID, ErrNotFound)
	}
	var d userDoc
	err = s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: oid}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return userv1.User{}, fmt.Errorf("get user %s: %w", userID, ErrNotFound)
	}
	if err != nil {
		return userv1.User{}, fmt.Errorf("get user %s: %w", userID, DatabaseErrors.Map(err))
	}
	return toUser(d), nil
}

// applyProfile writes p in one conditional upsert. The filter matches the
// document only when it is older than p (or provisional, or from the
// original service without updated_at); when it does not match, the upsert
// tries to insert a second document for the clerk id and the unique index
// refuses it: that duplicate key is how "stored is newer" shows. One retry
// covers a duplicate key caused instead by two first events racing to
// insert.
func (s *store) applyProfile(ctx context.Context, p Profile) (ApplyResult, error) {
	filter := bson.D{
		{Key: "clerk_id", Value: p.ClerkID},
		{Key: "$or", Value: bson.A{
			bson.D{{Key: "updated_at", Value: bson.D{{Key: "$lt", Value: p.UpdatedAt}}}},
			bson.D{{Key: "updated_at", Value: nil}},
			bson.D{{Key: provisionalField, Value: true}},
		}},
	}
	emails, providers := p.Emails, p.OAuthProviders
	if emails == nil {
		emails = []string{}
	}
	if providers == nil {
		providers = []string{}
	}
	update := bson.D{
		{Key: "$set", Value: bson.D{
			{Key: "emails", Value: emails},
			{Key: "primary_email", Value: orStandIn(p.PrimaryEmail, p.ClerkID)},
			{Key: "username", Value: orStandIn(p.Username, p.ClerkID)},
			{Key: "first_name", Value: p.FirstName},
			{Key: "last_name", Value: p.LastName},
			{Key: "has_image", Value: p.HasImage},
			{Key: "profile_image", Value: p.ProfileImage},
			{Key: "banned", Value: p.Banned},
			{Key: "is_oauth", Value: len(providers) > 0},
			{Key: "oauth_providers", Value: providers},
			{Key: "created_at", Value: p.CreatedAt.UTC()},
			{Key: "updated_at", Value: p.UpdatedAt.UTC()},
		}},
		{Key: "$setOnInsert", Value: bson.D{{Key: "clerk_id", Value: p.ClerkID}}},
		{Key: "$unset", Value: bson.D{{Key: provisionalField, Value: ""}}},
	}
	opts := options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)
	for attempt := 0; ; attempt++ {
		var d userDoc
		err := s.coll.FindOneAndUpdate(ctx, filter, update, opts).Decode(&d)
		switch {
		case err == nil:
			return ApplyResult{Applied: true, User: toUser(d)}, nil
		case mongox.IsDuplicateKey(err) && attempt == 0:
			continue
		case mongox.IsDuplicateKey(err):
			return s.sameVersion(ctx, p)
		default:
			return ApplyResult{}, fmt.Errorf("upsert user %s: %w", p.ClerkID, DatabaseErrors.Map(err))
		}
	}
}

// sameVersion is the result of a profile the stored document did not take:
// Repeated with that document when it has the profile's updated_at.
func (s *store) sameVersion(ctx context.Context, p Profile) (ApplyResult, error) {
	var d userDoc
	err := s.coll.FindOne(ctx, bson.D{{Key: "clerk_id", Value: p.ClerkID}, {Key: "updated_at", Value: p.UpdatedAt.UTC()}}).Decode(&d)
	switch {
	case err == nil:
		return ApplyResult{Repeated: true, User: toUser(d)}, nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return ApplyResult{}, nil
	default:
		return ApplyResult{}, fmt.Errorf("read user %s: %w", p.ClerkID, DatabaseErrors.Map(err))
	}
}

func (s *store) deleteByClerkID(ctx context.Context, clerkID string) (bool, error) {
	res, err := s.coll.DeleteOne(ctx, bson.D{{Key: "clerk_id", Value: clerkID}})
	if err != nil {
		return false, fmt.Errorf("delete user %s: %w", clerkID, DatabaseErrors.Map(err))
	}
	return res.DeletedCount > 0, nil
}
