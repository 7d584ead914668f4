package users

import (
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// localCache is a bounded LRU of identities whose entries also expire after
// a fixed TTL. The TTL bounds how long another gateway instance keeps serving
// an identity that a webhook has changed (only the instance that received
// the webhook can drop its own entry).
type localCache struct {
	mu      sync.Mutex
	ttl     time.Duration
	maxSize int
	order   *list.List // front = most recently used; values are *localEntry
	byClerk map[string]*list.Element
	// gen counts invalidations. A lookup that read MongoDB while an
	// invalidation happened must not put what it read into the cache: it
	// may be the state the invalidation was about.
	gen uint64
}

type localEntry struct {
	clerkID string
	id      Identity
	expires time.Time
}

func newLocalCache(size int, ttl time.Duration) *localCache {
	return &localCache{ttl: ttl, maxSize: size, order: list.New(), byClerk: make(map[string]*list.Element)}
}

func (c *localCache) get(clerkID string, now time.Time) (Identity, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byClerk[clerkID]
	if !ok {
		return Identity{}, false
	}
	e := el.Value.(*localEntry)
	if !now.Before(e.expires) {
		c.order.Remove(el)
		delete(c.byClerk, clerkID)
		return Identity{}, false
	}
	c.order.MoveToFront(el)
	return e.id, true
}

// generation returns the invalidation counter to pass to putIfUnchanged.
func (c *localCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// putIfUnchanged stores id unless an invalidation happened since gen was
// read; it reports whether it stored.
func (c *localCache) putIfUnchanged(id Identity, gen uint64, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return false
	}
	if el, ok := c.byClerk[id.ClerkID]; ok {
		e := el.Value.(*localEntry)
		e.id, e.expires = id, now.Add(c.ttl)
		c.order.MoveToFront(el)
		return true
	}
	c.byClerk[id.ClerkID] = c.order.PushFront(&localEntry{clerkID: id.ClerkID, id: id, expires: now.Add(c.ttl)})
	for c.order.Len() > c.maxSize {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.byClerk, oldest.Value.(*localEntry).clerkID)
	}
	return true
}

func (c *localCache) invalidate(clerkID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if el, ok := c.byClerk[clerkID]; ok {
		c.order.Remove(el)
		delete(c.byClerk, clerkID)
	}
}

// redisCache shares identities between gateway instances. It is an
// optimisation only: every error is returned for logging and the caller
// falls back to MongoDB.
type redisCache struct {
	client redis.UniversalClient
	prefix string
	ttl    time.Duration
}

// redisIdentity is the JSON stored under a key; field names are short but
// explicit so an operator can read them with redis-cli.
type redisIdentity struct {
	UserID  string `json:"user_id"`
	ClerkID string `json:"clerk_id"`
	Banned  bool   `json:"banned"`
}

func (c *redisCache) key(clerkID string) string { return c.prefix + "user:clerk:" + clerkID }

func (c *redisCache) get(ctx context.Context, clerkID string) (Identity, bool, error) {
	raw, err := c.client.Get(ctx, c.key(clerkID)).Bytes()
	if errors.Is(err, redis.Nil) {
		return Identity{}, false, nil
	}
	if err != nil {
		return Identity{}, false, fmt.Errorf("redis get identity: %w", err)
	}
	var ri redisIdentity
	if err := json.Unmarshal(raw, &ri); err != nil || ri.UserID == "" || ri.ClerkID != clerkID {
		// A foreign or corrupt value is a miss; the next put overwrites it.
		return Identity{}, false, nil
	}
	return Identity(ri), true, nil
}

func (c *redisCache) put(ctx context.Context, id Identity) error {
	raw, err := json.Marshal(redisIdentity(id))
	if err != nil {
		return fmt.Errorf("encode identity: %w", err)
	}
	if err := c.client.Set(ctx, c.key(id.ClerkID), raw, c.ttl).Err(); err != nil {
		return fmt.Errorf("redis set identity: %w", err)
	}
	return nil
}

func (c *redisCache) invalidate(ctx context.Context, clerkID string) error {
	if err := c.client.Del(ctx, c.key(clerkID)).Err(); err != nil {
		return fmt.Errorf("redis delete identity: %w", err)
	}
	return nil
}
