package testkit

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The fallback that starts redis-server when 6379 is not answering, tried
// on a free port so the shared server is left alone.
func TestStartRedisServerFallback(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()

	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + port, MaxRetries: -1})
	t.Cleanup(func() { _ = client.Close() })
	if err := client.Ping(ctx).Err(); err == nil {
		t.Fatalf("something already answers on port %s", port)
	}
	if err := startRedisServer(ctx, client, port); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	// Stop the daemon this test started; SHUTDOWN closes the connection,
	// so its reply is an I/O error, not a failure.
	t.Cleanup(func() { _ = client.ShutdownNoSave(context.Background()).Err() })
	if err := client.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("set on started server: %v", err)
	}
}
