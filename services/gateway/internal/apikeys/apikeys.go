// Package apikeys is the core of personal API keys: a user makes keys with
// a name, scopes and an optional expiry, sees them listed without their
// secret, renames them, changes their scopes, revokes and deletes them; the
// gateway's authentication turns a key back into its owner and scopes.
//
// A key is shown once, when it is made. Only its HMAC-SHA-256 under the
// server's pepper is stored, and Authenticate finds a key by that digest in
// a cache first, so the hot path never reads the database. A key that stops
// working as it did (revoked, deleted, erased, scopes changed) is dropped
// from this instance's cache at once and announced through the Publisher,
// so every other instance drops it too; the cache's TTL bounds how long an
// instance that missed the announcement keeps it.
package apikeys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nonefinity/backend/contracts/apikeyv1"
	"github.com/nonefinity/backend/pkg/fielderr"
	"github.com/nonefinity/backend/services/gateway/internal/access"
)

// Sentinel errors of the core; the HTTP adapter maps them once.
var (
	// ErrNotFound: no such key for this owner (another owner's key too).
	ErrNotFound = errors.New("API key not found")
	// ErrInvalid: an input field breaks a rule (see fielderr.Error).
	ErrInvalid = errors.New("invalid input")
	// ErrNothingToUpdate: an update that names no field.
	ErrNothingToUpdate = errors.New("no fields to update")
	// ErrRevoked: a revoked key cannot be changed.
	ErrRevoked = errors.New("API key is revoked")
	// ErrTooMany: the owner has MaxPerUser keys already.
	ErrTooMany = errors.New("too many API keys")
	// ErrUnknownKey, ErrKeyRevoked, ErrKeyExpired: Authenticate's refusals.
	ErrUnknownKey = errors.New("invalid API key")
	ErrKeyRevoked = errors.New("this API key has been revoked")
	ErrKeyExpired = errors.New("this API key has expired")
	// ErrDatabaseUnavailable: the store cannot serve now.
	ErrDatabaseUnavailable = errors.New("database unavailable")
)

