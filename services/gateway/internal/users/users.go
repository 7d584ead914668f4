// Package users owns the gateway's users collection: resolving a Clerk user
// id (the session token's sub) to the internal user id on every
// authenticated request, the document GET /auth/me shows, and the writes
// Clerk's webhooks ask for.
//
// Resolve is on the hot path, so identities are cached twice: in process
// (bounded LRU, short TTL) and, when configured, in Redis so several gateway
// instances share them. Writes made through this package (ApplyProfile,
// Delete) drop both cached copies; another instance's in-process copy lives
// at most LocalTTL longer, which bounds how long a freshly banned user keeps
// access there.
package users

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/contracts/userv1"
	"github.com/nonefinity/backend/pkg/mongox"
)

// Defaults for Options fields left zero.
const (
	DefaultLocalTTL    = 60 * time.Second
	DefaultLocalSize   = 10_000
	DefaultRedisTTL    = 5 * time.Minute
	DefaultRedisPrefix = "nf:gateway:"
)

// ErrNotFound is returned (wrapped) when no user document matches; it is an
// rpcerr NotFound, so the router answers 404 without knowing this package.
var ErrNotFound = rpcerr.New(rpcerr.NotFound, "user not found")

// ErrDatabaseUnavailable is returned (wrapped) while MongoDB cannot serve;
// it is an rpcerr Unavailable, so the router and the webhook answer 503.
var ErrDatabaseUnavailable = rpcerr.New(rpcerr.Unavailable, "database unavailable")

// DatabaseErrors gives the driver errors of the gateway's stores (users,
// webhook events) their codes.
var DatabaseErrors = mongox.CoreErrors{Unavailable: ErrDatabaseUnavailable}

// Identity is what an authenticated request needs to know about its user.
type Identity struct {
	// UserID is the users document _id as 24 hex digits: the Nf-User-Id
	// every NATS request carries.
	UserID  string
	ClerkID string
	// Banned users are answered 403 by the caller.
	Banned bool
}

// Profile is what Clerk says about a user, already mapped to our fields (the
// webhook package does the mapping from Clerk's payload).
type Profile struct {
	ClerkID        string
	Emails         []string // primary first
	PrimaryEmail   string
	Username       string
	FirstName      string
	LastName       string
	HasImage       bool
	ProfileImage   string
	Banned         bool
	OAuthProviders []string // "oauth_google", …; IsOAuth is derived from it
	CreatedAt      time.Time
	// UpdatedAt orders Clerk's events: a profile older than the stored
	// document is not applied.
	UpdatedAt time.Time
}

// ApplyResult says what ApplyProfile did.
type ApplyResult struct {
	// Applied is false when the stored document is as new or newer than
	// the profile (an out-of-order or repeated event).
	Applied bool
	// Repeated is set instead of Applied when the stored document already
	// is the profile's version (the same updated_at): the event that wrote
	// it delivered again, whose announcement may not have gone out yet.
	Repeated bool
	// User is the stored document after the write, or the stored document
	// when Repeated; zero otherwise.
	User userv1.User
}

// Options configures New. DB is required; everything else has a default.
type Options struct {
	DB *mongo.Database
	// Redis, when set, shares cached identities between gateway instances.
	Redis redis.UniversalClient
	// RedisPrefix starts every key this package writes (DefaultRedisPrefix
	// when empty; tests pass testkit.Redis(t).Prefix).
	RedisPrefix string
	RedisTTL    time.Duration
	LocalTTL    time.Duration
	LocalSize   int
	Log         *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Available, when set, is asked before MongoDB is: while it returns an
	// error (mongox.Health.Err: the database is known to be down) that
	// error is the answer at once, instead of a wait for server selection.
	// Cached identities are still served.
	Available func() error
}

// Service resolves, reads and writes users.
type Service struct {
	store     *store
	local     *localCache
	redis     *redisCache // nil without Redis
	log       *slog.Logger
	now       func() time.Time
	available func() error
}

