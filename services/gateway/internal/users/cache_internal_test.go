package users

import (
	"testing"
	"time"
)

func TestLocalCacheEvictsLeastRecentlyUsed(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newLocalCache(2, time.Minute)
	put := func(clerk string) {
		if !c.putIfUnchanged(Identity{UserID: "id-" + clerk, ClerkID: clerk}, c.generation(), now) {
			t.Fatalf("put %s refused", clerk)
		}
	}
	put("a")
	put("b")
	if _, ok := c.get("a", now); !ok { // a is now the most recent
		t.Fatal("a missing")
	}
	put("c") // evicts b
	if _, ok := c.get("b", now); ok {
		t.Fatal("b should have been evicted")
	}
	for _, k := range []string{"a", "c"} {
		if id, ok := c.get(k, now); !ok || id.UserID != "id-"+k {
			t.Fatalf("%s = %+v, %v", k, id, ok)
		}
	}
	if c.len() != 2 {
		t.Fatalf("len %d, want 2", c.len())
	}
}

func TestLocalCacheExpires(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newLocalCache(10, time.Minute)
	c.putIfUnchanged(Identity{UserID: "x", ClerkID: "a"}, c.generation(), now)
	if _, ok := c.get("a", now.Add(59*time.Second)); !ok {
		t.Fatal("expired early")
	}
	if _, ok := c.get("a", now.Add(time.Minute)); ok {
		t.Fatal("served after its TTL")
	}
	if c.len() != 0 {
		t.Fatal("expired entry kept")
	}
}

// A lookup that started before an invalidation must not cache what it read.
func TestLocalCacheRefusesWritesAcrossAnInvalidation(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newLocalCache(10, time.Minute)
	gen := c.generation()
	c.invalidate("a")
	if c.putIfUnchanged(Identity{UserID: "stale", ClerkID: "a"}, gen, now) {
		t.Fatal("stored a read that raced an invalidation")
	}
	if _, ok := c.get("a", now); ok {
		t.Fatal("stale entry cached")
	}
}

func (c *localCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
