package httpapi_test

import (
	"bufio"
	"context"
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

// GET /api/v1/events through the whole middleware chain over real HTTP:
// the token decides whose events arrive, and every event is flushed as it
// happens (the access log and Sentry wrappers keep Flush working).
func TestEventsThroughTheRouter(t *testing.T) {
	var js jetstream.JetStream
	h := newHarness(t, nil, func(o *httpapi.Options) {
		var err error
		js, err = jetstream.New(o.NC)
		if err != nil {
			t.Fatal(err)
		}
		if err := natsx.EnsureStreams(context.Background(), js, contracts.Streams(), natsx.StreamOptions{}); err != nil {
			t.Fatal(err)
		}
		o.Events = sse.New(js, sse.Options{})
	})
	srv := httptest.NewServer(h.handler)
	t.Cleanup(srv.Close)

	get := func(token string) *http.Response {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/v1/events", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	if resp := get(""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without a token: %d", resp.StatusCode)
	}
	resp := get(userToken)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitLine := func(prefix string) string {
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
	waitLine("event: ready")
	ctx := context.Background()
	if err := natsx.Publish(ctx, js, contracts.EventSubject(contracts.DomainFile, contracts.EventProcessed, userBID), "b-1", fv1.FileProcessed{FileID: "other"}); err != nil {
		t.Fatal(err)
	}
	if err := natsx.Publish(ctx, js, contracts.EventSubject(contracts.DomainFile, contracts.EventProcessed, userAID), "a-1", fv1.FileProcessed{FileID: "mine", OwnerID: userAID}); err != nil {
		t.Fatal(err)
	}
	if l := waitLine("event: "); l != "event: file.processed" {
		t.Fatalf("event line %q", l)
	}
	if l := waitLine("data: "); !strings.Contains(l, `"file_id":"mine"`) {
		t.Fatalf("data line %q (user B's event first?)", l)
	}
}
