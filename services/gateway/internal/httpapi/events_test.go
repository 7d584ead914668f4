package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nonefinity/backend/contracts"
	fv1 "github.com/nonefinity/backend/contracts/filev1"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/services/gateway/internal/httpapi"
	"github.com/nonefinity/backend/services/gateway/internal/sse"
)

// eventsServer is the router with GET /api/v1/events over real HTTP and
// the JetStream it relays from.
type eventsServer struct {
	h   *harness
	srv *httptest.Server
	js  jetstream.JetStream
}

func startEventsServer(t *testing.T, opts ...option) *eventsServer {
	t.Helper()
	e := &eventsServer{}
	withEvents := func(o *httpapi.Options) {
		var err error
		e.js, err = jetstream.New(o.NC)
		if err != nil {
			t.Fatal(err)
		}
		if err := natsx.EnsureStreams(context.Background(), e.js, contracts.Streams(), natsx.StreamOptions{}); err != nil {
			t.Fatal(err)
		}
		o.Events = sse.New(e.js, sse.Options{})
	}
	e.h = newHarness(t, nil, append([]option{withEvents}, opts...)...)
	e.srv = httptest.NewServer(e.h.handler)
	t.Cleanup(e.srv.Close)
	return e
}

// open sends GET pathAndQuery with the bearer token, if any; the response
// body stays open until the test ends.
func (e *eventsServer) open(t *testing.T, pathAndQuery, token string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+pathAndQuery, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// publishFileProcessed publishes a file.processed event of user.
func (e *eventsServer) publishFileProcessed(t *testing.T, user, fileID string) {
	t.Helper()
	subject := contracts.EventSubject(contracts.DomainFile, contracts.EventProcessed, user)
	if err := natsx.Publish(context.Background(), e.js, subject, user+"-"+fileID, fv1.FileProcessed{FileID: fileID, OwnerID: user}); err != nil {
		t.Fatal(err)
	}
}

// sseLines reads an event stream line by line.
type sseLines chan string

func readLines(resp *http.Response) sseLines {
	lines := make(sseLines, 64)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	return lines
}

// wait returns the next line that starts with prefix.
func (lines sseLines) wait(t *testing.T, prefix string) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("stream ended before %q", prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-deadline:
			t.Fatalf("no %q line", prefix)
		}
	}
}

// firstFileEvent checks that resp opened an event stream, publishes a
// file.processed event of each (user, file id) once the stream is ready, in
// order, and returns the file id of the first file event the stream
// relays.
func (e *eventsServer) firstFileEvent(t *testing.T, resp *http.Response, published ...[2]string) string {
	t.Helper()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := readLines(resp)
	lines.wait(t, "event: ready")
	for _, p := range published {
		e.publishFileProcessed(t, p[0], p[1])
	}
	if l := lines.wait(t, "event: "); l != "event: file.processed" {
		t.Fatalf("event line %q", l)
	}
	var ev fv1.FileProcessed
	if err := json.Unmarshal([]byte(strings.TrimPrefix(lines.wait(t, "data: "), "data: ")), &ev); err != nil {
		t.Fatal(err)
	}
	return ev.FileID
}

// GET /api/v1/events through the whole middleware chain over real HTTP:
// the token decides whose events arrive, and every event is flushed as it
// happens (the access log and Sentry wrappers keep Flush working).
func TestEventsThroughTheRouter(t *testing.T) {
	e := startEventsServer(t)
	if resp := e.open(t, "/api/v1/events", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without a token: %d", resp.StatusCode)
	}
	resp := e.open(t, "/api/v1/events", userToken)
	if id := e.firstFileEvent(t, resp, [2]string{userBID, "other"}, [2]string{userAID, "mine"}); id != "mine" {
		t.Fatalf("first event of file %q (user B's event first?)", id)
	}
}
