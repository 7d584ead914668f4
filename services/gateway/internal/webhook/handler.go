// Package webhook receives Clerk's user webhooks (POST /api/v1/webhooks/clerk):
// it verifies the svix signature, applies user.created / user.updated to the
// users collection (publishing evt.user.v1.created / updated.<user_id>),
// erases users on user.deleted (publishing evt.user.v1.deleted.<user_id> for
// the other services) and remembers svix ids so a redelivered event is
// acknowledged without being applied or published twice.
package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/contracts/userv1"
	"github.com/nonefinity/backend/pkg/mongox"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/services/gateway/internal/users"
)

// Defaults for Options fields left zero.
const (
	// DefaultMaxBody caps a delivery's body; Clerk's user payloads are a
	// few KiB.
	DefaultMaxBody int64 = 1 << 20
	// DefaultRetention is how long svix ids are remembered. Svix retries a
	// failed delivery for about three days, so a week is comfortably longer.
	DefaultRetention = 7 * 24 * time.Hour
	// DefaultSweepInterval is RunSweeper's period when given none.
	DefaultSweepInterval = time.Hour
)

// Users is what the handler needs from the users package (*users.Service).
type Users interface {
	ApplyProfile(ctx context.Context, p users.Profile) (users.ApplyResult, error)
	Lookup(ctx context.Context, clerkID string) (users.Identity, error)
	Delete(ctx context.Context, clerkID string) (bool, error)
}

var _ Users = (*users.Service)(nil)

// Eraser deletes what the gateway itself holds for a deleted user besides
// the users document (personal API keys); it must be idempotent.
type Eraser interface {
	EraseUser(ctx context.Context, userID string) error
}

// Options configures New. Users, DB and JS are required.
type Options struct {
	// Secrets are the svix signing secrets (whsec_…); see ParseSecrets.
	// Without any, every delivery is answered 503 so Clerk keeps retrying
	// until the gateway is configured.
	Secrets []string
	Users   Users
	// Erasers, called on user.deleted with the internal user id, erase
	// the user's other gateway data (API keys).
	Erasers []Eraser
	// DB holds the webhook_events collection.
	DB *mongo.Database
	// JS publishes evt.user.v1.{created,updated,deleted}.<user_id> on the
	// USERS stream.
	JS        jetstream.JetStream
	Log       *slog.Logger
	MaxBody   int64         // DefaultMaxBody when zero
	Retention time.Duration // DefaultRetention when zero
	// Now stamps received_at; time.Now when nil. The svix timestamp check
	// always uses the real clock.
	Now func() time.Time
}

// Handler is the http.Handler of POST /api/v1/webhooks/clerk.
type Handler struct {
	verifier  *verifier
	users     Users
	erasers   []Eraser
	events    *eventStore
	js        jetstream.JetStream
	log       *slog.Logger
	maxBody   int64
	retention time.Duration
	now       func() time.Time
}

// New checks the options and parses the secrets; a secret that is not
// valid whsec_ base64 is a startup error.
func New(o Options) (*Handler, error) {
	if o.Users == nil || o.DB == nil || o.JS == nil {
		return nil, errors.New("webhook: Users, DB and JS are required")
	}
	v, err := newVerifier(o.Secrets)
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if len(o.Secrets) == 0 {
		o.Log.Warn("CLERK_WEBHOOK_SECRET is not set: Clerk webhooks will be answered 503")
	}
	return &Handler{
		verifier:  v,
		users:     o.Users,
		erasers:   o.Erasers,
		events:    &eventStore{coll: o.DB.Collection(EventsCollection)},
		js:        o.JS,
		log:       o.Log,
		maxBody:   o.MaxBody,
		retention: o.Retention,
		now:       o.Now,
	}, nil
}

// EnsureIndexes creates the TTL index on webhook_events.received_at. The
// report says whether the server refused TTL (FerretDB), in which case only
// RunSweeper expires records; run the sweeper either way.
func (h *Handler) EnsureIndexes(ctx context.Context) (mongox.EnsureReport, error) {
	return h.events.ensureIndexes(ctx, h.retention, h.log)
}

// Sweep deletes the svix ids received more than the retention before now
// and returns how many it deleted.
func (h *Handler) Sweep(ctx context.Context, now time.Time) (int64, error) {
	return h.events.deleteReceivedBefore(ctx, now.Add(-h.retention))
}

