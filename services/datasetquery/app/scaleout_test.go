package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/nonefinity/backend/contracts"
	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/config"
	"github.com/nonefinity/backend/services/datasetquery/app"
)

// queryOnEvery runs sql until each of the instances (by micro id) has
// answered it at least once, checking every answer with check. Which
// instance answers a request is the queue group's choice; the per-instance
// request counters of the micro stats tell after each query who it was.
func queryOnEvery(t *testing.T, e env, ids []string, sql string, check func(q dv1.QueryReply, err error) string) {
	t.Helper()
	subject := dv1.Subject(dv1.OpQuery)
	before := waitInstances(t, e.nc, len(ids))
	answered := map[string]bool{}
	deadline := time.Now().Add(30 * time.Second)
	for len(answered) < len(ids) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: only %d of %d instances answered", sql, len(answered), len(ids))
		}
		q, err := e.ds.Query(as(alice), dv1.QueryRequest{Query: sql})
		if msg := check(q, err); msg != "" {
			t.Fatalf("%s (%d instances answered so far): %s", sql, len(answered), msg)
		}
		after := waitInstances(t, e.nc, len(ids))
		for _, id := range ids {
			if after[id][subject] > before[id][subject] {
				answered[id] = true
			}
		}
		before = after
	}
}

// rowsWant checks a single-row "count(*) AS n, … AS s" answer.
func rowsWant(n, s float64) func(dv1.QueryReply, error) string {
	return func(q dv1.QueryReply, err error) string {
		if err != nil || len(q.Data) != 1 || q.Data[0].Get("n") != n || q.Data[0].Get("s") != s {
			return fmt.Sprintf("want n=%v s=%v, got %v %v", n, s, err, q.Data)
		}
		return ""
	}
}

// unknownTable checks that the query was refused with 400.
func unknownTable(q dv1.QueryReply, err error) string {
	if re, ok := rpcerr.As(err); !ok || re.Code != rpcerr.BadRequest {
		return fmt.Sprintf("want 400, got %v %v", err, q.Data)
	}
	return ""
}

// TestTwoInstancesServeOneUser runs two instances (own DUCKDB_TEMP_FOLDER,
// shared NATS, MongoDB and bucket). Both first cache the dataset; after an
// insert, a rename and a delete — each handled by whichever instance the
// queue group picked — every instance's next answer reflects the change,
// its cached copy checked against the catalog and the objects' ETags.
func TestTwoInstancesServeOneUser(t *testing.T) {
	in := newInfra(t)
	in.run(t, t.TempDir())
	in.run(t, t.TempDir())
	e := in.env(t)
	stats := waitInstances(t, e.nc, 2)
	ids := make([]string, 0, 2)
	for id := range stats {
		ids = append(ids, id)
	}
	fs := startFileService(t, e)

	fid := fs.add(t, alice, "base", "text/csv", []byte("id,v\n1,10\n2,20\n3,30\n"), csvPreview(",", "id", "v"))
	d := convert(t, e, alice, fid, "sales", dv1.ConvertOptions{})
	queryOnEvery(t, e, ids, "SELECT count(*) AS n, CAST(sum(v) AS DOUBLE) AS s FROM sales", rowsWant(3, 60))

	more := fs.add(t, alice, "more", "text/csv", []byte("id,v\n4,40\n5,50\n"), csvPreview(",", "id", "v"))
	if r, err := e.ds.Insert(as(alice), dv1.InsertRequest{ID: d.ID, FileID: more}); err != nil || r.InsertedRows != 2 {
		t.Fatalf("insert %v %+v", err, r)
	}
	queryOnEvery(t, e, ids, "SELECT count(*) AS n, CAST(sum(v) AS DOUBLE) AS s FROM sales", rowsWant(5, 150))

	if _, err := e.ds.Update(as(alice), dv1.UpdateRequest{ID: d.ID, Name: ptr("sales_v2")}); err != nil {
		t.Fatal(err)
	}
	queryOnEvery(t, e, ids, "SELECT count(*) AS n, CAST(sum(v) AS DOUBLE) AS s FROM sales_v2", rowsWant(5, 150))
	queryOnEvery(t, e, ids, "SELECT count(*) AS n, CAST(sum(v) AS DOUBLE) AS s FROM sales", unknownTable)

	if r, err := e.ds.Delete(as(alice), dv1.DeleteRequest{ID: d.ID}); err != nil || !r.Deleted {
		t.Fatalf("delete %v %+v", err, r)
	}
	queryOnEvery(t, e, ids, "SELECT count(*) AS n, CAST(sum(v) AS DOUBLE) AS s FROM sales_v2", unknownTable)
}

// stallingSource serves one file body over HTTP; the first download sends
// half of it and then hangs until released, when it breaks the connection
// (the instance downloading it was killed meanwhile). Later downloads get
// the whole body.
type stallingSource struct {
	body    []byte
	started chan struct{} // closed when the first download is under way
	release chan struct{}

	mu       sync.Mutex
	requests int
	once     sync.Once
}

