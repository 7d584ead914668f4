package telemetry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/getsentry/sentry-go"

	"github.com/nonefinity/backend/pkg/reqctx"
)

// hashedUserPrefix marks a user id that HashUserID produced; no real id
// starts with it, so hashing twice is avoided.
const hashedUserPrefix = "sha256:"

// HashUserID is the form of a user id that may leave the process in an error
// report: stable (one user's errors group together) but not the id itself.
func HashUserID(id string) string {
	if id == "" || strings.HasPrefix(id, hashedUserPrefix) {
		return id
	}
	sum := sha256.Sum256([]byte("nonefinity-user:" + id))
	return hashedUserPrefix + hex.EncodeToString(sum[:8])
}

// Failure is one error worth a Sentry error event: a 5xx answer or a message
// given up as poison.
type Failure struct {
	Err error
	// ErrorID is the id the caller saw (or the log line carries).
	ErrorID string
	// Service is the service that failed (credential, gateway…).
	Service string
	// Route is the HTTP route ("GET /api/v1/files/{id}"); Subject the NATS
	// subject of the request or message. One of them is set.
	Route, Subject string
	// UserID is whom the request was for; empty takes the context's.
	UserID string
	// Tags are further searchable values (stream, durable, status).
	Tags map[string]string
}

// CaptureFailure sends f to Sentry as an error event tagged with its error
// id, service, route or subject, request id and trace id, and with the user
// only as HashUserID: the raw user id is replaced wherever it appears (a
// subject ends in it, messages quote it). The credentials scrub of
// InitSentry runs on it as on every event. Without a Sentry client it does
// nothing.
func CaptureFailure(ctx context.Context, f Failure) {
	hub := sentry.GetHubFromContext(ctx)
	if hub == nil {
		hub = sentry.CurrentHub()
	}
	client := hub.Client()
	if client == nil || f.Err == nil {
		return
	}
	meta := reqctx.From(ctx)
	userID := f.UserID
	if userID == "" {
		userID = meta.UserID
	}
	hideUser := func(s string) string { return s }
	if len(userID) >= 4 {
		// Shorter ids would match inside unrelated words.
		hashed := HashUserID(userID)
		hideUser = func(s string) string { return strings.ReplaceAll(s, userID, hashed) }
	}

	ev := client.EventFromException(f.Err, sentry.LevelError)
	for i := range ev.Exception {
		ev.Exception[i].Value = hideUser(ev.Exception[i].Value)
	}
	ev.Tags = map[string]string{"error_id": f.ErrorID, "service": f.Service}
	operation := f.Route
	if f.Route != "" {
		ev.Tags["route"] = f.Route
	}
	if f.Subject != "" {
		ev.Tags["subject"] = hideUser(f.Subject)
		operation = subjectKind(f.Subject, userID)
	}
	if meta.RequestID != "" {
		ev.Tags["request_id"] = meta.RequestID
	}
	for k, v := range f.Tags {
		ev.Tags[k] = hideUser(v)
	}
	if userID != "" {
		ev.User = sentry.User{ID: HashUserID(userID)}
	}
	// One issue per operation, not one for every error that passed through
	// the same capturing line.
	ev.Fingerprint = []string{"{{ default }}", f.Service, operation}

	scoped := hub.Clone()
	if traceID := meta.TraceID(); traceID != "" {
		ev.Tags["trace_id"] = traceID
		if tpc, ok := sentry.ParseTraceParentContext([]byte(traceParentAsSentry(meta.Traceparent))); ok {
			pc := sentry.NewPropagationContext()
			pc.TraceID = tpc.TraceID
			pc.ParentSpanID = tpc.ParentSpanID
			// The scope writes its propagation context into the event
			// when no span is running (a service); with one (the
			// gateway's request) the explicit trace context below wins.
			scoped.Scope().SetPropagationContext(pc)
			ev.Contexts = map[string]sentry.Context{"trace": pc.Map()}
		}
	}
	scoped.CaptureEvent(ev)
}

// traceParentAsSentry turns a W3C traceparent (00-<trace>-<span>-<flags>)
// into the sentry-trace form (<trace>-<span>-<sampled>) the SDK parses.
func traceParentAsSentry(tp string) string {
	if len(tp) < 55 {
		return ""
	}
	sampled := "0"
	if tp[len(tp)-1] == '1' {
		sampled = "1"
	}
	return tp[3:35] + "-" + tp[36:52] + "-" + sampled
}

// subjectKind is a subject without its user token, so the events of one
// consumer or endpoint group together whoever they were for.
func subjectKind(subject, userID string) string {
	if userID != "" && strings.HasSuffix(subject, "."+userID) {
		return strings.TrimSuffix(subject, userID) + "*"
	}
	return subject
}
