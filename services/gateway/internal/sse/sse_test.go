package sse_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/pkg/reqctx"
	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/gateway/internal/sse"
)

const (
	userA = "65f2a1b3c4d5e6f708192c0a"
	userB = "65f2a1b3c4d5e6f708192c0b"
)

// waitFor bounds every wait on the stream.
const waitFor = 10 * time.Second

type env struct {
	t   *testing.T
	js  jetstream.JetStream
	nc  *nats.Conn
	srv *httptest.Server
}

// newEnv runs the handler behind a real HTTP server on an embedded NATS
// server with every stream. The caller's user id comes from the X-User
// header here; in the gateway, authentication puts it on the context.
func newEnv(t *testing.T, opts sse.Options) *env {
	t.Helper()
	ns := testkit.NATS(t)
	js := ns.JetStream(t)
	if err := natsx.EnsureStreams(context.Background(), js, contracts.Streams(), natsx.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	h := sse.New(js, opts)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := reqctx.With(r.Context(), reqctx.Meta{UserID: r.Header.Get("X-User")})
		h.ServeHTTP(w, r.WithContext(ctx))
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(h.Close)
	return &env{t: t, js: js, nc: ns.Conn(t), srv: srv}
}

// publish stores one event of user in JetStream, as a service would.
func (e *env) publish(domain, event, user string, payload any) {
	e.t.Helper()
	subject := contracts.EventSubject(domain, event, user)
	id := fmt.Sprintf("%s-%d", subject, time.Now().UnixNano())
	if err := natsx.Publish(context.Background(), e.js, subject, id, payload); err != nil {
		e.t.Fatal(err)
	}
}

// frame is one SSE event or comment as a client parses it.
type frame struct {
	ID, Event, Data string
	Comment         string
}

// stream is one open connection to the handler.
type stream struct {
	t      *testing.T
	cancel context.CancelFunc
	frames chan frame
	resp   *http.Response
}

func (e *env) connect(user, lastEventID string) *stream {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL, nil)
	req.Header.Set("X-User", user)
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	s := &stream{t: e.t, cancel: cancel, frames: make(chan frame, 64), resp: resp}
	e.t.Cleanup(s.close)
	if resp.StatusCode != http.StatusOK {
		return s
	}
	go func() {
		defer close(s.frames)
		sc := bufio.NewScanner(resp.Body)
		var f frame
		var data []string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if f.Event != "" || f.Comment != "" || len(data) > 0 {
					f.Data = strings.Join(data, "\n")
					s.frames <- f
				}
				f, data = frame{}, nil
			case strings.HasPrefix(line, ":"):
				f.Comment = strings.TrimSpace(line[1:])
			case strings.HasPrefix(line, "id: "):
				f.ID = line[4:]
			case strings.HasPrefix(line, "event: "):
				f.Event = line[7:]
			case strings.HasPrefix(line, "data: "):
				data = append(data, line[6:])
			}
		}
	}()
	return s
}

func (s *stream) close() {
	s.cancel()
	s.resp.Body.Close()
}

// next returns the next event, skipping heartbeat comments.
func (s *stream) next() frame {
	s.t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case f, ok := <-s.frames:
			if !ok {
				s.t.Fatal("stream ended")
			}
			if f.Comment != "" {
				continue
			}
			return f
		case <-deadline:
			s.t.Fatal("no event within the deadline")
		}
	}
}

// ready waits for the first event, which says the consumers are in place.
func (s *stream) ready() frame {
	s.t.Helper()
	f := s.next()
	if f.Event != "ready" {
		s.t.Fatalf("first event %+v, want ready", f)
	}
	return f
}

type payload struct {
	N    int    `json:"n"`
	User string `json:"user"`
}

func decode(t *testing.T, f frame) payload {
	t.Helper()
	var p payload
	if err := json.Unmarshal([]byte(f.Data), &p); err != nil {
		t.Fatalf("data %q: %v", f.Data, err)
	}
	return p
}

