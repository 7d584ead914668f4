// Package sseticket issues and redeems the tickets that let a browser's
// EventSource open GET /api/v1/events: EventSource cannot send an
// Authorization header, and a session token in a URL would outlive the
// request in browser history, proxy logs and Referer headers. A ticket is
// the opposite of a token: random, good for one connection only, for a
// few seconds, and for the user who asked for it.
//
// With Redis configured, tickets live there so any gateway instance honours
// a ticket another issued (GETDEL takes one atomically: one redemption wins).
// Without Redis they live in the process, which suits one instance.
package sseticket

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultTTL is how long a ticket may wait for its connection: long enough
// for a page to ask for one and open the stream, short enough that one
// copied out of a URL is worthless.
const DefaultTTL = 30 * time.Second

// QueryParam is the query parameter that carries a ticket.
const QueryParam = "ticket"

// ErrInvalid is returned for a ticket that was never issued, is used up,
// or has expired; the three are not told apart to the caller.
var ErrInvalid = errors.New("sseticket: invalid or expired ticket")

// Ticket is what POST /api/v1/events/ticket answers.
type Ticket struct {
	Ticket    string    `json:"ticket" doc:"Pass as ?ticket= to GET /api/v1/events, once, before expires_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Store keeps issued tickets by the hash of their value until taken.
type Store interface {
	// Put records that the ticket hashed to key belongs to userID until
	// expiresAt.
	Put(ctx context.Context, key, userID string, expiresAt time.Time) error
	// Take removes the ticket and returns what Put recorded; found is false
	// when there is none (never issued, or taken already).
	Take(ctx context.Context, key string) (userID string, expiresAt time.Time, found bool, err error)
}

// Options configures New.
type Options struct {
	Store Store
	// TTL is a ticket's lifetime; default DefaultTTL.
	TTL time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Issuer issues and redeems tickets.
type Issuer struct {
	store Store
	ttl   time.Duration
	now   func() time.Time
}

// New returns an Issuer over o.Store.
func New(o Options) *Issuer {
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Issuer{store: o.Store, ttl: o.TTL, now: o.Now}
}

// Issue makes a ticket for userID.
func (i *Issuer) Issue(ctx context.Context, userID string) (Ticket, error) {
	if userID == "" {
		return Ticket{}, errors.New("sseticket: issue without a user")
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return Ticket{}, fmt.Errorf("sseticket: random: %w", err)
	}
	value := base64.RawURLEncoding.EncodeToString(raw)
	expires := i.now().Add(i.ttl).UTC().Truncate(time.Millisecond)
	if err := i.store.Put(ctx, storeKey(value), userID, expires); err != nil {
		return Ticket{}, fmt.Errorf("sseticket: store: %w", err)
	}
	return Ticket{Ticket: value, ExpiresAt: expires}, nil
}

// Redeem uses the ticket up and returns the user it was issued to. Any
// ticket is used up by the attempt, expired or not.
func (i *Issuer) Redeem(ctx context.Context, value string) (string, error) {
	if value == "" || len(value) > 128 {
		return "", ErrInvalid
	}
	userID, expires, found, err := i.store.Take(ctx, storeKey(value))
	if err != nil {
		return "", fmt.Errorf("sseticket: store: %w", err)
	}
	if !found || !i.now().Before(expires) {
		return "", ErrInvalid
	}
	return userID, nil
}

// storeKey is what a store keeps a ticket under: its SHA-256, so that
// whoever reads the store (redis-cli MONITOR, a dump) cannot use the
// tickets in it.
func storeKey(value string) string {
	sum := sha256.Sum256([]byte(value))
	return hex.EncodeToString(sum[:])
}

// MemoryStore keeps tickets in the process: for a single gateway instance.
type MemoryStore struct {
	mu      sync.Mutex
	tickets map[string]memoryTicket
	now     func() time.Time
}

type memoryTicket struct {
	userID  string
	expires time.Time
}

// NewMemoryStore returns an empty MemoryStore; now is the clock that ages
// tickets out of memory (default time.Now).
func NewMemoryStore(now func() time.Time) *MemoryStore {
	if now == nil {
		now = time.Now
	}
	return &MemoryStore{tickets: map[string]memoryTicket{}, now: now}
}

// Put implements Store. Expired tickets are dropped on the way, so tickets
// never redeemed do not pile up.
func (m *MemoryStore) Put(_ context.Context, key, userID string, expiresAt time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	for k, t := range m.tickets {
		if !now.Before(t.expires) {
			delete(m.tickets, k)
		}
	}
	m.tickets[key] = memoryTicket{userID: userID, expires: expiresAt}
	return nil
}

// Take implements Store.
func (m *MemoryStore) Take(_ context.Context, key string) (string, time.Time, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tickets[key]
	delete(m.tickets, key)
	return t.userID, t.expires, ok, nil
}

// RedisStore keeps tickets in Redis, shared by every gateway instance.
type RedisStore struct {
	client redis.UniversalClient
	prefix string
}

// NewRedisStore keeps tickets under keys starting with prefix.
func NewRedisStore(client redis.UniversalClient, prefix string) *RedisStore {
	return &RedisStore{client: client, prefix: prefix}
}

func (r *RedisStore) key(k string) string { return r.prefix + "sseticket:" + k }

// redisGrace keeps a key a little past its ticket's expiry: the expiry
// itself is checked against the issuing clock, Redis only cleans up.
const redisGrace = 5 * time.Second

// Put implements Store. The value is "<expiry unix ms>:<user id>".
func (r *RedisStore) Put(ctx context.Context, key, userID string, expiresAt time.Time) error {
	value := strconv.FormatInt(expiresAt.UnixMilli(), 10) + ":" + userID
	ttl := max(time.Until(expiresAt), 0) + redisGrace
	return r.client.Set(ctx, r.key(key), value, ttl).Err()
}

// Take implements Store with GETDEL: of two gateways redeeming the same
// ticket at once, one gets it.
func (r *RedisStore) Take(ctx context.Context, key string) (string, time.Time, bool, error) {
	value, err := r.client.GetDel(ctx, r.key(key)).Result()
	if errors.Is(err, redis.Nil) {
		return "", time.Time{}, false, nil
	}
	if err != nil {
		return "", time.Time{}, false, err
	}
	ms, userID, ok := strings.Cut(value, ":")
	n, perr := strconv.ParseInt(ms, 10, 64)
	if !ok || perr != nil || userID == "" {
		return "", time.Time{}, false, nil // not ours: no ticket
	}
	return userID, time.UnixMilli(n), true, nil
}
