package all_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/pkg/telemetry"
	"github.com/nonefinity/backend/pkg/testkit"
)

// With every service in one process, as `make run` runs them, a poison
// message and a 5xx each reach Sentry as one error event with its error
// id, service, subject or route, trace id and a hashed user id, and
// neither the raw user id nor the caller's token.
func TestE2EPoisonAnd5xxReachSentry(t *testing.T) {
	ingest, flush := testkit.Sentry(t, telemetry.SentryOptions{})
	s := startE2E(t, e2eOptions{})
	a := s.user(t, "e2e_sentry_a", "")
	expect(t, a.get(t, "/credentials"), http.StatusOK, nil)

	// A conversion job that does not decode is poison for datasetquery.
	const (
		userID  = "e2e-sentry-user-0001"
		traceID = "6bf92f3577b34da6a3ce929d0e0e4736"
	)
	js, err := jetstream.New(s.nats.Conn(t))
	if err != nil {
		t.Fatal(err)
	}
	msg := &nats.Msg{Subject: contracts.ConvertJobSubject(userID), Data: []byte(`{"dataset_id": 42}`), Header: nats.Header{}}
	msg.Header.Set(contracts.HeaderUserID, userID)
	msg.Header.Set(contracts.HeaderTraceparent, "00-"+traceID+"-00f067aa0ba902b7-01")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}

	// With fileingest gone the gateway answers 503 itself.
	s.stopFiles()
	r := a.get(t, "/file/list")
	expect(t, r, http.StatusServiceUnavailable, nil)
	var env struct {
		Errors []struct {
			ErrorID string `json:"error_id"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(r.body, &env); err != nil || len(env.Errors) == 0 || env.Errors[0].ErrorID == "" {
		t.Fatalf("503 without an error id: %s", r.body)
	}
	if !flush(5 * time.Second) {
		t.Fatal("sentry flush timed out")
	}

	poison := ingest.WaitEvent(t, time.Minute, "for the poison job", func(ev testkit.SentryEvent) bool {
		return ev.Tags["service"] == "datasetquery" && strings.HasPrefix(ev.Tags["subject"], "job.dataset.v1.convert.")
	})
	if poison.Tags["error_id"] == "" || poison.Tags["trace_id"] != traceID || poison.TraceID() != traceID ||
		poison.User.ID != telemetry.HashUserID(userID) || strings.Contains(string(poison.Raw), userID) {
		t.Errorf("poison event tags %v user %q: %s", poison.Tags, poison.User.ID, poison.Raw)
	}

	gone := ingest.WaitErrorID(t, 30*time.Second, env.Errors[0].ErrorID)
	if gone.Tags["service"] != "gateway" || gone.Tags["route"] != "GET /api/v1/file/list" || gone.User.ID == "" ||
		!strings.HasPrefix(gone.User.ID, "sha256:") || strings.Contains(string(gone.Raw), a.token) {
		t.Errorf("503 event tags %v user %q", gone.Tags, gone.User.ID)
	}
}