// Key is a stored personal API key, without its secret.
type Key struct {
	ID      string
	OwnerID string
	// ClerkID is the owner's Clerk id, so authentication can ask the users
	// cache whether the owner is banned, as it does for a session token.
	ClerkID string
	Name    string
	// Prefix is the start of the key ("nf_dev_Ab3dE9xQ"), to recognise it.
	Prefix string
	Scopes []access.Scope
	// ExpiresAt, LastUsedAt and RevokedAt are zero when unset.
	ExpiresAt  time.Time
	LastUsedAt time.Time
	RevokedAt  time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Active reports whether the key works at now: not revoked, not expired.
func (k Key) Active(now time.Time) bool { return k.refusal(now) == nil }

func (k Key) refusal(now time.Time) error {
	switch {
	case !k.RevokedAt.IsZero():
		return ErrKeyRevoked
	case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
		return ErrKeyExpired
	}
	return nil
}

// Owner is who makes or manages keys: the session's user.
type Owner struct {
	UserID  string
	ClerkID string
}

// NewKey is what a caller asks for when making a key.
type NewKey struct {
	Name   string
	Scopes []string
	// ExpiresAt is optional (nil: never expires).
	ExpiresAt *time.Time
}

// Created is a new key with its plaintext, which is never available again.
type Created struct {
	Key
	Plaintext string
}

// Change is an update: the fields given are changed.
type Change struct {
	Name   *string
	Scopes *[]string
}

// Patch is a validated Change, as the store applies it.
type Patch struct {
	Name   *string
	Scopes []access.Scope // nil: unchanged
}

// Store keeps keys. Every method but FindByDigest, TouchLastUsed and
// DeleteOwner is scoped to one owner: another owner's key is ErrNotFound.
type Store interface {
	// Insert stores k (its ID empty) under digest and returns it with its
	// ID, unless the owner holds max keys already (ErrTooMany), even with
	// other creations racing it.
	Insert(ctx context.Context, k Key, digest Digest, max int) (Key, error)
	List(ctx context.Context, ownerID string) ([]Key, error)
	Get(ctx context.Context, ownerID, id string) (Key, error)
	Update(ctx context.Context, ownerID, id string, p Patch, now time.Time) (Key, error)
	Revoke(ctx context.Context, ownerID, id string, at time.Time) (Key, error)
	Delete(ctx context.Context, ownerID, id string) error
	// FindByDigest returns the key stored under digest (revoked and
	// expired ones too) and the digest as stored; ErrNotFound when none.
	FindByDigest(ctx context.Context, digest Digest) (Key, Digest, error)
	// TouchLastUsed sets last_used_at to at unless it is already later
	// than at minus every, so that several instances write it at most once
	// per every.
	TouchLastUsed(ctx context.Context, id string, at time.Time, every time.Duration) error
	// DeleteOwner deletes every key of ownerID, returning their ids.
	DeleteOwner(ctx context.Context, ownerID string) ([]string, error)
}

// Publisher announces that a key must be dropped from every cache.
type Publisher interface {
	Invalidated(ctx context.Context, k Key, reason string, at time.Time) error
}

// Limits on input.
const (
	MaxNameLen = 100
	// DefaultMaxPerUser is Options.MaxPerUser's default.
	DefaultMaxPerUser = 25
	// DefaultCacheTTL is how long an instance trusts a cached key without
	// reading it again (the backstop of the invalidation events).
	DefaultCacheTTL = 30 * time.Second
	// DefaultCacheSize bounds the cached keys of one instance.
	DefaultCacheSize = 10_000
	// TouchEvery is how often at most last_used_at is written per key.
	TouchEvery = time.Minute
)

// Options configures New. Store and Pepper are required.
type Options struct {
	Store     Store
	Publisher Publisher // nil: announce nothing (one instance)
	// Pepper is the HMAC key of every stored digest (APP_API_KEY_PEPPER).
	Pepper []byte
	// Env names the environment in new keys (nf_<env>_…).
	Env        string
	MaxPerUser int
	CacheTTL   time.Duration
	CacheSize  int
	Log        *slog.Logger
	Now        func() time.Time
	// Available, when set, is asked before the store is: while it returns
	// an error (mongox.Health.Err: the database is known to be down) the
	// answer is ErrDatabaseUnavailable at once instead of after a wait for
	// server selection. Cached keys are still served.
	Available func() error
}

// Service is the core.
type Service struct {
	store      Store
	publisher  Publisher
	hash       hasher
	env        string
	maxPerUser int
	cache      *cache
	touches    chan touch
	log        *slog.Logger
	now        func() time.Time
	available  func() error
}

// New returns the core; run Run in the background to record key use.
func New(o Options) (*Service, error) {
	if o.Store == nil {
		return nil, errors.New("apikeys: Store is required")
	}
	if len(o.Pepper) < MinPepperLen {
		return nil, fmt.Errorf("apikeys: the pepper must have at least %d bytes", MinPepperLen)
	}
	if o.MaxPerUser <= 0 {
		o.MaxPerUser = DefaultMaxPerUser
	}
	if o.CacheTTL <= 0 {
		o.CacheTTL = DefaultCacheTTL
	}
	if o.CacheSize <= 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{
		store: o.Store, publisher: o.Publisher, hash: hasher{pepper: slices.Clone(o.Pepper)},
		env: envLabel(o.Env), maxPerUser: o.MaxPerUser,
		cache:   newCache(o.CacheSize, o.CacheTTL),
		touches: make(chan touch, 1024),
		log:     o.Log, now: o.Now, available: o.Available,
	}, nil
}

// storeDown is ErrDatabaseUnavailable while Options.Available reports the
// database down, nil when the store may be asked.
func (s *Service) storeDown() error {
	if s.available == nil {
		return nil
	}
	if err := s.available(); err != nil {
		return fmt.Errorf("%w: %w", ErrDatabaseUnavailable, err)
	}
	return nil
}

func invalid(field, message string) error { return fielderr.New(ErrInvalid, field, message) }

func checkName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", invalid("name", "name must not be empty")
	case utf8.RuneCountInString(name) > MaxNameLen:
		return "", invalid("name", fmt.Sprintf("name must be at most %d characters", MaxNameLen))
	}
	return name, nil
}

