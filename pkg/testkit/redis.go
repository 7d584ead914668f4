package testkit

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// RedisAddr is where Redis tests expect the real server.
const RedisAddr = "127.0.0.1:6379"

// RedisKeys is one test's share of the real Redis server: every key the
// test (and the code under test) writes must start with Prefix. Keys under
// Prefix are deleted when the test ends.
type RedisKeys struct {
	// Client is connected to RedisAddr; it is shared by the test binary and
	// must not be closed by tests.
	Client *redis.Client
	// Prefix is unique to the test and ends with ':'. Code under test that
	// builds its own keys should take it as its key prefix.
	Prefix string
}

// Key joins parts with ':' under the test's prefix.
func (r *RedisKeys) Key(parts ...string) string {
	return r.Prefix + strings.Join(parts, ":")
}

var sharedRedis struct {
	once   sync.Once
	client *redis.Client
	err    error
	seq    atomic.Int64
}

func connectSharedRedis() {
	client := redis.NewClient(&redis.Options{Addr: RedisAddr})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		if startErr := startRedisServer(ctx, client, "6379"); startErr != nil {
			_ = client.Close()
			sharedRedis.err = fmt.Errorf("redis at %s not reachable (%v) and could not be started: %w", RedisAddr, err, startErr)
			return
		}
	}
	sharedRedis.client = client
}

// startRedisServer starts a throw-away redis-server on 127.0.0.1:port (no
// persistence) and waits until client answers PING. It is left running
// for later test binaries.
func startRedisServer(ctx context.Context, client *redis.Client, port string) error {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return fmt.Errorf("find redis-server in PATH: %w", err)
	}
	out, err := exec.CommandContext(ctx, bin, "--bind", "127.0.0.1", "--port", port,
		"--save", "", "--appendonly", "no", "--daemonize", "yes").CombinedOutput()
	if err != nil {
		return fmt.Errorf("run %s: %w: %s", bin, err, strings.TrimSpace(string(out)))
	}
	// The daemon forks before it listens; there is no event to wait on
	// other than the server answering.
	for {
		if err := client.Ping(ctx).Err(); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.New("redis-server started but did not answer PING in time")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Redis returns the real Redis server at RedisAddr with a key prefix of
// this test's own. If nothing listens there, it starts redis-server from
// PATH once; if that fails, the test fails. Keys under the prefix are
// removed when the test ends.
func Redis(t testing.TB) *RedisKeys {
	t.Helper()
	sharedRedis.once.Do(connectSharedRedis)
	if sharedRedis.err != nil {
		t.Fatalf("testkit: %v", sharedRedis.err)
	}
	r := &RedisKeys{
		Client: sharedRedis.client,
		Prefix: "testkit:" + uniqueName(t, sharedRedis.seq.Add(1), 100) + ":",
	}
	t.Cleanup(func() {
		n, err := deleteKeysWithPrefix(r.Client, r.Prefix)
		if err != nil {
			t.Errorf("testkit: delete redis keys %s*: %v (%d deleted)", r.Prefix, err, n)
		}
	})
	return r
}

// deleteKeysWithPrefix removes prefix* with SCAN, which, unlike KEYS, does
// not block a server shared with other test binaries. The prefix holds no
// glob characters (see uniqueName).
func deleteKeysWithPrefix(client *redis.Client, prefix string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	deleted := 0
	iter := client.Scan(ctx, 0, prefix+"*", 500).Iterator()
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := client.Unlink(ctx, batch...).Err(); err != nil {
			return err
		}
		deleted += len(batch)
		batch = batch[:0]
		return nil
	}
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			if err := flush(); err != nil {
				return deleted, err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return deleted, err
	}
	return deleted, flush()
}

// MiniRedis starts an in-memory Redis emulation for tests that must
// control time (FastForward, SetTime). It is closed when the test ends.
func MiniRedis(t testing.TB) *miniredis.Miniredis {
	t.Helper()
	return miniredis.RunT(t)
}
