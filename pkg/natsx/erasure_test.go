package natsx

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/userv1"
	"github.com/nonefinity/backend/pkg/testkit"
)

const erasureDurable = "natsx-test-erase-user"

type erasureEnv struct {
	js   jetstream.JetStream
	acks <-chan string
	reg  *prometheus.Registry
	logs *logSink
}

// newErasureEnv starts a server with the USERS stream and watches what the
// erasure consumer tells the server about each message.
func newErasureEnv(t *testing.T) erasureEnv {
	t.Helper()
	srv := testkit.NATS(t)
	js := srv.JetStream(t)
	users, _ := contracts.StreamFor(contracts.StreamUsers)
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	if err := EnsureStreams(ctx, js, []contracts.StreamSpec{users}, StreamOptions{Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	acks := testkit.WatchAcks(t, srv.Conn(t), contracts.StreamUsers, erasureDurable)
	return erasureEnv{js: js, acks: acks, reg: prometheus.NewRegistry(), logs: newLogSink()}
}

func (e erasureEnv) start(t *testing.T, erase func(context.Context, string) error) {
	t.Helper()
	c, err := ConsumeErasure(context.Background(), e.js, ErasureOptions{
		Durable: erasureDurable, Service: "test", RetryBase: 2 * time.Millisecond, RetryMax: 20 * time.Millisecond,
		AlertAfter: 10, Metrics: e.reg, Logger: e.logs.logger(),
	}, erase)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
}

func (e erasureEnv) publishRaw(t *testing.T, subject string, body []byte) {
	t.Helper()
	if _, err := e.js.Publish(context.Background(), subject, body); err != nil {
		t.Fatal(err)
	}
}

func (e erasureEnv) counter(t *testing.T, name string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

// An erase that keeps failing past every old delivery limit (credential 5,
// fileingest and datasetquery 10) is retried until it succeeds: never
// terminated, each failure logged at warn and counted, and from the
// AlertAfter-th attempt an error line "erasure still failing".
func TestErasureRetriesUntilItSucceeds(t *testing.T) {
	env := newErasureEnv(t)
	const failures = 14
	var mu sync.Mutex
	var calls []string
	env.start(t, func(_ context.Context, userID string) error {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, userID)
		if len(calls) <= failures {
			// Even a failure calling itself final is retried.
			return Permanent(errors.New("mongodb: server selection timeout"))
		}
		return nil
	})
	ev := userv1.UserDeleted{UserID: "u1", DeletedAt: time.Now().UTC()}
	if err := Publish(context.Background(), env.js, ev.Subject(), "user.deleted.u1", ev); err != nil {
		t.Fatal(err)
	}
	for i := range failures {
		if got := recv(t, env.acks, waitLong, "a NAK"); got != "-NAK" {
			t.Fatalf("failure %d answered %q, want -NAK", i+1, got)
		}
	}
	if got := recv(t, env.acks, waitLong, "the ACK"); got != "+ACK" {
		t.Fatalf("after the store came back: %q, want +ACK", got)
	}
	mu.Lock()
	if len(calls) != failures+1 || calls[0] != "u1" || calls[failures] != "u1" {
		t.Fatalf("erase calls = %v", calls)
	}
	mu.Unlock()
	if n := env.counter(t, "nonefinity_erasure_failures_total"); n != failures {
		t.Fatalf("failures counted %v, want %d", n, failures)
	}
	if n := env.counter(t, "nonefinity_erasure_rejected_total"); n != 0 {
		t.Fatalf("rejected counted %v", n)
	}
	var warns, alerts int
	for _, r := range env.logs.all() {
		switch {
		case r.Level == slog.LevelWarn && r.Msg == "message handler failed, will retry":
			warns++
		case r.Level == slog.LevelError && r.Msg == "erasure still failing":
			alerts++
			if r.Attrs["user_id"] != "u1" || r.Attrs["service"] != "test" {
				t.Errorf("alert line = %v", r)
			}
		case r.Level == slog.LevelError:
			t.Errorf("unexpected error line: %v", r)
		}
	}
	// Attempts 10 to 14 failed at or past AlertAfter.
	if warns != failures || alerts != failures-10+1 {
		t.Fatalf("%d warn lines and %d alerts, want %d and %d", warns, alerts, failures, failures-10+1)
	}
}

// A body naming another user than the subject, or one that does not
// decode, is not applied to anyone: it is terminated and counted.
func TestErasureRejectsABodyThatDisagreesWithTheSubject(t *testing.T) {
	env := newErasureEnv(t)
	erased := make(chan string, 4)
	env.start(t, func(_ context.Context, userID string) error {
		erased <- userID
		return nil
	})
	victim := userv1.UserDeleted{UserID: "victim"}
	env.publishRaw(t, contracts.EventSubject(contracts.DomainUser, contracts.EventDeleted, "attacker"), []byte(`{"user_id":"victim"}`))
	if got := recv(t, env.acks, waitLong, "the verdict on a mismatch"); got != "+TERM" {
		t.Fatalf("mismatch answered %q, want +TERM", got)
	}
	env.publishRaw(t, victim.Subject(), []byte(`{"user_id":`))
	if got := recv(t, env.acks, waitLong, "the verdict on a broken body"); got != "+TERM" {
		t.Fatalf("broken body answered %q, want +TERM", got)
	}
	// The subject is the authority: a body without a user id erases the
	// subject's user.
	env.publishRaw(t, victim.Subject(), []byte(`{"clerk_id":"user_x"}`))
	if got := recv(t, env.acks, waitLong, "the ack"); got != "+ACK" {
		t.Fatalf("subject-only event answered %q", got)
	}
	if got := recv(t, erased, waitLong, "the erase"); got != "victim" {
		t.Fatalf("erased %q", got)
	}
	if len(erased) != 0 {
		t.Fatalf("a rejected event was applied: %q", <-erased)
	}
	if n := env.counter(t, "nonefinity_erasure_rejected_total"); n != 2 {
		t.Fatalf("rejected counted %v, want 2", n)
	}
}

func TestErasureBackoffIsExponentialAndCapped(t *testing.T) {
	got := erasureBackoff(time.Second, 5*time.Minute)
	want := []time.Duration{1, 2, 4, 8, 16, 32, 64, 128, 256, 300}
	if len(got) != len(want) {
		t.Fatalf("backoff = %v", got)
	}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("backoff = %v", got)
		}
	}
}
