package apikeys

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// cache holds the keys this instance authenticated recently, by digest,
// for TTL. evict drops a key by id (an invalidation); gen counts evictions
// so that a lookup that read the store while one happened does not put
// back what it read, which may be the state the eviction was about.
type cache struct {
	mu      sync.RWMutex
	ttl     time.Duration
	maxSize int
	byHash  map[Digest]*entry
	byID    map[string]Digest
	gen     uint64
}

type entry struct {
	key     Key
	digest  Digest
	expires time.Time
	// touched is when last_used_at was last asked to be written (unix ns).
	touched atomic.Int64
}

func newCache(size int, ttl time.Duration) *cache {
	return &cache{ttl: ttl, maxSize: size, byHash: map[Digest]*entry{}, byID: map[string]Digest{}}
}

func (c *cache) get(d Digest, now time.Time) (*entry, bool) {
	c.mu.RLock()
	e, ok := c.byHash[d]
	c.mu.RUnlock()
	if !ok || !now.Before(e.expires) {
		return nil, false
	}
	return e, true
}

func (c *cache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// putIfUnchanged stores e unless an eviction happened since gen was read.
// A full cache makes room by dropping expired entries, then any one.
func (c *cache) putIfUnchanged(e *entry, gen uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(c.byHash) >= c.maxSize {
		for d, old := range c.byHash {
			if !now.Before(old.expires) {
				c.remove(d)
			}
		}
		for d := range c.byHash {
			if len(c.byHash) < c.maxSize {
				break
			}
			c.remove(d)
		}
	}
	e.expires = now.Add(c.ttl)
	c.byHash[e.digest] = e
	c.byID[e.key.ID] = e.digest
}

func (c *cache) remove(d Digest) {
	if e, ok := c.byHash[d]; ok {
		delete(c.byID, e.key.ID)
		delete(c.byHash, d)
	}
}

func (c *cache) evict(keyID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if d, ok := c.byID[keyID]; ok {
		c.remove(d)
	}
}

// Authenticate returns the key a request presented: from the cache when
// this instance saw it within the TTL, otherwise by one indexed lookup of
// its digest. A malformed, unknown, revoked or expired key is
// ErrUnknownKey, ErrKeyRevoked or ErrKeyExpired. last_used_at is recorded
// off the request path, at most once per TouchEvery.
func (s *Service) Authenticate(ctx context.Context, token string) (Key, error) {
	if err := checkShape(token); err != nil {
		return Key{}, ErrUnknownKey
	}
	d := s.hash.digest(token)
	now := s.now()
	e, ok := s.cache.get(d, now)
	if !ok {
		var err error
		if e, err = s.lookup(ctx, d, now); err != nil {
			return Key{}, err
		}
	}
	if err := e.key.refusal(now); err != nil {
		return Key{}, err
	}
	s.touch(e, now)
	return e.key, nil
}

func (s *Service) lookup(ctx context.Context, d Digest, now time.Time) (*entry, error) {
	if err := s.storeDown(); err != nil {
		return nil, err
	}
	gen := s.cache.generation()
	k, stored, err := s.store.FindByDigest(ctx, d)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrUnknownKey
	}
	if err != nil {
		return nil, err
	}
	// The store found it by equality on an index; compare again in
	// constant time so that no path decides on a variable-time compare.
	if !stored.equal(d) {
		return nil, ErrUnknownKey
	}
	e := &entry{key: k, digest: d}
	if !k.LastUsedAt.IsZero() {
		e.touched.Store(k.LastUsedAt.UnixNano())
	}
	if k.refusal(now) == nil {
		s.cache.putIfUnchanged(e, gen, now)
	}
	return e, nil
}

// touch is one use of a key to record: a key is sent to Run at most once
// per TouchEvery by this instance, and dropped when Run is behind.
type touch struct {
	id string
	at time.Time
}

func (s *Service) touch(e *entry, now time.Time) {
	last := e.touched.Load()
	if now.UnixNano()-last < int64(TouchEvery) || !e.touched.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	select {
	case s.touches <- touch{id: e.key.ID, at: now.UTC().Truncate(time.Millisecond)}:
	default:
	}
}

// Run writes last_used_at for the uses Authenticate records until ctx ends.
func (s *Service) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case t := <-s.touches:
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if err := s.store.TouchLastUsed(wctx, t.id, t.at, TouchEvery); err != nil {
				s.log.WarnContext(ctx, "API key last use not recorded", "key_id", t.id, "err", err)
			}
			cancel()
		}
	}
}
