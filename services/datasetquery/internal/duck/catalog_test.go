package duck_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/datasetquery/internal/datasets"
	"github.com/nonefinity/backend/services/datasetquery/internal/duck"
	"github.com/nonefinity/backend/services/datasetquery/internal/events"
)

// TestCatalogCopyFollowsDatasetEvents: with the change feed live, a warm
// query does not read the catalog; a dataset event of the user (published
// by any instance), a reconnect, or a name the copy does not know makes
// the next query read it again.
func TestCatalogCopyFollowsDatasetEvents(t *testing.T) {
	e := newEnv(t, duck.Config{})
	ctx := ctxT(t)
	ns := testkit.NATS(t)
	feedConn := ns.Conn(t)
	reconnected := make(chan struct{}, 1)
	feedConn.SetReconnectHandler(func(*nats.Conn) { reconnected <- struct{}{} })
	feed, err := events.WatchChanges(feedConn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(feed.Stop)
	e.m.TrackChanges(feed)
	other := ns.Conn(t) // another instance publishing its writes

	p1 := e.putParquet(t, "users/"+alice+"/datasets/d1/part-0.parquet", "SELECT 1 AS v")
	e.cat.set(alice, datasets.Table{Name: "t1", DatasetID: "d1", Parts: []datasets.Part{p1}})
	value := func(query string) any {
		t.Helper()
		res, err := e.m.Query(ctx, alice, query, 10)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return cell(t, res, 0, "v")
	}
	reads := func(want int) {
		t.Helper()
		if got := e.cat.readsOf(alice); got != want {
			t.Fatalf("catalog read %d times, want %d", got, want)
		}
	}
	announce := func(event, owner string) {
		t.Helper()
		if err := other.Publish(contracts.EventSubject(contracts.DomainDataset, event, owner), []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		// A query reaches an instance on the connection its events arrive
		// on, after the events already routed to it; a round trip on the
		// feed's connection stands for that query's arrival.
		if err := other.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := feedConn.Flush(); err != nil {
			t.Fatal(err)
		}
	}

	if v := value("SELECT v FROM t1"); v != float64(1) {
		t.Fatalf("first query %v", v)
	}
	reads(1)
	value("SELECT v FROM t1")
	reads(1)

	// Rewritten elsewhere: until its event arrives, this instance answers
	// from its copy (the write's event is what makes it visible).
	p2 := e.putParquet(t, "users/"+alice+"/datasets/d1/part-0.parquet", "SELECT 2 AS v")
	e.cat.set(alice, datasets.Table{Name: "t1", DatasetID: "d1", Parts: []datasets.Part{p2}})
	announce(contracts.EventUpdated, bob)
	if v := value("SELECT v FROM t1"); v != float64(1) {
		t.Fatalf("another user's event changed alice's answer: %v", v)
	}
	reads(1)
	announce(contracts.EventUpdated, alice)
	if v := value("SELECT v FROM t1"); v != float64(2) {
		t.Fatalf("after the update event %v, want 2", v)
	}
	reads(2)

	// A dataset the copy does not know yet is looked up, event or not.
	p3 := e.putParquet(t, "users/"+alice+"/datasets/d2/part-0.parquet", "SELECT 3 AS v")
	e.cat.set(alice, datasets.Table{Name: "t1", DatasetID: "d1", Parts: []datasets.Part{p2}},
		datasets.Table{Name: "t2", DatasetID: "d2", Parts: []datasets.Part{p3}})
	if v := value("SELECT v FROM t2"); v != float64(3) {
		t.Fatalf("new dataset %v", v)
	}
	reads(3)

	// Deleted elsewhere: the event drops the view.
	e.cat.set(alice, datasets.Table{Name: "t2", DatasetID: "d2", Parts: []datasets.Part{p3}})
	announce(contracts.EventDeleted, alice)
	if _, err := e.m.Query(ctx, alice, "SELECT v FROM t1", 10); err == nil {
		t.Fatal("a deleted dataset still answers after its event")
	}

	// Events published while this instance was disconnected are lost: the
	// reconnect alone makes the copy untrusted.
	before := e.cat.readsOf(alice)
	value("SELECT v FROM t2")
	reads(before)
	ns.Restart(t)
	select {
	case <-reconnected:
	case <-time.After(10 * time.Second):
		t.Fatal("no reconnect")
	}
	value("SELECT v FROM t2")
	reads(before + 1)
	value("SELECT v FROM t2")
	reads(before + 1)
}
