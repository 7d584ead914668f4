package telemetry_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nonefinity/backend/pkg/reqctx"
	"github.com/nonefinity/backend/pkg/telemetry"
	"github.com/nonefinity/backend/pkg/testkit"
)

func TestCaptureFailureSendsAnErrorEventWithoutIDsOrSecrets(t *testing.T) {
	ingest, flush := testkit.Sentry(t, telemetry.SentryOptions{Environment: "test"})
	const (
		userID  = "user_2xYzSecretRawId"
		apiKey  = "sk-live-abcdef0123456789"
		traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	)
	ctx := reqctx.With(context.Background(), reqctx.Meta{
		UserID: userID, RequestID: "req-9", Traceparent: "00-" + traceID + "-00f067aa0ba902b7-01",
	})
	err := errors.New("convert for " + userID + " failed: provider answered 401 for api_key=" + apiKey)
	telemetry.CaptureFailure(ctx, telemetry.Failure{
		Err: err, ErrorID: "0011223344556677", Service: "datasetquery",
		Subject: "job.dataset.v1.convert." + userID, Tags: map[string]string{"durable": "datasetquery-convert"},
	})
	if !flush(5 * time.Second) {
		t.Fatal("flush timed out")
	}
	ev := ingest.WaitErrorID(t, 5*time.Second, "0011223344556677")
	for _, leaked := range []string{userID, apiKey} {
		if strings.Contains(string(ev.Raw), leaked) {
			t.Errorf("event carries %q: %s", leaked, ev.Raw)
		}
	}
	want := map[string]string{
		"service": "datasetquery", "request_id": "req-9", "trace_id": traceID, "durable": "datasetquery-convert",
		"subject": "job.dataset.v1.convert." + telemetry.HashUserID(userID),
	}
	for k, v := range want {
		if ev.Tags[k] != v {
			t.Errorf("tag %s = %q, want %q", k, ev.Tags[k], v)
		}
	}
	if ev.User.ID != telemetry.HashUserID(userID) || !strings.HasPrefix(ev.User.ID, "sha256:") {
		t.Errorf("user id = %q, want the hash %q", ev.User.ID, telemetry.HashUserID(userID))
	}
	if ev.TraceID() != traceID {
		t.Errorf("trace context id = %q, want %q", ev.TraceID(), traceID)
	}
	if len(ev.Exception) == 0 || !strings.Contains(ev.Exception[0].Value, "provider answered 401") {
		t.Errorf("exception = %+v", ev.Exception)
	}
}

func TestHashUserIDIsStableAndIdempotent(t *testing.T) {
	a, b := telemetry.HashUserID("u1"), telemetry.HashUserID("u2")
	if a == b || a != telemetry.HashUserID("u1") || telemetry.HashUserID(a) != a || telemetry.HashUserID("") != "" {
		t.Fatalf("HashUserID: u1 %q, u2 %q, again %q", a, b, telemetry.HashUserID(a))
	}
}
