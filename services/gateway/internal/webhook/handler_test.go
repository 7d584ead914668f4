package webhook_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	svix "github.com/svix/svix-webhooks/go"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/contracts/userv1"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/gateway/internal/users"
	"github.com/nonefinity/backend/services/gateway/internal/webhook"
)

const (
	waitLong = 30 * time.Second
	clerkID  = "user_2hAda000000000000000000000"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	t.Cleanup(cancel)
	return ctx
}

// countingUsers is the real users.Service, counting the writes the handler
// asks for.
type countingUsers struct {
	*users.Service
	applies atomic.Int64
}

func (c *countingUsers) ApplyProfile(ctx context.Context, p users.Profile) (users.ApplyResult, error) {
	c.applies.Add(1)
	return c.Service.ApplyProfile(ctx, p)
}

type fixture struct {
	t      *testing.T
	db     *mongo.Database
	js     jetstream.JetStream
	redis  *testkit.RedisKeys
	users  *countingUsers
	h      *webhook.Handler
	secret string
	now    time.Time // received_at of the next delivery
}

type fixtureOptions struct {
	secrets   []string // default: one fresh secret
	noSecrets bool
	noStreams bool // leave the USERS stream uncreated
	db        *mongo.Database
	erasers   []webhook.Eraser
}

