package natsx

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/pkg/reqctx"
)

const (
	// DefaultRequestTimeout bounds a request whose caller sent no deadline,
	// so a handler never runs unbounded on behalf of a caller that may be gone.
	DefaultRequestTimeout = 30 * time.Second
	// MaxRequestTimeout caps the deadline a caller may ask for; a header is
	// input from another process and must not pin a handler for hours.
	MaxRequestTimeout = 5 * time.Minute
)

// InjectHeaders writes the request metadata carried by ctx (user id, role,
// request id, traceparent) and ctx's deadline into h, which must not be
// nil. Empty values are left out so a header's presence always means
// something.
func InjectHeaders(ctx context.Context, h nats.Header) {
	injectMeta(ctx, h)
	if deadline, ok := ctx.Deadline(); ok {
		h.Set(contracts.HeaderDeadline, deadline.UTC().Format(time.RFC3339Nano))
	}
}

// injectMeta writes only the metadata, not the deadline: a JetStream message
// outlives the request that published it, so its consumer must not inherit
// that request's deadline.
func injectMeta(ctx context.Context, h nats.Header) {
	m := reqctx.From(ctx)
	setIfNotEmpty(h, contracts.HeaderUserID, m.UserID)
	setIfNotEmpty(h, contracts.HeaderUserRole, m.Role)
	setIfNotEmpty(h, contracts.HeaderRequestID, m.RequestID)
	setIfNotEmpty(h, contracts.HeaderTraceparent, m.Traceparent)
}

func setIfNotEmpty(h nats.Header, key, value string) {
	if value != "" {
		h.Set(key, value)
	}
}

// metaFromHeaders reads the request metadata InjectHeaders wrote.
func metaFromHeaders(h nats.Header) reqctx.Meta {
	if h == nil {
		return reqctx.Meta{}
	}
	return reqctx.Meta{
		UserID:      h.Get(contracts.HeaderUserID),
		Role:        h.Get(contracts.HeaderUserRole),
		RequestID:   h.Get(contracts.HeaderRequestID),
		Traceparent: h.Get(contracts.HeaderTraceparent),
	}
}

// ContextFromHeaders returns a context carrying the metadata of h and the
// caller's deadline. Without a (parsable) deadline header it applies
// DefaultRequestTimeout; a deadline further away than MaxRequestTimeout is
// cut to it. A deadline already in the past yields a context that is already
// done, which tells the handler nobody waits for the answer any more.
func ContextFromHeaders(parent context.Context, h nats.Header) (context.Context, context.CancelFunc) {
	ctx := reqctx.With(parent, metaFromHeaders(h))
	return context.WithDeadline(ctx, deadlineFromHeaders(h, time.Now()))
}

func deadlineFromHeaders(h nats.Header, now time.Time) time.Time {
	limit := now.Add(MaxRequestTimeout)
	if h == nil {
		return now.Add(DefaultRequestTimeout)
	}
	raw := h.Get(contracts.HeaderDeadline)
	if raw == "" {
		return now.Add(DefaultRequestTimeout)
	}
	deadline, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		return now.Add(DefaultRequestTimeout)
	}
	if deadline.After(limit) {
		return limit
	}
	return deadline
}
