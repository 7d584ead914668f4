package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/gateway/internal/httpapi"
	"github.com/nonefinity/backend/services/gateway/internal/sseticket"
)

// ticketServer is the events server with tickets on a clock of the test's.
func ticketServer(t *testing.T, log *testkit.SyncBuffer) (*eventsServer, *testkit.Clock) {
	t.Helper()
	clock := testkit.NewClock(time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC))
	e := startEventsServer(t, func(o *httpapi.Options) {
		o.EventTickets = sseticket.New(sseticket.Options{Store: sseticket.NewMemoryStore(clock.Now), Now: clock.Now})
		if log != nil {
			o.Log = newJSONLogger(log)
		}
	})
	return e, clock
}

// issueTicket asks POST /api/v1/events/ticket with token.
func issueTicket(t *testing.T, e *eventsServer, token string) sseticket.Ticket {
	t.Helper()
	rec := e.h.do(request{method: "POST", path: "/api/v1/events/ticket", token: token})
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST /events/ticket: %d %s", rec.Code, rec.Body.String())
	}
	var tk sseticket.Ticket
	if err := json.Unmarshal(decodeEnvelope(t, rec).Data, &tk); err != nil || tk.Ticket == "" || tk.ExpiresAt.IsZero() {
		t.Fatalf("ticket reply %s: %v", rec.Body.String(), err)
	}
	return tk
}

func eventsWithTicket(ticket string) string {
	return "/api/v1/events?" + url.Values{"ticket": {ticket}}.Encode()
}

// The EventSource path: a ticket opens one stream of its own user's
// events, once; a second use, an expired ticket, an unknown one and a
// session token in the URL are all 401.
func TestEventsTicket(t *testing.T) {
	var log testkit.SyncBuffer
	e, clock := ticketServer(t, &log)

	if rec := e.h.do(request{method: "POST", path: "/api/v1/events/ticket"}); rec.Code != http.StatusUnauthorized {
		t.Fatalf("ticket without a token: %d", rec.Code)
	}
	tk := issueTicket(t, e, userToken)
	if want := clock.Now().Add(sseticket.DefaultTTL); !tk.ExpiresAt.Equal(want) {
		t.Errorf("expires_at = %s, want %s", tk.ExpiresAt, want)
	}

	resp := e.open(t, eventsWithTicket(tk.Ticket), "")
	if id := e.firstFileEvent(t, resp, [2]string{userBID, "theirs"}, [2]string{userAID, "mine"}); id != "mine" {
		t.Fatalf("first event of file %q, want user A's own", id)
	}

	t.Run("second use is 401", func(t *testing.T) {
		if resp := e.open(t, eventsWithTicket(tk.Ticket), ""); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("second use: %d", resp.StatusCode)
		}
	})
	t.Run("expired is 401", func(t *testing.T) {
		old := issueTicket(t, e, userToken)
		clock.Advance(sseticket.DefaultTTL)
		if resp := e.open(t, eventsWithTicket(old.Ticket), ""); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("expired ticket: %d", resp.StatusCode)
		}
	})
	t.Run("unknown is 401", func(t *testing.T) {
		for _, v := range []string{"", "nope", strings.Repeat("A", 43), strings.Repeat("x", 4096)} {
			if resp := e.open(t, eventsWithTicket(v), ""); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("ticket %.10q: %d", v, resp.StatusCode)
			}
		}
	})
	t.Run("a session token in the URL is refused", func(t *testing.T) {
		for _, q := range []string{"token=", "access_token=", "authorization=Bearer+", "ticket="} {
			if resp := e.open(t, "/api/v1/events?"+q+userToken, ""); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("?%s<session token>: %d", q, resp.StatusCode)
			}
		}
	})
	t.Run("another user's ticket reads that user's events only", func(t *testing.T) {
		// B's ticket, sent with A's token: the ticket decides, and it
		// authenticates as B, so A's events never arrive on it.
		theirs := issueTicket(t, e, userBToken)
		resp := e.open(t, eventsWithTicket(theirs.Ticket), userToken)
		if id := e.firstFileEvent(t, resp, [2]string{userAID, "a-secret"}, [2]string{userBID, "b-own"}); id != "b-own" {
			t.Fatalf("B's ticket streamed file %q first, want B's own", id)
		}
	})

	if strings.Contains(log.String(), tk.Ticket) {
		t.Errorf("the log holds a ticket: %s", log.String())
	}
	if !strings.Contains(log.String(), `"route":"/api/v1/events"`) {
		t.Errorf("no access log line of the stream: %s", log.String())
	}
}

// Without the tickets option the ticket route does not exist and a ticket
// in the query is no way in.
func TestEventsWithoutTickets(t *testing.T) {
	e := startEventsServer(t)
	if rec := e.h.do(request{method: "POST", path: "/api/v1/events/ticket", token: userToken}); rec.Code != http.StatusNotFound {
		t.Fatalf("POST /events/ticket without tickets: %d", rec.Code)
	}
	if resp := e.open(t, eventsWithTicket("anything"), ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a ticket without tickets: %d", resp.StatusCode)
	}
}
