package testkit

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// NATSJetStreamLater is an in-process nats-server whose JetStream is off
// until EnableJetStream: what a service meets when it connects before
// JetStream is ready.
type NATSJetStreamLater struct {
	// URL is the client URL.
	URL string

	dir    string
	server *server.Server
}

// NATSWithoutJetStream starts a nats-server with JetStream off, shut down
// when the test ends.
func NATSWithoutJetStream(t testing.TB) *NATSJetStreamLater {
	t.Helper()
	srv, err := server.NewServer(&server.Options{
		ServerName: "testkit-late-js", Host: "127.0.0.1", Port: server.RANDOM_PORT,
		NoSigs: true, NoLog: true,
	})
	if err != nil {
		t.Fatalf("testkit: configure nats: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "js")
	srv.Start()
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("testkit: nats not ready for connections after 10s")
	}
	return &NATSJetStreamLater{URL: srv.ClientURL(), dir: dir, server: srv}
}

// EnableJetStream turns JetStream on, stored in a directory of the test.
func (n *NATSJetStreamLater) EnableJetStream(t testing.TB) {
	t.Helper()
	if err := n.server.EnableJetStream(&server.JetStreamConfig{StoreDir: n.dir}); err != nil {
		t.Fatalf("testkit: enable jetstream: %v", err)
	}
}

// NATSClusterServers is an in-process JetStream cluster on loopback,
// private to one test.
type NATSClusterServers struct {
	// URLs are the client URLs of the nodes, in node order.
	URLs []string

	servers []*server.Server
}

// NATSCluster starts size nodes with JetStream that route to each other,
// and returns once every node accepts client connections. JetStream has no
// meta leader yet at that moment, as on a real cluster whose nodes were
// just started: tests of start-up races rely on it. The nodes are shut
// down when the test ends.
func NATSCluster(t testing.TB, size int) *NATSClusterServers {
	t.Helper()
	routePorts := make([]int, size)
	routes := make([]string, size)
	for i := range size {
		routePorts[i] = freeLoopbackPort(t)
		routes[i] = "nats://127.0.0.1:" + strconv.Itoa(routePorts[i])
	}
	c := &NATSClusterServers{}
	for i := range size {
		opts := &server.Options{
			ServerName: fmt.Sprintf("testkit-%d", i+1),
			Host:       "127.0.0.1",
			Port:       server.RANDOM_PORT,
			JetStream:  true,
			StoreDir:   filepath.Join(t.TempDir(), "js"),
			NoSigs:     true,
			NoLog:      true,
			Cluster:    server.ClusterOpts{Name: "testkit", Host: "127.0.0.1", Port: routePorts[i]},
			// Every node knows every route up front, as the deploy configs
			// do: JetStream sizes its meta group from the configured routes.
			Routes:                 server.RoutesFromStr(strings.Join(routes, ",")),
			DisableJetStreamBanner: true,
		}
		srv, err := server.NewServer(opts)
		if err != nil {
			t.Fatalf("testkit: configure nats node %d: %v", i+1, err)
		}
		srv.Start()
		c.servers = append(c.servers, srv)
		t.Cleanup(func() {
			srv.Shutdown()
			srv.WaitForShutdown()
		})
	}
	for i, srv := range c.servers {
		if !srv.ReadyForConnections(10 * time.Second) {
			t.Fatalf("testkit: nats node %d not ready for connections after 10s", i+1)
		}
		c.URLs = append(c.URLs, srv.ClientURL())
	}
	return c
}

// Conn connects to node i (0-based) only, as a service configured with that
// node's address would; closed when the test ends.
func (c *NATSClusterServers) Conn(t testing.TB, i int) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(c.URLs[i], nats.Name(t.Name()), nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatalf("testkit: connect to nats node %d: %v", i+1, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// freeLoopbackPort asks the kernel for a free port on 127.0.0.1. Route
// ports must be known before any node starts, since each node lists all of
// them; another process could take one in between, and the node's start
// then fails loudly.
func freeLoopbackPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testkit: find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
