// Package sse serves GET /api/v1/events: the caller's own events from
// JetStream as Server-Sent Events.
//
// For each stream that holds per-user events (FILES, DATASETS, USERS) the
// handler runs one ordered consumer filtered to the caller's subjects
// (evt.<domain>.v1.*.<user_id>), so NATS does the filtering and another
// user's event never reaches this process's handler. Each event's id is the
// position in every stream ("FILES:12,DATASETS:3,USERS:0"); a client that
// reconnects with Last-Event-ID resumes each stream after that position, so
// nothing published in between is lost and nothing is sent twice. The first
// event of every connection, "ready", carries the starting position, so a
// client that got no event yet resumes without a gap too.
package sse

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/perkey"
	"github.com/nonefinity/backend/pkg/reqctx"
)

// DefaultHeartbeat is how often an idle connection gets a comment line, so
// proxies do not close it and the client notices a dead one.
const DefaultHeartbeat = 15 * time.Second

// DefaultMaxPerUser is how many event streams one user may hold open on
// one gateway instance: each costs three consumers and a few dozen
// goroutines, and a browser needs one per tab.
const DefaultMaxPerUser = 10

// consumerInactiveThreshold lets the server remove a consumer whose
// gateway died without deleting it.
const consumerInactiveThreshold = time.Minute

// cleanupTimeout bounds deleting the consumers after the client left.
const cleanupTimeout = 5 * time.Second

// source is a stream that holds per-user events and its event domain.
type source struct {
	stream string
	domain string
}

// sources are relayed in this order; the id lists them in this order too.
var sources = []source{
	{contracts.StreamFiles, contracts.DomainFile},
	{contracts.StreamDatasets, contracts.DomainDataset},
	{contracts.StreamUsers, contracts.DomainUser},
}

// userFilter is the subject filter of one user's events in one domain.
func userFilter(domain, userID string) string {
	return contracts.EventSubject(domain, "*", userID)
}

// Options configures the handler.
type Options struct {
	// Heartbeat is the interval of keep-alive comments; default
	// DefaultHeartbeat.
	Heartbeat time.Duration
	// MaxPerUser caps one user's open streams on this instance; a further
	// one is refused with 429 (a browser's EventSource does not retry a
	// refusal, so tabs over the cap do not churn). Default
	// DefaultMaxPerUser.
	MaxPerUser int
	Log        *slog.Logger
}

// Handler serves the caller's events. It reads the caller's user id from
// reqctx, which the gateway's authentication sets.
type Handler struct {
	js        jetstream.JetStream
	heartbeat time.Duration
	log       *slog.Logger
	closing   chan struct{}
	closeOnce sync.Once

	perUser *perkey.Gate // open streams per user id
}

// New returns the events handler over js.
func New(js jetstream.JetStream, o Options) *Handler {
	if o.Heartbeat <= 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.MaxPerUser <= 0 {
		o.MaxPerUser = DefaultMaxPerUser
	}
	return &Handler{js: js, heartbeat: o.Heartbeat, log: o.Log, closing: make(chan struct{}),
		perUser: perkey.NewGate(o.MaxPerUser)}
}

// Close ends every open event stream (at server shutdown); clients
// reconnect to another instance with their Last-Event-ID.
func (h *Handler) Close() {
	h.closeOnce.Do(func() { close(h.closing) })
}

// event is one message to relay.
type event struct {
	stream  string
	seq     uint64
	subject string
	data    []byte
}

// position is the last stream sequence relayed (or skipped) per stream.
type position map[string]uint64

// String is the SSE id: STREAM:seq for every source, in order.
func (p position) String() string {
	parts := make([]string, len(sources))
	for i, s := range sources {
		parts[i] = s.stream + ":" + strconv.FormatUint(p[s.stream], 10)
	}
	return strings.Join(parts, ",")
}

// parsePosition reads a Last-Event-ID. Unknown streams and malformed parts
// are ignored; the streams it does not name start from now.
func parsePosition(id string) position {
	p := position{}
	known := map[string]bool{}
	for _, s := range sources {
		known[s.stream] = true
	}
	for part := range strings.SplitSeq(id, ",") {
		name, seq, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok || !known[name] {
			continue
		}
		n, err := strconv.ParseUint(seq, 10, 64)
		if err != nil {
			continue
		}
		p[name] = n
	}
	return p
}

// ServeHTTP streams events until the client goes away.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	userID := reqctx.From(ctx).UserID
	if userID == "" {
		writeError(w, rpcerr.New(rpcerr.Unauthorized, "authentication required"))
		return
	}
	if !h.perUser.Enter(userID) {
		writeError(w, rpcerr.New(rpcerr.RateLimited, fmt.Sprintf("too many open event streams (at most %d); close one first", h.perUser.Limit())))
		return
	}
	defer h.perUser.Leave(userID)
	start, err := h.startPosition(ctx, r.Header.Get("Last-Event-ID"))
	if err != nil {
		h.log.WarnContext(ctx, "events: read stream positions", "err", err)
		writeError(w, rpcerr.New(rpcerr.Unavailable, "event streams unavailable"))
		return
	}

	events := make(chan event, 64)
	subs, err := h.subscribe(ctx, userID, start, events)
	defer h.release(subs)
	if err != nil {
		h.log.WarnContext(ctx, "events: subscribe", "err", err)
		writeError(w, rpcerr.New(rpcerr.Unavailable, "event streams unavailable"))
		return
	}

	rc := http.NewResponseController(w)
	// The server's write timeout, if any, must not cut a long-lived stream.
	_ = rc.SetWriteDeadline(time.Time{})
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("Connection", "keep-alive")
	hdr.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)

	pos := position{}
	for s, seq := range start {
		pos[s] = seq - 1
	}
	if err := writeFrame(w, pos.String(), "ready", []byte("{}")); err != nil || rc.Flush() != nil {
		return
	}
	tick := time.NewTicker(h.heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.closing:
			return
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case ev := <-events:
			pos[ev.stream] = ev.seq
			if err := writeFrame(w, pos.String(), eventName(ev.subject), ev.data); err != nil || rc.Flush() != nil {
				return
			}
		}
	}
}

