package app_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	"github.com/nonefinity/backend/contracts/paging"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/datasetquery/app"
)

// heldSource serves a CSV body whose downloads wait until released, so a
// test can keep conversions running as long as it needs.
type heldSource struct {
	body    []byte
	release chan struct{}
	once    sync.Once

	mu       sync.Mutex
	requests int
	arrived  chan struct{} // one value per download that started
}

func newHeldSource(t *testing.T, body []byte) (*heldSource, *httptest.Server) {
	t.Helper()
	s := &heldSource{body: body, release: make(chan struct{}), arrived: make(chan struct{}, 64)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests++
		s.mu.Unlock()
		s.arrived <- struct{}{}
		select {
		case <-s.release:
		case <-r.Context().Done():
			return
		}
		_, _ = w.Write(s.body)
	}))
	t.Cleanup(func() {
		s.unblock()
		srv.Close()
	})
	return s, srv
}

func (s *heldSource) unblock() { s.once.Do(func() { close(s.release) }) }

func (s *heldSource) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// One user's queued conversions cannot hold every worker: while three of
// alice's jobs are queued and her first is stuck downloading, bob's
// conversion runs at once on the other worker; alice's second job is not
// started before her first ends (one worker per user), and all of hers
// finish once released.
func TestConvertQueueIsFairBetweenUsers(t *testing.T) {
	e := start(t, func(c *app.Config) {
		c.DatasetConvertWorkers, c.DatasetConvertWorkersPerUser = 2, 1
	})
	fs := startFileService(t, e)
	body := []byte("id,v\n1,2\n3,4\n")
	src, srv := newHeldSource(t, body)

	var aliceIDs []string
	for i := range 3 {
		fid := fs.add(t, alice, fmt.Sprintf("slow%d", i), "text/csv", body, csvPreview(",", "id", "v"))
		fs.setURL(fid, srv.URL+"/slow.csv")
		r, err := e.ds.Convert(as(alice), dv1.ConvertRequest{FileID: fid, DatasetName: "slow" + strconv.Itoa(i), Async: true})
		if err != nil || !r.Accepted {
			t.Fatalf("alice's convert %d: %v %+v", i, err, r)
		}
		aliceIDs = append(aliceIDs, r.DatasetID)
	}
	select {
	case <-src.arrived:
	case <-time.After(30 * time.Second):
		t.Fatal("alice's first conversion never started")
	}

	bobFile := fs.add(t, bob, "quick", "text/csv", body, csvPreview(",", "id", "v"))
	d := convert(t, e, bob, bobFile, "quick", dv1.ConvertOptions{})
	if d.RowCount != 2 {
		t.Fatalf("bob's dataset %+v", d)
	}
	if n := src.count(); n != 1 {
		t.Fatalf("alice has %d conversions downloading while one is stuck; a user gets one worker", n)
	}

	src.unblock()
	for _, id := range aliceIDs {
		waitStatus(t, e, alice, id, dv1.StatusReady)
	}
}

// A user cannot queue more than DATASET_MAX_PENDING_CONVERSIONS at once:
// the next is a 429-class refusal that leaves no dataset behind.
func TestConvertPendingCapPerUser(t *testing.T) {
	e := start(t, func(c *app.Config) { c.DatasetMaxPendingConversions = 2 })
	fs := startFileService(t, e)
	body := []byte("id\n1\n")
	_, srv := newHeldSource(t, body)
	for i := range 2 {
		fid := fs.add(t, alice, "held", "text/csv", body, csvPreview(",", "id"))
		fs.setURL(fid, srv.URL+"/held.csv")
		if _, err := e.ds.Convert(as(alice), dv1.ConvertRequest{FileID: fid, DatasetName: "held" + strconv.Itoa(i), Async: true}); err != nil {
			t.Fatal(err)
		}
	}
	fid := fs.add(t, alice, "third", "text/csv", body, csvPreview(",", "id"))
	_, err := e.ds.Convert(as(alice), dv1.ConvertRequest{FileID: fid, DatasetName: "third", Async: true})
	testkit.WantCode(t, err, rpcerr.RateLimited)
	l, err := e.ds.List(as(alice), dv1.ListRequest{})
	if err != nil || l.Total != 2 {
		t.Fatalf("after the refusal alice has %d datasets (%v), want 2", l.Total, err)
	}
	// Another user is not affected.
	bobFile := fs.add(t, bob, "b", "text/csv", body, csvPreview(",", "id"))
	convert(t, e, bob, bobFile, "b", dv1.ConvertOptions{})
}

// waitStatus waits (bounded) for a dataset to reach status.
func waitStatus(t *testing.T, e env, user, id string, status dv1.Status) dv1.Dataset {
	t.Helper()
	var d dv1.Dataset
	testkit.Eventually(t, 60*time.Second, func() error {
		var err error
		if d, err = e.ds.Get(as(user), dv1.GetRequest{ID: id}); err == nil && d.Status == status {
			return nil
		}
		return fmt.Errorf("dataset %s: %v %+v, want %s", id, err, d, status)
	})
	return d
}

// A page of rejected rows never outgrows one message: 40 rejects of 60 KB
// each come in pages that say where the next starts, and together they
// are every reject.
func TestRejectsPagesFitOneMessage(t *testing.T) {
	e := start(t)
	fs := startFileService(t, e)
	var b strings.Builder
	b.WriteString("id,name\n")
	for i := range 100 {
		fmt.Fprintf(&b, "%d,a\n", i)
	}
	for i := range 40 {
		fmt.Fprintf(&b, "%d,a,%s\n", i, strings.Repeat("x", 60_000))
	}
	fid := fs.add(t, alice, "wide_rejects", "text/csv", []byte(b.String()), csvPreview(",", "id", "name"))
	d := convert(t, e, alice, fid, "wide_rejects", dv1.ConvertOptions{})
	if d.RowsRejected == nil || *d.RowsRejected != 40 {
		t.Fatalf("rows rejected %d, read %d, columns %d", *d.RowsRejected, *d.RowsRead, len(d.DataSchema))
	}
	seen, pages := 0, 0
	for offset := 0; ; pages++ {
		rj, err := e.ds.Rejects(as(alice), dv1.RejectsRequest{ID: d.ID, Page: paging.Page{Skip: offset, Limit: 1000}})
		if err != nil {
			t.Fatalf("rejects from %d: %v", offset, err)
		}
		for i, r := range rj.Rejects {
			if r.Line != int64(offset+i+102) || len(r.Raw) < 60_000 {
				t.Fatalf("reject %d: line %d, %d bytes", offset+i, r.Line, len(r.Raw))
			}
		}
		seen += len(rj.Rejects)
		if rj.NextOffset == 0 {
			break
		}
		if rj.NextOffset != offset+len(rj.Rejects) {
			t.Fatalf("next offset %d after %d rows from %d", rj.NextOffset, len(rj.Rejects), offset)
		}
		offset = rj.NextOffset
	}
	if seen != 40 || pages < 2 {
		t.Fatalf("%d rejects in %d pages", seen, pages+1)
	}
}