func checkScopes(raw []string) ([]access.Scope, error) {
	if len(raw) == 0 {
		return nil, invalid("scopes", "at least one scope is required")
	}
	var out []access.Scope
	for _, s := range raw {
		sc, ok := access.Parse(strings.TrimSpace(s))
		if !ok {
			return nil, invalid("scopes", fmt.Sprintf("unknown scope %q; known scopes: %s", s, knownScopes()))
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out, nil
}

func knownScopes() string {
	var names []string
	for _, s := range access.All() {
		names = append(names, string(s))
	}
	return strings.Join(names, ", ")
}

// Create makes a key for owner. The plaintext is in the result and nowhere
// else. Concurrent creations cannot leave more than MaxPerUser keys: the
// store gives each key one of the owner's MaxPerUser slots, under a unique
// index.
func (s *Service) Create(ctx context.Context, owner Owner, in NewKey) (Created, error) {
	name, err := checkName(in.Name)
	if err != nil {
		return Created{}, err
	}
	scopes, err := checkScopes(in.Scopes)
	if err != nil {
		return Created{}, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	var expires time.Time
	if in.ExpiresAt != nil {
		if !in.ExpiresAt.After(now) {
			return Created{}, invalid("expires_at", "expires_at must be in the future")
		}
		expires = in.ExpiresAt.UTC().Truncate(time.Millisecond)
	}
	if err := s.storeDown(); err != nil {
		return Created{}, err
	}
	plaintext, prefix, err := newSecret(s.env)
	if err != nil {
		return Created{}, fmt.Errorf("generate API key: %w", err)
	}
	k, err := s.store.Insert(ctx, Key{
		OwnerID: owner.UserID, ClerkID: owner.ClerkID, Name: name, Prefix: prefix, Scopes: scopes,
		ExpiresAt: expires, CreatedAt: now, UpdatedAt: now,
	}, s.hash.digest(plaintext), s.maxPerUser)
	if errors.Is(err, ErrTooMany) {
		return Created{}, s.tooMany()
	}
	if err != nil {
		return Created{}, err
	}
	return Created{Key: k, Plaintext: plaintext}, nil
}

func (s *Service) tooMany() error {
	return fmt.Errorf("%w: a user has at most %d API keys; delete one first", ErrTooMany, s.maxPerUser)
}

// MaxPerUser is the configured limit of keys per user.
func (s *Service) MaxPerUser() int { return s.maxPerUser }

// List returns owner's keys, newest first.
func (s *Service) List(ctx context.Context, owner Owner) ([]Key, error) {
	if err := s.storeDown(); err != nil {
		return nil, err
	}
	return s.store.List(ctx, owner.UserID)
}

// Get returns one of owner's keys.
func (s *Service) Get(ctx context.Context, owner Owner, id string) (Key, error) {
	if err := s.storeDown(); err != nil {
		return Key{}, err
	}
	return s.store.Get(ctx, owner.UserID, id)
}

// Update renames a key or replaces its scopes. New scopes apply on every
// instance as soon as the announcement arrives.
func (s *Service) Update(ctx context.Context, owner Owner, id string, ch Change) (Key, error) {
	if ch.Name == nil && ch.Scopes == nil {
		return Key{}, ErrNothingToUpdate
	}
	var p Patch
	if ch.Name != nil {
		name, err := checkName(*ch.Name)
		if err != nil {
			return Key{}, err
		}
		p.Name = &name
	}
	if ch.Scopes != nil {
		scopes, err := checkScopes(*ch.Scopes)
		if err != nil {
			return Key{}, err
		}
		p.Scopes = scopes
	}
	cur, err := s.Get(ctx, owner, id)
	if err != nil {
		return Key{}, err
	}
	if !cur.RevokedAt.IsZero() {
		return Key{}, ErrRevoked
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	k, err := s.store.Update(ctx, owner.UserID, id, p, now)
	if err != nil {
		return Key{}, err
	}
	if p.Scopes != nil {
		s.invalidate(ctx, k, apikeyv1.ReasonUpdated, now)
	}
	return k, nil
}

// Revoke stops a key for good; it stays listed, inactive. Revoking a
// revoked key answers it as it is.
func (s *Service) Revoke(ctx context.Context, owner Owner, id string) (Key, error) {
	if err := s.storeDown(); err != nil {
		return Key{}, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	k, err := s.store.Revoke(ctx, owner.UserID, id, now)
	if err != nil {
		return Key{}, err
	}
	s.invalidate(ctx, k, apikeyv1.ReasonRevoked, now)
	return k, nil
}

// Delete removes a key.
func (s *Service) Delete(ctx context.Context, owner Owner, id string) error {
	k, err := s.Get(ctx, owner, id)
	if err != nil {
		return err
	}
	if err := s.store.Delete(ctx, owner.UserID, id); err != nil {
		return err
	}
	s.invalidate(ctx, k, apikeyv1.ReasonDeleted, s.now().UTC())
	return nil
}

// EraseUser deletes every key of a deleted user (idempotent).
func (s *Service) EraseUser(ctx context.Context, userID string) error {
	if err := s.storeDown(); err != nil {
		return err
	}
	ids, err := s.store.DeleteOwner(ctx, userID)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	for _, id := range ids {
		s.invalidate(ctx, Key{ID: id, OwnerID: userID}, apikeyv1.ReasonErased, now)
	}
	return nil
}

// invalidate drops k from this instance's cache and announces it. A failed
// announcement is logged, not returned: the change is stored, and other
// instances drop the key when their entry expires (the cache TTL).
func (s *Service) invalidate(ctx context.Context, k Key, reason string, at time.Time) {
	s.cache.evict(k.ID)
	if s.publisher == nil {
		return
	}
	if err := s.publisher.Invalidated(context.WithoutCancel(ctx), k, reason, at); err != nil {
		s.log.WarnContext(ctx, "API key invalidation not announced; other instances drop it when their cache entry expires",
			"key_id", k.ID, "reason", reason, "err", err)
	}
}

// Evict drops a key from this instance's cache (an announcement from
// another instance).
func (s *Service) Evict(keyID string) { s.cache.evict(keyID) }
