package testkit

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// WatchAcks reports what a durable consumer tells the server about each of
// its messages: "+ACK", "-NAK", "+TERM" (progress heartbeats, "+WPI", are
// left out), in order. Tests wait on these instead of polling state.
func WatchAcks(t testing.TB, nc *nats.Conn, stream, durable string) <-chan string {
	t.Helper()
	acks := make(chan string, 1024)
	sub, err := nc.Subscribe("$JS.ACK."+stream+"."+durable+".>", func(m *nats.Msg) {
		kind, _, _ := strings.Cut(string(m.Data), " ")
		if kind != "+WPI" {
			acks <- kind
		}
	})
	if err != nil {
		t.Fatalf("testkit: watch acks: %v", err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatalf("testkit: watch acks: %v", err)
	}
	return acks
}

// NextAck waits for the next acknowledgement from WatchAcks.
func NextAck(t testing.TB, acks <-chan string, timeout time.Duration) string {
	t.Helper()
	select {
	case kind := <-acks:
		return kind
	case <-time.After(timeout):
		t.Fatalf("testkit: no acknowledgement within %s", timeout)
		return ""
	}
}