// User B's stream gets B's events only, though A's were published first
// on the same streams; A gets A's, named <domain>.<event>.
func TestUsersOnlySeeTheirOwnEvents(t *testing.T) {
	e := newEnv(t, sse.Options{})
	a := e.connect(userA, "")
	b := e.connect(userB, "")
	a.ready()
	b.ready()

	e.publish(contracts.DomainFile, contracts.EventProcessed, userA, payload{N: 1, User: "a"})
	e.publish(contracts.DomainDataset, contracts.EventConverted, userA, payload{N: 2, User: "a"})
	e.publish(contracts.DomainUser, contracts.EventUpdated, userA, payload{N: 3, User: "a"})
	e.publish(contracts.DomainFile, contracts.EventProcessed, userB, payload{N: 4, User: "b"})

	got := b.next()
	if p := decode(t, got); p.User != "b" || p.N != 4 || got.Event != "file.processed" {
		t.Fatalf("user B's first event %+v", got)
	}
	// Every event of A, in publish order per stream; the SSE events of
	// different streams may interleave.
	seen := map[int]string{}
	for range 3 {
		f := a.next()
		p := decode(t, f)
		if p.User != "a" {
			t.Fatalf("user A got %+v", f)
		}
		seen[p.N] = f.Event
	}
	want := map[int]string{1: "file.processed", 2: "dataset.converted", 3: "user.updated"}
	for n, name := range want {
		if seen[n] != name {
			t.Errorf("A's event %d named %q, want %q", n, seen[n], name)
		}
	}
	// And B still gets nothing of A's: the next thing B sees is B's next.
	e.publish(contracts.DomainDataset, contracts.EventFailed, userA, payload{N: 5, User: "a"})
	e.publish(contracts.DomainDataset, contracts.EventFailed, userB, payload{N: 6, User: "b"})
	if p := decode(t, b.next()); p.N != 6 {
		t.Fatalf("user B then got event %d", p.N)
	}
}

// A client that reconnects with its Last-Event-ID gets exactly the events
// published while it was away, then the new ones; no duplicates.
func TestResumeWithLastEventIDHasNoGaps(t *testing.T) {
	e := newEnv(t, sse.Options{})
	// Events from before the first connection are history, not sent.
	e.publish(contracts.DomainFile, contracts.EventUploaded, userA, payload{N: 0})

	first := e.connect(userA, "")
	start := first.ready()
	if start.ID != "FILES:1,DATASETS:0,USERS:0" {
		t.Errorf("ready id %q", start.ID)
	}
	e.publish(contracts.DomainFile, contracts.EventProcessed, userA, payload{N: 1})
	e.publish(contracts.DomainDataset, contracts.EventConverted, userA, payload{N: 2})
	var last frame
	for range 2 {
		last = first.next()
	}
	// Whichever stream's event came last, the id covers both.
	if last.ID != "FILES:2,DATASETS:1,USERS:0" {
		t.Errorf("last id %q", last.ID)
	}
	first.close()

	// While the client is away: events of A on two streams, and of B.
	e.publish(contracts.DomainFile, contracts.EventFailed, userA, payload{N: 3})
	e.publish(contracts.DomainFile, contracts.EventProcessed, userB, payload{N: 99})
	e.publish(contracts.DomainUser, contracts.EventUpdated, userA, payload{N: 4})

	again := e.connect(userA, last.ID)
	if got := again.ready(); got.ID != last.ID {
		t.Errorf("ready after resume %q, want the client's %q", got.ID, last.ID)
	}
	missed := map[int]bool{}
	for range 2 {
		missed[decode(t, again.next()).N] = true
	}
	if !missed[3] || !missed[4] {
		t.Fatalf("missed events delivered %v, want 3 and 4", missed)
	}
	e.publish(contracts.DomainDataset, contracts.EventDeleted, userA, payload{N: 5})
	if f := again.next(); decode(t, f).N != 5 {
		t.Fatalf("after the missed events got %+v, want event 5", f)
	} else if f.ID != "FILES:3,DATASETS:2,USERS:1" { // FILES:4 is B's, never seen by A
		t.Errorf("id %q", f.ID)
	}

	// A malformed Last-Event-ID starts from now rather than failing.
	fresh := e.connect(userA, "garbage,FILES:x")
	if got := fresh.ready(); got.ID != "FILES:4,DATASETS:2,USERS:1" {
		t.Errorf("ready with a malformed id %q", got.ID)
	}
}