// startPosition is the first sequence to deliver per stream: after the
// Last-Event-ID position where the client names one, else after the
// stream's last message now.
func (h *Handler) startPosition(ctx context.Context, lastEventID string) (position, error) {
	resume := parsePosition(lastEventID)
	start := position{}
	for _, s := range sources {
		if seq, ok := resume[s.stream]; ok {
			start[s.stream] = seq + 1
			continue
		}
		st, err := h.js.Stream(ctx, s.stream)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			// The service that owns the stream has not run yet, so it has
			// no events. Its first message will be sequence 1: an id of
			// STREAM:0 resumes from there after a reconnect, without gaps.
			start[s.stream] = 1
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", s.stream, err)
		}
		start[s.stream] = st.CachedInfo().State.LastSeq + 1
	}
	return start, nil
}

// subscription is one stream's consumer of this connection.
type subscription struct {
	stream   string
	consumer jetstream.Consumer
	consume  jetstream.ConsumeContext
}

// subscribe starts one ordered consumer per stream; the subscriptions
// made so far are returned even on error, for release.
func (h *Handler) subscribe(ctx context.Context, userID string, start position, out chan<- event) ([]subscription, error) {
	prefix := "sse_" + randomHex(8)
	var subs []subscription
	for _, s := range sources {
		cons, err := h.js.OrderedConsumer(ctx, s.stream, jetstream.OrderedConsumerConfig{
			FilterSubjects:    []string{userFilter(s.domain, userID)},
			DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
			OptStartSeq:       start[s.stream],
			InactiveThreshold: consumerInactiveThreshold,
			NamePrefix:        prefix + "_" + strings.ToLower(s.stream),
		})
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			// See startPosition: a stream created after this connection
			// opened is picked up on the client's next reconnect.
			continue
		}
		if err != nil {
			return subs, fmt.Errorf("consumer on %s: %w", s.stream, err)
		}
		stream := s.stream
		cc, err := cons.Consume(func(msg jetstream.Msg) {
			meta, err := msg.Metadata()
			if err != nil {
				h.log.WarnContext(ctx, "events: message without metadata", "stream", stream, "err", err)
				return
			}
			select {
			case out <- event{stream: stream, seq: meta.Sequence.Stream, subject: msg.Subject(), data: msg.Data()}:
			case <-ctx.Done():
			}
		})
		if err != nil {
			subs = append(subs, subscription{stream: stream, consumer: cons})
			return subs, fmt.Errorf("consume %s: %w", s.stream, err)
		}
		subs = append(subs, subscription{stream: stream, consumer: cons, consume: cc})
	}
	return subs, nil
}

// release stops every consumer and deletes it on the server at once, so a
// closed connection leaves nothing behind (the inactivity threshold only
// covers a gateway that died).
func (h *Handler) release(subs []subscription) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range subs {
		if s.consume != nil {
			s.consume.Stop()
		}
		info := s.consumer.CachedInfo()
		if info == nil {
			continue
		}
		wg.Go(func() {
			if err := h.js.DeleteConsumer(ctx, s.stream, info.Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
				h.log.Warn("events: delete consumer", "stream", s.stream, "consumer", info.Name, "err", err)
			}
		})
	}
	wg.Wait()
}

// eventName is "<domain>.<event>" of evt.<domain>.v1.<event>.<user_id>.
func eventName(subject string) string {
	parts := strings.Split(subject, ".")
	if len(parts) == 5 {
		return parts[1] + "." + parts[3]
	}
	return "message"
}

// writeFrame writes one event. Every line of data gets its own "data:"
// field, as the SSE format requires.
func writeFrame(w http.ResponseWriter, id, name string, data []byte) error {
	var b strings.Builder
	b.WriteString("id: ")
	b.WriteString(id)
	b.WriteString("\nevent: ")
	b.WriteString(name)
	b.WriteByte('\n')
	for line := range strings.SplitSeq(string(data), "\n") {
		b.WriteString("data: ")
		b.WriteString(strings.TrimSuffix(line, "\r"))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	_, err := w.Write([]byte(b.String()))
	return err
}

// writeError answers in the API's error envelope before the stream starts.
func writeError(w http.ResponseWriter, e *rpcerr.Error) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(e.HTTPStatus())
	_ = json.NewEncoder(w).Encode(struct {
		Success bool            `json:"success"`
		Message string          `json:"message"`
		Errors  []*rpcerr.Error `json:"errors"`
	}{false, e.Message, []*rpcerr.Error{e}})
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