// unblock lets the stalled first download end (broken).
func (s *stallingSource) unblock() { s.once.Do(func() { close(s.release) }) }

func newStallingSource(t *testing.T, body []byte) (*stallingSource, *httptest.Server) {
	s := &stallingSource{body: body, started: make(chan struct{}), release: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests++
		first := s.requests == 1
		s.mu.Unlock()
		if !first {
			_, _ = w.Write(s.body)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(s.body)))
		_, _ = w.Write(s.body[:len(s.body)/2])
		w.(http.Flusher).Flush()
		close(s.started)
		select {
		case <-s.release:
		case <-r.Context().Done():
		}
		panic(http.ErrAbortHandler)
	}))
	t.Cleanup(func() {
		s.unblock()
		srv.Close()
	})
	return s, srv
}

// TestConversionResumesAfterKill kills the instance running a conversion
// (its NATS connection dies mid-download, so it can neither ack nor keep
// the job alive) and starts another on the same NATS, MongoDB and bucket:
// JetStream redelivers the job, the new instance finishes it, and exactly
// one ready dataset with exactly its one Parquet part results.
func TestConversionResumesAfterKill(t *testing.T) {
	in := newInfra(t)
	fastRedelivery := func(c *app.Config) { c.DatasetConvertAckWait = config.Duration(2 * time.Second) }
	first := in.run(t, t.TempDir(), fastRedelivery)
	e := in.env(t)
	waitInstances(t, e.nc, 1)
	fs := startFileService(t, e)

	var csv strings.Builder
	csv.WriteString("id,v\n")
	for i := 1; i <= 20000; i++ {
		csv.WriteString(strconv.Itoa(i) + "," + strconv.Itoa(i%7) + "\n")
	}
	src, srv := newStallingSource(t, []byte(csv.String()))
	fid := fs.add(t, alice, "big", "text/csv", []byte(csv.String()), csvPreview(",", "id", "v"))
	fs.setURL(fid, srv.URL+"/big.csv")

	r, err := e.ds.Convert(as(alice), dv1.ConvertRequest{FileID: fid, DatasetName: "big", Async: true})
	if err != nil || !r.Accepted || r.DatasetID == "" {
		t.Fatalf("convert %v %+v", err, r)
	}
	select {
	case <-src.started:
	case <-time.After(30 * time.Second):
		t.Fatal("the conversion never started downloading")
	}

	// Kill: the connection goes first (no ack, no progress heartbeat), then
	// Run is told to stop; it returns once the hung download breaks.
	first.nc.Close()
	stopped := make(chan error, 1)
	go func() { stopped <- first.stop() }()

	// The outcome event of this dataset, whichever instance publishes it.
	outcome := make(chan string, 4)
	sub, err := e.nc.Subscribe(contracts.EventFilter(contracts.DomainDataset, "*"), func(m *nats.Msg) {
		var ev struct {
			DatasetID string `json:"dataset_id"`
		}
		if json.Unmarshal(m.Data, &ev) == nil && ev.DatasetID == r.DatasetID {
			outcome <- m.Subject
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := e.nc.Flush(); err != nil {
		t.Fatal(err)
	}

	in.run(t, t.TempDir(), fastRedelivery)
	select {
	case subj := <-outcome:
		if !strings.HasPrefix(subj, contracts.EventSubject(contracts.DomainDataset, contracts.EventConverted, "")) {
			t.Fatalf("outcome event %s", subj)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("no outcome event after the restart")
	}
	d, err := e.ds.Get(as(alice), dv1.GetRequest{ID: r.DatasetID})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != dv1.StatusReady || d.RowCount != 20000 {
		t.Fatalf("resumed dataset %+v", d)
	}
	src.mu.Lock()
	downloads := src.requests
	src.mu.Unlock()
	if downloads != 2 {
		t.Fatalf("the file was downloaded %d times, want 2 (killed, then resumed)", downloads)
	}
	// The killed instance's download breaks now; it must not undo anything.
	src.unblock()
	select {
	case <-stopped:
	case <-time.After(60 * time.Second):
		t.Fatal("the killed instance never returned")
	}

	l, err := e.ds.List(as(alice), dv1.ListRequest{})
	if err != nil || l.Total != 1 || l.Datasets[0].ID != r.DatasetID || l.Datasets[0].Status != dv1.StatusReady {
		t.Fatalf("datasets after resume %v %+v", err, l)
	}
	var keys []string
	for obj, err := range e.store.List(context.Background(), "users/"+alice+"/datasets/") {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, obj.Key)
	}
	if len(keys) != 1 || keys[0] != "users/"+alice+"/datasets/"+r.DatasetID+"/part-0.parquet" {
		t.Fatalf("dataset objects %v", keys)
	}
	if row := queryOne(t, e, alice, "SELECT count(*) AS n, CAST(sum(v) AS DOUBLE) AS s FROM big"); row["n"] != float64(20000) {
		t.Fatalf("resumed dataset answers %+v", row)
	}
}
