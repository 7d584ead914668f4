package testkit

import (
	"context"
	"net/url"
	"sync"
	"testing"

	"github.com/nonefinity/backend/pkg/embedded"
)

// StoppableMongo is a FerretDB of one test's own that the test can stop and
// start again, on the same address and data: a MongoDB outage for the code
// under test, which keeps its client across it.
type StoppableMongo struct {
	dir, addr string

	mu  sync.Mutex
	fdb *embedded.FerretDB
}

// OwnMongo starts a FerretDB for this test alone (unlike Mongo, which
// shares the binary's). It is closed when the test ends.
func OwnMongo(t testing.TB) *StoppableMongo {
	t.Helper()
	// The first start picks a free port; restarts bind the same one.
	m := &StoppableMongo{dir: t.TempDir(), addr: "127.0.0.1:0"}
	m.Start(t)
	t.Cleanup(m.Stop)
	return m
}

// URI is the MongoDB connection string; it stays the same across restarts.
func (m *StoppableMongo) URI() string { return "mongodb://" + m.addr + "/" }

// Stop shuts FerretDB down; connections fail until Start. Stopping a
// stopped server does nothing.
func (m *StoppableMongo) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fdb != nil {
		m.fdb.Close()
		m.fdb = nil
	}
}

// Start starts FerretDB again on the same address and data.
func (m *StoppableMongo) Start(t testing.TB) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fdb != nil {
		return
	}
	fdb, err := embedded.StartFerretDB(context.Background(), embedded.FerretOptions{Dir: m.dir, Addr: m.addr})
	if err != nil {
		t.Fatalf("testkit: start ferretdb: %v", err)
	}
	m.fdb = fdb
	if m.addr == "127.0.0.1:0" {
		u, err := url.Parse(fdb.URI())
		if err != nil {
			t.Fatalf("testkit: ferretdb uri: %v", err)
		}
		m.addr = u.Host
	}
}