// RunSweeper sweeps once now and then every interval (DefaultSweepInterval
// when not positive) until ctx ends. It is needed where TTL indexes are
// missing and harmless where they exist.
func (h *Handler) RunSweeper(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultSweepInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := h.Sweep(ctx, h.now())
		switch {
		case err != nil && ctx.Err() == nil:
			h.log.WarnContext(ctx, "sweep webhook events", "err", err)
		case n > 0:
			h.log.InfoContext(ctx, "swept webhook events", "deleted", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// reply is a handled delivery's answer.
type reply struct {
	status  int
	message string
	data    any
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r, h.maxBody)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := h.verifier.verify(body, r.Header); err != nil {
		if errors.Is(err, errNoSecrets) {
			h.writeError(w, r, rpcerr.New(rpcerr.Unavailable, "webhooks are not configured"))
			return
		}
		h.writeError(w, r, rpcerr.New(rpcerr.BadRequest, "webhook verification failed: "+err.Error()))
		return
	}
	var ev clerkEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		h.writeError(w, r, rpcerr.New(rpcerr.BadRequest, "webhook body is not a JSON event"))
		return
	}
	svixID := deliveryID(r.Header)
	var rep reply
	switch ev.Type {
	case eventUserCreated, eventUserUpdated:
		rep, err = h.handleUpsert(r.Context(), svixID, ev)
	case eventUserDeleted:
		rep, err = h.handleDeleted(r.Context(), svixID, ev)
	default:
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeEnvelope(w, h.log, rep.status, envelope{Success: true, Message: rep.message, Data: rep.data})
}

// readBody reads the whole body up to limit; more is a 413.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	tooLarge := rpcerr.New(rpcerr.TooLarge, fmt.Sprintf("webhook body exceeds %d bytes", limit))
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, tooLarge
	}
	if err != nil {
		return nil, rpcerr.New(rpcerr.BadRequest, "could not read the webhook body")
	}
	return body, nil
}

// alreadyHandled answers a delivery whose svix id is recorded as done.
func alreadyHandled(svixID string) reply {
	return reply{status: http.StatusOK, message: "event " + svixID + " was already processed"}
}

// handleUpsert applies user.created / user.updated and announces the stored
// user on evt.user.v1.created / updated.<user_id> with Nats-Msg-Id = svix id.
//
// Ordering: apply, publish, then record the svix id. The apply is
// idempotent (a conditional write that only replaces an older document), so
// a crash or a failed publish (answered 503) before the record loses
// nothing: Clerk redelivers, the id is not recorded, the write is attempted
// again and is a no-op that finds the document at this event's version, so
// the event is published again, and JetStream drops the second copy if the
// first did get through within its duplicate window. The record check
// before applying is what keeps a redelivery from re-applying an event over
// a document that was changed since, or publishing it again.
//
// An event the stored document is newer than announces nothing: the newer
// version was announced when it was stored.
func (h *Handler) handleUpsert(ctx context.Context, svixID string, ev clerkEvent) (reply, error) {
	if rec, found, err := h.events.find(ctx, svixID); err != nil {
		return reply{}, err
	} else if found && rec.State == stateDone {
		return alreadyHandled(svixID), nil
	}
	var cu clerkUser
	if err := json.Unmarshal(ev.Data, &cu); err != nil || cu.ID == "" {
		return reply{}, rpcerr.New(rpcerr.BadRequest, ev.Type+" event has no user")
	}
	received := h.now().UTC()
	res, err := h.users.ApplyProfile(ctx, toProfile(cu, received))
	if err != nil {
		return reply{}, err
	}
	if res.Applied || res.Repeated {
		subject, evt := upsertEvent(ev.Type, res.User)
		if err := natsx.Publish(ctx, h.js, subject, svixID, evt); err != nil {
			return reply{}, fmt.Errorf("publish %s: %w", ev.Type, asUnavailable(err))
		}
	}
	rec := eventRecord{SvixID: svixID, Type: ev.Type, State: stateDone, ClerkID: cu.ID, ReceivedAt: received}
	if _, _, err := h.events.insert(ctx, rec); err != nil {
		return reply{}, err
	}
	if !res.Applied {
		return reply{status: http.StatusOK, message: "user " + cu.ID + " is already newer; event ignored"}, nil
	}
	verb := "updated"
	if ev.Type == eventUserCreated {
		verb = "created"
	}
	return reply{status: http.StatusOK, message: "user " + cu.ID + " " + verb, data: res.User}, nil
}

