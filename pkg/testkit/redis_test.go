package testkit_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/nonefinity/backend/pkg/testkit"
)

func TestRedisPrefixedKeysAreRemovedAtCleanup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	var prefix string
	var client *redis.Client
	t.Run("writer", func(t *testing.T) {
		r := testkit.Redis(t)
		prefix, client = r.Prefix, r.Client
		if !strings.HasSuffix(r.Prefix, ":") || !strings.HasPrefix(r.Key("a"), r.Prefix) {
			t.Fatalf("prefix %q, key %q", r.Prefix, r.Key("a"))
		}
		if err := r.Client.Set(ctx, r.Key("a"), "1", 0).Err(); err != nil {
			t.Fatalf("set: %v", err)
		}
		for i := range 700 { // more than one SCAN/UNLINK batch
			if err := r.Client.HSet(ctx, r.Key("h", strconv.Itoa(i)), "f", i).Err(); err != nil {
				t.Fatalf("hset: %v", err)
			}
		}
		got, err := r.Client.Get(ctx, r.Key("a")).Result()
		if err != nil || got != "1" {
			t.Fatalf("get = %q, %v", got, err)
		}
	})
	left, _, err := client.Scan(ctx, 0, prefix+"*", 10000).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Fatalf("%d keys left under %s after cleanup, e.g. %s", len(left), prefix, left[0])
	}
}

func TestRedisPrefixesDifferPerTest(t *testing.T) {
	a, b := testkit.Redis(t), testkit.Redis(t)
	if a.Prefix == b.Prefix {
		t.Fatalf("two calls got prefix %s", a.Prefix)
	}
}

func TestMiniRedisControlsTime(t *testing.T) {
	ctx := context.Background()
	m := testkit.MiniRedis(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer c.Close()
	if err := c.Set(ctx, "k", "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	m.FastForward(2 * time.Minute)
	if err := c.Get(ctx, "k").Err(); err != redis.Nil {
		t.Fatalf("get after expiry: %v, want redis.Nil", err)
	}
}