// When the client goes away, its consumers are deleted on the server.
func TestDisconnectReleasesConsumers(t *testing.T) {
	e := newEnv(t, sse.Options{})
	deleted, err := e.nc.SubscribeSync("$JS.EVENT.ADVISORY.CONSUMER.DELETED.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	s := e.connect(userA, "")
	s.ready()
	streams := []string{contracts.StreamFiles, contracts.StreamDatasets, contracts.StreamUsers}
	for _, name := range streams {
		if n := consumerCount(t, e.js, name); n != 1 {
			t.Fatalf("%s has %d consumers while connected, want 1", name, n)
		}
	}
	s.close()
	for range streams {
		testkit.WaitMsg(t, deleted, waitFor)
	}
	// The server sends the advisory a moment before the stream's own
	// consumer count drops, so the count is polled, well short of the
	// inactivity threshold that would also remove them.
	for _, name := range streams {
		testkit.Eventually(t, waitFor, func() error {
			if n := consumerCount(t, e.js, name); n != 0 {
				return fmt.Errorf("%s has %d consumers after the client left", name, n)
			}
			return nil
		})
	}
}

func consumerCount(t *testing.T, js jetstream.JetStream, stream string) int {
	t.Helper()
	st, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Consumers
}

// An idle connection gets heartbeat comments.
func TestHeartbeat(t *testing.T) {
	e := newEnv(t, sse.Options{Heartbeat: 20 * time.Millisecond})
	s := e.connect(userA, "")
	s.ready()
	deadline := time.After(waitFor)
	for {
		select {
		case f := <-s.frames:
			if f.Comment == "heartbeat" && f.Event == "" {
				return
			}
		case <-deadline:
			t.Fatal("no heartbeat")
		}
	}
}

// Without a user on the context the handler refuses; without the streams
// it says the event streams are unavailable.
func TestRefusals(t *testing.T) {
	e := newEnv(t, sse.Options{})
	if s := e.connect("", ""); s.resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no user: %d", s.resp.StatusCode)
	}
}

// A stream whose owning service never ran does not keep the caller from the
// events of the streams that exist.
func TestMissingStreamIsSkipped(t *testing.T) {
	e := newEnv(t, sse.Options{})
	if err := e.js.DeleteStream(context.Background(), contracts.StreamDatasets); err != nil {
		t.Fatal(err)
	}
	s := e.connect(userA, "")
	if s.resp.StatusCode != http.StatusOK {
		t.Fatalf("one stream missing: %d", s.resp.StatusCode)
	}
	ready := s.ready()
	if !strings.Contains(ready.ID, contracts.StreamDatasets+":0") {
		t.Fatalf("ready id %q does not start the missing stream at 0", ready.ID)
	}
	e.publish(contracts.DomainFile, contracts.EventProcessed, userA, map[string]string{"file_id": "f1"})
	if f := s.next(); f.Event != "file.processed" {
		t.Fatalf("got %+v, want the file event", f)
	}
}

// Close ends open streams (server shutdown).
func TestCloseEndsStreams(t *testing.T) {
	ns := testkit.NATS(t)
	js := ns.JetStream(t)
	if err := natsx.EnsureStreams(context.Background(), js, contracts.Streams(), natsx.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	h := sse.New(js, sse.Options{})
	done := make(chan struct{})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/api/v1/events", nil)
	req = req.WithContext(reqctx.With(req.Context(), reqctx.Meta{UserID: userA}))
	go func() {
		h.ServeHTTP(rec, req)
		close(done)
	}()
	h.Close()
	select {
	case <-done:
	case <-time.After(waitFor):
		t.Fatal("stream still open after Close")
	}
}

// One user cannot hold more than MaxPerUser streams: the next is a 429
// that opens no consumer; closing one makes room, and another user is
// not affected.
func TestStreamsPerUserAreCapped(t *testing.T) {
	e := newEnv(t, sse.Options{MaxPerUser: 2})
	a1 := e.connect(userA, "")
	a1.ready()
	e.connect(userA, "").ready()
	over := e.connect(userA, "")
	if over.resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third stream of one user: %d, want 429", over.resp.StatusCode)
	}
	if n := consumerCount(t, e.js, contracts.StreamFiles); n != 2 {
		t.Fatalf("%d consumers after a refusal, want 2", n)
	}
	e.connect(userB, "").ready()
	a1.close()
	testkit.Eventually(t, waitFor, func() error {
		s := e.connect(userA, "")
		if s.resp.StatusCode == http.StatusOK {
			s.ready()
			return nil
		}
		// The handler notices the closed connection a moment later.
		s.close()
		return fmt.Errorf("after closing one, a new stream still gets %d", s.resp.StatusCode)
	})
}