// New returns a Service over o.DB's users collection. Call EnsureIndexes once
// at startup.
func New(o Options) *Service {
	if o.LocalTTL <= 0 {
		o.LocalTTL = DefaultLocalTTL
	}
	if o.LocalSize <= 0 {
		o.LocalSize = DefaultLocalSize
	}
	if o.RedisTTL <= 0 {
		o.RedisTTL = DefaultRedisTTL
	}
	if o.RedisPrefix == "" {
		o.RedisPrefix = DefaultRedisPrefix
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Service{
		store:     &store{coll: o.DB.Collection(Collection)},
		local:     newLocalCache(o.LocalSize, o.LocalTTL),
		log:       o.Log,
		now:       o.Now,
		available: o.Available,
	}
	if o.Redis != nil {
		s.redis = &redisCache{client: o.Redis, prefix: o.RedisPrefix, ttl: o.RedisTTL}
	}
	return s
}

// EnsureIndexes creates the unique clerk_id index the race-safe first-request
// creation relies on.
func (s *Service) EnsureIndexes(ctx context.Context) error {
	_, err := mongox.EnsureIndexes(ctx, s.store.coll.Database(), indexes(), s.log)
	return err
}

// Resolve maps a Clerk user id to the internal identity, creating a minimal
// user document the first time a user is seen (Clerk's user.created webhook
// may arrive after the user's first request, or never). A banned user is
// returned with Banned set and a nil error; the caller answers 403. A
// database that cannot be reached is an rpcerr Unavailable (503).
func (s *Service) Resolve(ctx context.Context, clerkID string) (Identity, error) {
	if strings.TrimSpace(clerkID) == "" {
		return Identity{}, rpcerr.New(rpcerr.Unauthorized, "token has no subject")
	}
	if id, ok := s.local.get(clerkID, s.now()); ok {
		return id, nil
	}
	gen := s.local.generation()
	if s.redis != nil {
		id, ok, err := s.redis.get(ctx, clerkID)
		if err != nil {
			s.log.WarnContext(ctx, "identity cache unavailable; reading mongodb", "err", err)
		}
		if ok {
			s.local.putIfUnchanged(id, gen, s.now())
			return id, nil
		}
	}
	if err := s.storeDown(); err != nil {
		return Identity{}, err
	}
	id, err := s.store.findOrCreate(ctx, clerkID, s.now().UTC())
	if err != nil {
		return Identity{}, err
	}
	if s.local.putIfUnchanged(id, gen, s.now()) && s.redis != nil {
		if err := s.redis.put(ctx, id); err != nil {
			s.log.WarnContext(ctx, "identity cache write failed", "err", err)
		}
	}
	return id, nil
}

// Lookup reads the identity of clerkID from MongoDB, bypassing the caches
// and creating nothing; ErrNotFound when there is no document.
func (s *Service) Lookup(ctx context.Context, clerkID string) (Identity, error) {
	if err := s.storeDown(); err != nil {
		return Identity{}, err
	}
	return s.store.findByClerkID(ctx, clerkID)
}

// Get returns the user document with internal id userID (GET /auth/me);
// ErrNotFound for a malformed or unknown id.
func (s *Service) Get(ctx context.Context, userID string) (userv1.User, error) {
	if err := s.storeDown(); err != nil {
		return userv1.User{}, err
	}
	return s.store.get(ctx, userID)
}

// storeDown is Options.Available's error, nil when MongoDB may be asked.
func (s *Service) storeDown() error {
	if s.available == nil {
		return nil
	}
	return DatabaseErrors.Map(s.available())
}

// ApplyProfile creates or updates the document of p.ClerkID unless the
// stored one is as new or newer, in a single conditional write. The cached
// identity is dropped whether or not the write applied, so a retried
// webhook also retries an invalidation that failed the first time.
func (s *Service) ApplyProfile(ctx context.Context, p Profile) (ApplyResult, error) {
	if p.ClerkID == "" {
		return ApplyResult{}, rpcerr.Invalid("id", "user id is missing")
	}
	if err := s.storeDown(); err != nil {
		return ApplyResult{}, err
	}
	res, err := s.store.applyProfile(ctx, p)
	if err != nil {
		return ApplyResult{}, err
	}
	if err := s.Invalidate(ctx, p.ClerkID); err != nil {
		return ApplyResult{}, err
	}
	return res, nil
}

// Delete removes the document of clerkID, reporting whether there was one,
// and drops its cached identity.
func (s *Service) Delete(ctx context.Context, clerkID string) (bool, error) {
	if err := s.storeDown(); err != nil {
		return false, err
	}
	deleted, err := s.store.deleteByClerkID(ctx, clerkID)
	if err != nil {
		return false, err
	}
	if err := s.Invalidate(ctx, clerkID); err != nil {
		return false, err
	}
	return deleted, nil
}

// Invalidate drops the cached identity of clerkID in this process and in
// Redis. A Redis failure is returned (as rpcerr Unavailable) so a webhook
// can be retried: a stale shared entry would otherwise outlive a ban.
func (s *Service) Invalidate(ctx context.Context, clerkID string) error {
	s.local.invalidate(clerkID)
	if s.redis == nil {
		return nil
	}
	if err := s.redis.invalidate(ctx, clerkID); err != nil {
		return fmt.Errorf("invalidate cached identity: %w: %w", rpcerr.New(rpcerr.Unavailable, "cache unavailable"), err)
	}
	return nil
}