// upsertEvent is the event announcing u as stored by a Clerk event of type
// typ, and its subject.
func upsertEvent(typ string, u userv1.User) (string, any) {
	if typ == eventUserCreated {
		e := userv1.UserCreated{User: u}
		return e.Subject(), e
	}
	e := userv1.UserUpdated{User: u}
	return e.Subject(), e
}

// handleDeleted erases a user.
//
// Ordering: record-with-state, because the document being deleted is the
// only place the internal user id lives, and the event must name it.
//  1. Look the user up and record {svix id, clerk id, user id, pending}.
//  2. Delete the document (idempotent) and drop its cached identity, then
//     erase the user's other gateway data (the Erasers: API keys).
//  3. Publish evt.user.v1.deleted.<user_id> with Nats-Msg-Id = svix id.
//  4. Mark the record done.
//
// A crash or a failed publish after 1 leaves the record pending: Clerk's
// redelivery (we answer 503 on a failed publish) finds it, repeats 2 (a
// no-op) and 3 with the recorded user id, and JetStream drops the second
// copy if the first did get through within its duplicate window. A crash
// before 1 stored nothing and starts over.
//
// A user we never stored is answered 200 and nothing is published: no
// service can hold data under a user id that was never issued.
func (h *Handler) handleDeleted(ctx context.Context, svixID string, ev clerkEvent) (reply, error) {
	rec, found, err := h.events.find(ctx, svixID)
	if err != nil {
		return reply{}, err
	}
	if found && rec.State == stateDone {
		return alreadyHandled(svixID), nil
	}
	if !found {
		var du clerkDeletedUser
		if err := json.Unmarshal(ev.Data, &du); err != nil || du.ID == "" {
			return reply{}, rpcerr.New(rpcerr.BadRequest, ev.Type+" event has no user id")
		}
		id, err := h.users.Lookup(ctx, du.ID)
		if err != nil && !errors.Is(err, users.ErrNotFound) {
			return reply{}, err
		}
		rec = eventRecord{SvixID: svixID, Type: ev.Type, State: statePending, ClerkID: du.ID, UserID: id.UserID, ReceivedAt: h.now().UTC()}
		stored, _, err := h.events.insert(ctx, rec)
		if err != nil {
			return reply{}, err
		}
		if stored.State == stateDone {
			return alreadyHandled(svixID), nil
		}
		rec = stored
	}

	if _, err := h.users.Delete(ctx, rec.ClerkID); err != nil {
		return reply{}, err
	}
	if rec.UserID != "" {
		for _, e := range h.erasers {
			if err := e.EraseUser(ctx, rec.UserID); err != nil {
				return reply{}, err
			}
		}
		evt := userv1.UserDeleted{UserID: rec.UserID, ClerkID: rec.ClerkID, DeletedAt: rec.ReceivedAt.UTC()}
		if err := natsx.Publish(ctx, h.js, evt.Subject(), svixID, evt); err != nil {
			return reply{}, fmt.Errorf("publish user deleted: %w", asUnavailable(err))
		}
	}
	if err := h.events.markDone(ctx, svixID); err != nil {
		return reply{}, err
	}
	if rec.UserID == "" {
		return reply{status: http.StatusOK, message: "user " + rec.ClerkID + " was not stored; nothing to erase"}, nil
	}
	return reply{status: http.StatusOK, message: "user " + rec.ClerkID + " deleted",
		data: map[string]string{"user_id": rec.UserID, "clerk_id": rec.ClerkID}}, nil
}

// asUnavailable makes any publish failure a 503: the write happened and
// Clerk must redeliver so the event goes out, which it only does on a
// failure status.
func asUnavailable(err error) error {
	if re, ok := rpcerr.As(err); ok && re.Code == rpcerr.Unavailable {
		return err
	}
	return fmt.Errorf("%w: %w", rpcerr.New(rpcerr.Unavailable, "event stream unavailable"), err)
}