func newFixture(t *testing.T, fo fixtureOptions) *fixture {
	t.Helper()
	ctx := testCtx(t)
	db := fo.db
	if db == nil {
		db = testkit.Mongo(t)
	}
	js := testkit.NATS(t).JetStream(t)
	if !fo.noStreams {
		if err := natsx.EnsureStreams(ctx, js, contracts.Streams(), natsx.StreamOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	rk := testkit.Redis(t)
	f := &fixture{t: t, db: db, js: js, redis: rk, now: time.Now().UTC()}
	svc := users.New(users.Options{DB: db, Redis: rk.Client, RedisPrefix: rk.Prefix})
	if err := svc.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	f.users = &countingUsers{Service: svc}
	secrets := fo.secrets
	if secrets == nil && !fo.noSecrets {
		f.secret = newSecret(t)
		secrets = []string{f.secret}
	}
	h, err := webhook.New(webhook.Options{
		Secrets: secrets, Users: f.users, Erasers: fo.erasers, DB: db, JS: js,
		Now: func() time.Time { return f.now },
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	f.h = h
	return f
}

func newSecret(t *testing.T) string {
	t.Helper()
	key := make([]byte, 24)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(key)
}

// signature is the svix-signature value for one secret.
func signature(t *testing.T, secret, id string, ts time.Time, body []byte) string {
	t.Helper()
	wh, err := svix.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := wh.Sign(id, ts, body)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func svixHeaders(id string, ts time.Time, sig string) http.Header {
	h := http.Header{}
	h.Set("svix-id", id)
	h.Set("svix-timestamp", strconv.FormatInt(ts.Unix(), 10))
	h.Set("svix-signature", sig)
	return h
}

func (f *fixture) post(body []byte, h http.Header) *httptest.ResponseRecorder {
	f.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/api/v1/webhooks/clerk", bytes.NewReader(body))
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec
}

// deliver signs body with the fixture's secret, now, as Clerk would.
func (f *fixture) deliver(id string, body []byte) *httptest.ResponseRecorder {
	f.t.Helper()
	now := time.Now()
	return f.post(body, svixHeaders(id, now, signature(f.t, f.secret, id, now, body)))
}

type response struct {
	Success bool            `json:"success"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
	Errors  []rpcerr.Error  `json:"errors"`
}

func decode(t *testing.T, rec *httptest.ResponseRecorder, wantStatus int) response {
	t.Helper()
	if rec.Code != wantStatus {
		t.Fatalf("status %d, want %d; body %s", rec.Code, wantStatus, rec.Body.String())
	}
	var r response
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		t.Fatalf("body %q is not an envelope: %v", rec.Body.String(), err)
	}
	if r.Success != (wantStatus < 400) {
		t.Fatalf("success=%v with status %d", r.Success, wantStatus)
	}
	if wantStatus >= 400 && (len(r.Errors) != 1 || r.Errors[0].Code != rpcerr.CodeForStatus(wantStatus) || r.Message == "") {
		t.Fatalf("error envelope %+v for status %d", r, wantStatus)
	}
	return r
}

// event builds a Clerk event from the realistic sample in testdata, with
// the data object changed by edit.
func event(t *testing.T, typ string, edit func(data map[string]any)) []byte {
	t.Helper()
	raw, err := os.ReadFile(testkit.Testdata("user_created.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	ev["type"] = typ
	if edit != nil {
		edit(ev["data"].(map[string]any))
	}
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func deletedEvent(t *testing.T, id string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"data": map[string]any{"deleted": true, "id": id, "object": "user"}, "object": "event", "type": "user.deleted",
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (f *fixture) userDoc(clerk string) (bson.M, bool) {
	f.t.Helper()
	var doc bson.M
	err := f.db.Collection(users.Collection).FindOne(testCtx(f.t), bson.D{{Key: "clerk_id", Value: clerk}}).Decode(&doc)
	if err == mongo.ErrNoDocuments {
		return nil, false
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return doc, true
}

func (f *fixture) count(coll string, filter bson.D) int64 {
	f.t.Helper()
	n, err := f.db.Collection(coll).CountDocuments(testCtx(f.t), filter)
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

func TestUserCreatedStoresTheMappedDocument(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	r := decode(t, f.deliver("msg_created", event(t, "user.created", nil)), http.StatusOK)

	var shown userv1.User
	if err := json.Unmarshal(r.Data, &shown); err != nil || shown.ID == "" || shown.ClerkID != clerkID {
		t.Fatalf("data %s: %v", r.Data, err)
	}
	doc, ok := f.userDoc(clerkID)
	if !ok {
		t.Fatal("no document stored")
	}
	if doc["_id"].(bson.ObjectID).Hex() != shown.ID {
		t.Errorf("response id %s, stored %v", shown.ID, doc["_id"])
	}
	want := map[string]any{
		"primary_email":   "ada@example.com",
		"emails":          bson.A{"ada@example.com", "ada.work@example.org"},
		"oauth_providers": bson.A{"oauth_google", "oauth_github"},
		"is_oauth":        true,
		"profile_image":   "https://img.clerk.com/ada-google",
		"has_image":       true,
		"banned":          false,
		"first_name":      "Ada",
		"last_name":       "Lovelace",
		"created_at":      bson.DateTime(1716883200123),
		"updated_at":      bson.DateTime(1716883200456),
	}
	for k, v := range want {
		if got, _ := json.Marshal(doc[k]); string(got) != mustJSON(t, v) {
			t.Errorf("%s = %s, want %s", k, got, mustJSON(t, v))
		}
	}
	if _, has := doc["provisional"]; has {
		t.Error("a webhook-written document is marked provisional")
	}
	if n := f.count(webhook.EventsCollection, bson.D{{Key: "_id", Value: "msg_created"}, {Key: "state", Value: "done"}}); n != 1 {
		t.Errorf("svix id recorded %d times, want 1", n)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestUserUpdatedAppliesNewerAndIgnoresOlder(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	decode(t, f.deliver("msg_1", event(t, "user.created", nil)), http.StatusOK)

	newer := event(t, "user.updated", func(d map[string]any) {
		d["first_name"] = "Augusta"
		d["updated_at"] = 1716883300000
	})
	r := decode(t, f.deliver("msg_2", newer), http.StatusOK)
	if !strings.Contains(r.Message, "updated") {
		t.Errorf("message %q", r.Message)
	}
	if doc, _ := f.userDoc(clerkID); doc["first_name"] != "Augusta" {
		t.Fatalf("newer update not applied: first_name %v", doc["first_name"])
	}

	older := event(t, "user.updated", func(d map[string]any) {
		d["first_name"] = "Stale"
		d["updated_at"] = 1716883250000 // between created and the applied update
	})
	r = decode(t, f.deliver("msg_3", older), http.StatusOK)
	if !strings.Contains(r.Message, "ignored") || len(r.Data) != 0 {
		t.Errorf("older update answered %+v", r)
	}
	doc, _ := f.userDoc(clerkID)
	if doc["first_name"] != "Augusta" || doc["updated_at"] != bson.DateTime(1716883300000) {
		t.Fatalf("older update changed the document: %v %v", doc["first_name"], doc["updated_at"])
	}
	if n := f.count(users.Collection, bson.D{}); n != 1 {
		t.Fatalf("%d user documents, want 1", n)
	}
}

func TestUserUpdatedForAnUnknownUserCreatesIt(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	decode(t, f.deliver("msg_upd", event(t, "user.updated", nil)), http.StatusOK)
	if _, ok := f.userDoc(clerkID); !ok {
		t.Fatal("user.updated for an unknown user stored nothing")
	}
}

// A ban arriving by webhook reaches the hot path at once: this instance's
// cache and the Redis entry another instance would read are both dropped.
func TestBanByWebhookInvalidatesCachedIdentity(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ctx := testCtx(t)
	decode(t, f.deliver("msg_c", event(t, "user.created", nil)), http.StatusOK)
	if id, err := f.users.Resolve(ctx, clerkID); err != nil || id.Banned {
		t.Fatalf("before the ban: %+v, %v", id, err)
	}
	ban := event(t, "user.updated", func(d map[string]any) { d["banned"] = true; d["updated_at"] = 1716883300000 })
	decode(t, f.deliver("msg_ban", ban), http.StatusOK)

	other := users.New(users.Options{DB: f.db, Redis: f.redis.Client, RedisPrefix: f.redis.Prefix})
	for name, s := range map[string]*users.Service{"this instance": f.users.Service, "another instance": other} {
		if id, err := s.Resolve(ctx, clerkID); err != nil || !id.Banned {
			t.Fatalf("%s after the ban: %+v, %v", name, id, err)
		}
	}
}

func TestUserDeletedRemovesTheUserAndPublishes(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ctx := testCtx(t)
	u := f.firstSeen() // stored and cached

	f.now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	decode(t, f.deliver("msg_del", deletedEvent(t, clerkID)), http.StatusOK)
	if _, ok := f.userDoc(clerkID); ok {
		t.Fatal("user document still there")
	}

	cons, err := f.js.CreateOrUpdateConsumer(ctx, contracts.StreamUsers, jetstream.ConsumerConfig{
		FilterSubject: contracts.EventFilter(contracts.DomainUser, contracts.EventDeleted),
		AckPolicy:     jetstream.AckExplicitPolicy,
	})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
	if err != nil {
		t.Fatalf("no user deleted event: %v", err)
	}
	if want := contracts.EventSubject(contracts.DomainUser, contracts.EventDeleted, u.ID); msg.Subject() != want {
		t.Errorf("subject %q, want %q", msg.Subject(), want)
	}
	if got := msg.Headers().Get(jetstream.MsgIDHeader); got != "msg_del" {
		t.Errorf("Nats-Msg-Id %q, want the svix id", got)
	}
	var evt userv1.UserDeleted
	if err := json.Unmarshal(msg.Data(), &evt); err != nil {
		t.Fatal(err)
	}
	if evt.UserID != u.ID || evt.ClerkID != clerkID || !evt.DeletedAt.Equal(f.now) {
		t.Errorf("event %+v", evt)
	}
	_ = msg.Ack()

	// The cached identity went with the document: resolving makes a new user.
	id, err := f.users.Resolve(ctx, clerkID)
	if err != nil || id.UserID == u.ID {
		t.Fatalf("resolve after delete: %+v, %v; want a fresh id", id, err)
	}

	// Redelivered: acknowledged, not published again.
	decode(t, f.deliver("msg_del", deletedEvent(t, clerkID)), http.StatusOK)
	if n := streamMsgs(t, f.js); n != 1 {
		t.Fatalf("%d messages in USERS after a redelivery, want 1", n)
	}
	if _, ok := f.userDoc(clerkID); !ok {
		t.Fatal("the redelivered delete was applied again (it erased the re-created user)")
	}
}

// firstSeen stores the user as a first authenticated request does, which
// announces nothing, so USERS holds only what the test delivers next.
func (f *fixture) firstSeen() userv1.User {
	f.t.Helper()
	id, err := f.users.Resolve(testCtx(f.t), clerkID)
	if err != nil {
		f.t.Fatal(err)
	}
	return userv1.User{ID: id.UserID, ClerkID: clerkID}
}

func streamMsgs(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	s, err := js.Stream(testCtx(t), contracts.StreamUsers)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func TestUserDeletedForAnUnknownUserPublishesNothing(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	r := decode(t, f.deliver("msg_del", deletedEvent(t, "user_never_seen")), http.StatusOK)
	if !strings.Contains(r.Message, "nothing to erase") {
		t.Errorf("message %q", r.Message)
	}
	// Publishing is synchronous (it waits for the stream's ack), so an
	// event would already be stored.
	if n := streamMsgs(t, f.js); n != 0 {
		t.Fatalf("%d messages published for a user that never existed", n)
	}
	if n := f.count(webhook.EventsCollection, bson.D{{Key: "state", Value: "done"}}); n != 1 {
		t.Fatalf("%d done records, want 1", n)
	}
}

// The stream is missing, so the publish fails after the user is gone: 503,
// and Clerk's redelivery publishes the event with the recorded user id.
func TestUserDeletedPublishFailureIsRetried(t *testing.T) {
	f := newFixture(t, fixtureOptions{noStreams: true})
	ctx := testCtx(t)
	u := f.firstSeen()

	decode(t, f.deliver("msg_del", deletedEvent(t, clerkID)), http.StatusServiceUnavailable)
	if _, ok := f.userDoc(clerkID); ok {
		t.Fatal("user not deleted")
	}
	if n := f.count(webhook.EventsCollection, bson.D{{Key: "_id", Value: "msg_del"}, {Key: "state", Value: "pending"}, {Key: "user_id", Value: u.ID}}); n != 1 {
		t.Fatal("no pending record holding the user id")
	}

	if err := natsx.EnsureStreams(ctx, f.js, contracts.Streams(), natsx.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	decode(t, f.deliver("msg_del", deletedEvent(t, clerkID)), http.StatusOK)
	cons, err := f.js.CreateOrUpdateConsumer(ctx, contracts.StreamUsers, jetstream.ConsumerConfig{AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
	if err != nil {
		t.Fatalf("retry published nothing: %v", err)
	}
	if want := contracts.EventSubject(contracts.DomainUser, contracts.EventDeleted, u.ID); msg.Subject() != want {
		t.Fatalf("subject %q, want %q", msg.Subject(), want)
	}
	if n := f.count(webhook.EventsCollection, bson.D{{Key: "_id", Value: "msg_del"}, {Key: "state", Value: "done"}}); n != 1 {
		t.Fatal("record not marked done after the retry")
	}
}

// nextUserEvent is the next message of the USERS stream from cons, checked
// to be on subject with Nats-Msg-Id svixID; its data is decoded into evt.
func nextUserEvent(t *testing.T, cons jetstream.Consumer, subject, svixID string, evt any) {
	t.Helper()
	msg, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
	if err != nil {
		t.Fatalf("no event on %s: %v", subject, err)
	}
	if msg.Subject() != subject {
		t.Errorf("subject %q, want %q", msg.Subject(), subject)
	}
	if got := msg.Headers().Get(jetstream.MsgIDHeader); got != svixID {
		t.Errorf("Nats-Msg-Id %q, want the svix id %q", got, svixID)
	}
	if err := json.Unmarshal(msg.Data(), evt); err != nil {
		t.Fatalf("event %s: %v", msg.Data(), err)
	}
}

func (f *fixture) userEvents() jetstream.Consumer {
	f.t.Helper()
	cons, err := f.js.CreateOrUpdateConsumer(testCtx(f.t), contracts.StreamUsers, jetstream.ConsumerConfig{AckPolicy: jetstream.AckNonePolicy})
	if err != nil {
		f.t.Fatal(err)
	}
	return cons
}

// user.created and user.updated announce the stored user once per delivery:
// a redelivery adds nothing, even one whose svix id record was lost (the
// document is at its version, so it is published again and JetStream drops
// the copy by its Nats-Msg-Id), and an update older than the stored document
// announces nothing.
func TestUpsertsAnnounceTheStoredUserOnce(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ctx := testCtx(t)
	created := event(t, "user.created", nil)
	var u, updated userv1.User
	if err := json.Unmarshal(decode(t, f.deliver("msg_c", created), http.StatusOK).Data, &u); err != nil {
		t.Fatal(err)
	}
	newer := event(t, "user.updated", func(d map[string]any) {
		d["first_name"] = "Augusta"
		d["updated_at"] = 1716883300000
	})
	if err := json.Unmarshal(decode(t, f.deliver("msg_u", newer), http.StatusOK).Data, &updated); err != nil {
		t.Fatal(err)
	}

	decode(t, f.deliver("msg_c", created), http.StatusOK)
	if _, err := f.db.Collection(webhook.EventsCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: "msg_u"}}); err != nil {
		t.Fatal(err)
	}
	decode(t, f.deliver("msg_u", newer), http.StatusOK)
	older := event(t, "user.updated", func(d map[string]any) { d["updated_at"] = 1716883250000 })
	decode(t, f.deliver("msg_old", older), http.StatusOK)

	cons := f.userEvents()
	var c userv1.UserCreated
	nextUserEvent(t, cons, contracts.EventSubject(contracts.DomainUser, contracts.EventCreated, u.ID), "msg_c", &c)
	if mustJSON(t, c) != mustJSON(t, userv1.UserCreated{User: u}) {
		t.Errorf("created event %+v, want the stored user %+v", c, u)
	}
	var up userv1.UserUpdated
	nextUserEvent(t, cons, contracts.EventSubject(contracts.DomainUser, contracts.EventUpdated, u.ID), "msg_u", &up)
	if mustJSON(t, up) != mustJSON(t, userv1.UserUpdated{User: updated}) || up.User.FirstName != "Augusta" {
		t.Errorf("updated event %+v, want the stored user %+v", up, updated)
	}
	if n := streamMsgs(t, f.js); n != 2 {
		t.Fatalf("%d messages in USERS, want 2", n)
	}
}

// The stream is missing, so the publish fails after the profile is stored:
// 503 without recording the svix id, and Clerk's redelivery announces it.
func TestUpsertPublishFailureIsRetried(t *testing.T) {
	f := newFixture(t, fixtureOptions{noStreams: true})
	body := event(t, "user.created", nil)
	decode(t, f.deliver("msg_c", body), http.StatusServiceUnavailable)
	doc, ok := f.userDoc(clerkID)
	if !ok {
		t.Fatal("profile not stored")
	}
	if n := f.count(webhook.EventsCollection, bson.D{}); n != 0 {
		t.Fatalf("%d records after a failed publish, want 0", n)
	}

	if err := natsx.EnsureStreams(testCtx(t), f.js, contracts.Streams(), natsx.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	decode(t, f.deliver("msg_c", body), http.StatusOK)
	decode(t, f.deliver("msg_c", body), http.StatusOK)
	id := doc["_id"].(bson.ObjectID).Hex()
	var c userv1.UserCreated
	nextUserEvent(t, f.userEvents(), contracts.EventSubject(contracts.DomainUser, contracts.EventCreated, id), "msg_c", &c)
	if c.User.ID != id || c.User.ClerkID != clerkID || c.User.FirstName != "Ada" {
		t.Errorf("event %+v", c)
	}
	if n := streamMsgs(t, f.js); n != 1 {
		t.Fatalf("%d messages in USERS, want 1", n)
	}
	if n := f.count(webhook.EventsCollection, bson.D{{Key: "_id", Value: "msg_c"}, {Key: "state", Value: "done"}}); n != 1 {
		t.Fatal("record not done after the retry")
	}
}

// The same svix id twice: 200 both times, applied once. Between the two, the
// stored document is changed to something a re-apply would overwrite.
func TestRepeatedSvixIDIsAppliedOnce(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ctx := testCtx(t)
	body := event(t, "user.created", nil)
	decode(t, f.deliver("msg_dup", body), http.StatusOK)

	_, err := f.db.Collection(users.Collection).UpdateOne(ctx, bson.D{{Key: "clerk_id", Value: clerkID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "first_name", Value: "Changed"}, {Key: "updated_at", Value: time.UnixMilli(1)}}}})
	if err != nil {
		t.Fatal(err)
	}
	r := decode(t, f.deliver("msg_dup", body), http.StatusOK)
	if !strings.Contains(r.Message, "already processed") {
		t.Errorf("message %q", r.Message)
	}
	if got := f.users.applies.Load(); got != 1 {
		t.Fatalf("applied %d times, want 1", got)
	}
	if doc, _ := f.userDoc(clerkID); doc["first_name"] != "Changed" {
		t.Fatalf("the repeated delivery was applied: first_name %v", doc["first_name"])
	}
	if n := f.count(webhook.EventsCollection, bson.D{}); n != 1 {
		t.Fatalf("%d records, want 1", n)
	}
}

func (f *fixture) assertNothingStored() {
	f.t.Helper()
	if n := f.count(users.Collection, bson.D{}); n != 0 {
		f.t.Errorf("%d users stored", n)
	}
	if n := f.count(webhook.EventsCollection, bson.D{}); n != 0 {
		f.t.Errorf("%d webhook events stored", n)
	}
	if n := f.users.applies.Load(); n != 0 {
		f.t.Errorf("%d applies", n)
	}
}

func TestBadSignaturesAreRefused(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	body := event(t, "user.created", nil)
	now := time.Now()
	good := signature(t, f.secret, "msg_x", now, body)
	tampered := bytes.Replace(body, []byte("Lovelace"), []byte("Byron"), 1)
	for name, tc := range map[string]struct {
		body []byte
		h    http.Header
	}{
		"signed with another secret": {body, svixHeaders("msg_x", now, signature(t, newSecret(t), "msg_x", now, body))},
		"tampered body":              {tampered, svixHeaders("msg_x", now, good)},
		"other svix id":              {body, svixHeaders("msg_y", now, good)},
		"no signature header":        {body, func() http.Header { h := svixHeaders("msg_x", now, good); h.Del("svix-signature"); return h }()},
		"no headers":                 {body, http.Header{}},
		"unsigned garbage":           {[]byte("not json"), svixHeaders("msg_x", now, "v1,AAAA")},
	} {
		t.Run(name, func(t *testing.T) {
			decode(t, f.post(tc.body, tc.h), http.StatusBadRequest)
		})
	}
	f.assertNothingStored()
}

func TestTimestampOutsideFiveMinutesIsRefused(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	body := event(t, "user.created", nil)
	for name, ts := range map[string]time.Time{
		"six minutes old":       time.Now().Add(-6 * time.Minute),
		"six minutes in future": time.Now().Add(6 * time.Minute),
	} {
		t.Run(name, func(t *testing.T) {
			r := decode(t, f.post(body, svixHeaders("msg_old", ts, signature(t, f.secret, "msg_old", ts, body))), http.StatusBadRequest)
			if !strings.Contains(r.Errors[0].Message, "timestamp") {
				t.Errorf("error %q does not say why", r.Errors[0].Message)
			}
		})
	}
	f.assertNothingStored()

	// Well inside the tolerance is fine.
	ts := time.Now().Add(-4 * time.Minute)
	decode(t, f.post(body, svixHeaders("msg_ok", ts, signature(t, f.secret, "msg_ok", ts, body))), http.StatusOK)
}

// During a rotation CLERK_WEBHOOK_SECRET holds both secrets; a delivery
// signed with either verifies, and svix may send several signatures in one
// header.
func TestSecretRotation(t *testing.T) {
	oldSecret, newSecretValue := newSecret(t), newSecret(t)
	f := newFixture(t, fixtureOptions{secrets: webhook.ParseSecrets(oldSecret + ", " + newSecretValue)})
	body := event(t, "user.created", nil)
	now := time.Now()

	decode(t, f.post(body, svixHeaders("msg_new", now, signature(t, newSecretValue, "msg_new", now, body))), http.StatusOK)

	upd := event(t, "user.updated", func(d map[string]any) { d["updated_at"] = 1716883300000 })
	several := signature(t, newSecret(t), "msg_old", now, upd) + " " + signature(t, oldSecret, "msg_old", now, upd)
	decode(t, f.post(upd, svixHeaders("msg_old", now, several)), http.StatusOK)

	decode(t, f.post(body, svixHeaders("msg_none", now, signature(t, newSecret(t), "msg_none", now, body))), http.StatusBadRequest)
	if got := f.users.applies.Load(); got != 2 {
		t.Fatalf("applied %d deliveries, want 2", got)
	}
}

func TestOtherEventTypesAreAcknowledgedWith204(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	for _, typ := range []string{"session.created", "organization.created", "email.created"} {
		rec := f.deliver("msg_"+typ, event(t, typ, nil))
		if rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
			t.Fatalf("%s: status %d body %q, want an empty 204", typ, rec.Code, rec.Body.String())
		}
	}
	f.assertNothingStored()
}

func TestBodyTooLargeIs413(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	big := bytes.Repeat([]byte("x"), int(webhook.DefaultMaxBody)+1)
	now := time.Now()
	h := svixHeaders("msg_big", now, signature(t, f.secret, "msg_big", now, big))

	decode(t, f.post(big, h), http.StatusRequestEntityTooLarge)

	// Without a Content-Length the cap still holds while reading.
	req := httptest.NewRequest(http.MethodPost, "/api/v1/webhooks/clerk", io.MultiReader(bytes.NewReader(big)))
	req.ContentLength = -1
	for k, v := range h {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	decode(t, rec, http.StatusRequestEntityTooLarge)
	f.assertNothingStored()
}

func TestWithoutSecretsEveryDeliveryIs503(t *testing.T) {
	f := newFixture(t, fixtureOptions{noSecrets: true})
	body := event(t, "user.created", nil)
	now := time.Now()
	decode(t, f.post(body, svixHeaders("msg", now, signature(t, newSecret(t), "msg", now, body))), http.StatusServiceUnavailable)
	f.assertNothingStored()
}

func TestMalformedSecretIsAStartupError(t *testing.T) {
	_, err := webhook.New(webhook.Options{
		Secrets: []string{"whsec_%%%"}, Users: &countingUsers{}, DB: testkit.Mongo(t), JS: testkit.NATS(t).JetStream(t),
	})
	if err == nil || strings.Contains(err.Error(), "%%%") {
		t.Fatalf("err = %v; want an error that does not show the secret", err)
	}
}

func TestMongoDownIs503(t *testing.T) {
	shared := testkit.Mongo(t)
	c, err := mongo.Connect(options.Client().ApplyURI(testkit.MongoURI(t)))
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, fixtureOptions{db: c.Database(shared.Name())})
	if err := c.Disconnect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	r := decode(t, f.deliver("msg", event(t, "user.created", nil)), http.StatusServiceUnavailable)
	if r.Errors[0].Code != rpcerr.Unavailable {
		t.Fatalf("errors %+v", r.Errors)
	}
}

func TestSweepRemovesOnlyExpiredIDs(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ctx := testCtx(t)
	sweepAt := time.Date(2025, 6, 10, 0, 0, 0, 0, time.UTC)
	for id, age := range map[string]time.Duration{
		"msg_8_days":  8 * 24 * time.Hour,
		"msg_7_days+": webhook.DefaultRetention + time.Second,
		"msg_6_days":  6 * 24 * time.Hour,
		"msg_1_hour":  time.Hour,
	} {
		f.now = sweepAt.Add(-age)
		decode(t, f.deliver(id, deletedEvent(t, "user_"+strconv.Itoa(len(id)))), http.StatusOK)
	}
	n, err := f.h.Sweep(ctx, sweepAt)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("swept %d, want 2", n)
	}
	for id, want := range map[string]int64{"msg_8_days": 0, "msg_7_days+": 0, "msg_6_days": 1, "msg_1_hour": 1} {
		if got := f.count(webhook.EventsCollection, bson.D{{Key: "_id", Value: id}}); got != want {
			t.Errorf("%s: %d records, want %d", id, got, want)
		}
	}
}

// The received_at index exists either as a TTL index or, where the server
// refuses TTL (FerretDB), as a plain index named in the report.
func TestEnsureIndexesCreatesTheRetentionIndex(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ctx := testCtx(t)
	report, err := f.h.EnsureIndexes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	specs, err := f.db.Collection(webhook.EventsCollection).Indexes().ListSpecifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range specs {
		if s.Name != "received_at_ttl" {
			continue
		}
		hasTTL := s.ExpireAfterSeconds != nil && *s.ExpireAfterSeconds == int32(webhook.DefaultRetention.Seconds())
		if hasTTL == report.NeedsSweep() {
			t.Fatalf("index TTL=%v but report %+v", hasTTL, report)
		}
		return
	}
	t.Fatalf("no received_at_ttl index among %+v", specs)
}
