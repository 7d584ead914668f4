package testkit

import (
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nonefinity/backend/pkg/embedded"
)

// NATSServer is an in-process nats-server with JetStream, private to one test.
type NATSServer struct {
	// URL is the client URL; it stays the same across Restart.
	URL string

	dir  string
	port int

	mu     sync.Mutex
	server *embedded.NATSServer // nil while stopped
}

// NATS starts a fresh nats-server with JetStream stored in t.TempDir().
// It is shut down when the test ends.
func NATS(t testing.TB) *NATSServer {
	t.Helper()
	dir := t.TempDir()
	srv, err := embedded.StartNATS(embedded.NATSOptions{Dir: dir, ServerName: "testkit"})
	if err != nil {
		t.Fatalf("testkit: start nats: %v", err)
	}
	n := &NATSServer{URL: srv.ClientURL(), dir: dir, port: srv.Port(), server: srv}
	// Registered after t.TempDir so the server stops before its store
	// directory is removed (cleanups run last-in, first-out).
	t.Cleanup(n.Stop)
	return n
}

// Conn returns a new client connection, closed when the test ends. It
// reconnects quickly and forever, so it survives Restart.
func (n *NATSServer) Conn(t testing.TB) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(n.URL,
		nats.Name(t.Name()),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(20*time.Millisecond),
		nats.ReconnectJitter(0, 0),
	)
	if err != nil {
		t.Fatalf("testkit: connect to nats %s: %v", n.URL, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// JetStream returns a JetStream context over a new connection from Conn.
func (n *NATSServer) JetStream(t testing.TB) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(n.Conn(t))
	if err != nil {
		t.Fatalf("testkit: jetstream context: %v", err)
	}
	return js
}

// Restart shuts the server down and starts it again on the same port with
// the same store directory: persisted JetStream data survives and existing
// connections from Conn reconnect by themselves.
func (n *NATSServer) Restart(t testing.TB) {
	t.Helper()
	n.Stop()
	n.Start(t)
}

// Stop shuts the server down, leaving its port and store for Start: an
// outage for the code under test, whose connections keep reconnecting.
// Stopping a stopped server does nothing.
func (n *NATSServer) Stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.server != nil {
		n.server.Shutdown()
		n.server = nil
	}
}

// Start starts a stopped server again on the same port with the same
// store directory; a running server is left as it is.
func (n *NATSServer) Start(t testing.TB) {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.server != nil {
		return
	}
	srv, err := embedded.StartNATS(embedded.NATSOptions{Dir: n.dir, Port: n.port, ServerName: "testkit"})
	if err != nil {
		t.Fatalf("testkit: restart nats on port %d: %v", n.port, err)
	}
	n.server = srv
}

// WaitMsg waits for the next message on a synchronous subscription and
// fails the test if none arrives within timeout.
func WaitMsg(t testing.TB, sub *nats.Subscription, timeout time.Duration) *nats.Msg {
	t.Helper()
	msg, err := sub.NextMsg(timeout)
	if err != nil {
		t.Fatalf("testkit: no message on %q within %s: %v", sub.Subject, timeout, err)
	}
	return msg
}
