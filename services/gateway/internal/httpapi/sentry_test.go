package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nonefinity/backend/contracts"
	cv1 "github.com/nonefinity/backend/contracts/credentialv1"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/telemetry"
	"github.com/nonefinity/backend/pkg/testkit"
)

// secretHeaders are a caller's credentials. They live away from the test
// bodies: an event ships the source lines around each of its frames, and
// those must not spell them out.
func secretHeaders() map[string]string {
	return map[string]string{
		"Authorization":  "Bearer sentry-secret-token",
		"Cookie":         "__session=sentry-secret-cookie",
		"svix-signature": "v1,sentry-secret-signature",
	}
}

// A panicking route reaches Sentry with its error id and without the
// caller's Authorization, Cookie or webhook signature; health routes send
// no transaction while API routes do.
func TestSentryGetsScrubbedPanicsAndNoHealthTraces(t *testing.T) {
	ingest, flush := testkit.Sentry(t, telemetry.SentryOptions{TracesSampleRate: 1, SendDefaultPII: true})

	h := newHarness(t, allServices, withWebhooks(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("webhook handler bug")
	})))
	rec := h.do(request{method: "POST", path: "/api/v1/webhooks/clerk", body: `{"type":"user.created"}`, header: secretHeaders()})
	env := expectError(t, rec, 500, "internal", "")
	for _, path := range []string{"/health", "/ready", "/metrics"} {
		h.do(request{method: "GET", path: path})
	}
	h.do(request{method: "GET", path: "/api/v1/credentials/" + sampleID, token: userToken})
	if !flush(5 * time.Second) {
		t.Fatal("sentry flush timed out")
	}

	items := ingest.Items()
	var event []byte
	var transactions []string
	for _, it := range items {
		switch it.Type {
		case "event":
			event = it.Payload
		case "transaction":
			var tx struct {
				Transaction string `json:"transaction"`
			}
			_ = json.Unmarshal(it.Payload, &tx)
			transactions = append(transactions, tx.Transaction)
		}
		for _, secret := range []string{"sentry-secret-token", "sentry-secret-cookie", "sentry-secret-signature"} {
			if bytes.Contains(it.Payload, []byte(secret)) {
				t.Errorf("%s item leaks %s: %s", it.Type, secret, it.Payload)
			}
		}
	}
	if event == nil {
		t.Fatalf("no error event reached the ingest (items %d)", len(items))
	}
	var ev struct {
		Tags    map[string]string `json:"tags"`
		Request struct {
			Headers map[string]string `json:"headers"`
		} `json:"request"`
	}
	if err := json.Unmarshal(event, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Tags["error_id"] != env.Errors[0].ErrorID || ev.Tags["service"] != "gateway" || ev.Tags["route"] != "POST /api/v1/webhooks/clerk" {
		t.Errorf("event tags %v, response error id %q", ev.Tags, env.Errors[0].ErrorID)
	}
	if got := ev.Request.Headers["Authorization"]; got != telemetry.Filtered {
		t.Errorf("Authorization in event = %q", got)
	}
	if !bytes.Contains(event, []byte("webhook handler bug")) {
		t.Error("event does not carry the panic")
	}
	for _, tx := range transactions {
		if strings.Contains(tx, "/health") || strings.Contains(tx, "/ready") || strings.Contains(tx, "/metrics") {
			t.Errorf("health route traced: %q", tx)
		}
	}
	want := "GET /api/v1/credentials/{id}"
	found := false
	for _, tx := range transactions {
		found = found || tx == want
	}
	if !found {
		t.Errorf("transactions %q lack %q (named by route, not raw path)", transactions, want)
	}
}

// A 5xx the gateway makes itself (a service that does not answer, a
// service error without an id) carries an error id and reaches Sentry
// under it with the route, the trace id and the user only as a hash; a 5xx
// a service answered with its id was reported by that service and is not
// reported again.
func TestGateway5xxReachSentryOnce(t *testing.T) {
	ingest, flush := testkit.Sentry(t, telemetry.SentryOptions{})
	h := newHarness(t, []string{contracts.ServiceCredential})
	h.stubs.answer(cv1.Subject(cv1.OpGet), failWith(&rpcerr.Error{Code: rpcerr.Internal, Message: "internal error", ErrorID: "00112233aabbccdd"}))
	const traceID = "5bf92f3577b34da6a3ce929d0e0e4736"
	traceparent := "00-" + traceID + "-00f067aa0ba902b7-01"

	// No file service runs: the gateway answers 503 itself.
	rec := h.do(request{method: "GET", path: "/api/v1/file/" + sampleID, token: userToken, header: map[string]string{"traceparent": traceparent}})
	gone := expectError(t, rec, 503, rpcerr.Unavailable, "")
	// The credential service answered 500 with its own id.
	rec = h.do(request{method: "GET", path: "/api/v1/credentials/" + sampleID, token: userToken})
	reported := expectError(t, rec, 500, rpcerr.Internal, "")
	if !flush(5 * time.Second) {
		t.Fatal("flush timed out")
	}

	if gone.Errors[0].ErrorID == "" {
		t.Fatalf("503 without an error id: %+v", gone.Errors[0])
	}
	ev := ingest.WaitErrorID(t, 5*time.Second, gone.Errors[0].ErrorID)
	if ev.Tags["service"] != "gateway" || ev.Tags["route"] != "GET /api/v1/file/{file_id}" || ev.Tags["trace_id"] != traceID || ev.TraceID() != traceID {
		t.Errorf("event tags %v, trace %q", ev.Tags, ev.TraceID())
	}
	if ev.User.ID != telemetry.HashUserID(userAID) || strings.Contains(string(ev.Raw), userAID) || strings.Contains(string(ev.Raw), userToken) {
		t.Errorf("event user %q; raw id or token in %s", ev.User.ID, ev.Raw)
	}
	// The stub credential service reported its own 500 (natsx does);
	// the gateway did not add a second event.
	for _, e := range ingest.Events(t) {
		if e.Tags["error_id"] == reported.Errors[0].ErrorID && e.Tags["service"] == "gateway" {
			t.Errorf("the service's own 500 was reported again by the gateway: %v", e.Tags)
		}
	}
}
