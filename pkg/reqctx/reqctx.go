// Package reqctx carries the metadata of one request through a context: who
// asks (user id and role), the request id and the W3C traceparent. The gateway
// fills it from HTTP, natsx moves it over NATS headers, logx prints it.
package reqctx

import "context"

// Meta is the request-scoped metadata that crosses process boundaries.
type Meta struct {
	UserID      string
	Role        string
	RequestID   string
	Traceparent string
}

type metaKey struct{}

// With returns a context carrying m.
func With(ctx context.Context, m Meta) context.Context {
	return context.WithValue(ctx, metaKey{}, m)
}

// From returns the metadata carried by ctx (the zero Meta when there is none).
func From(ctx context.Context) Meta {
	m, _ := ctx.Value(metaKey{}).(Meta)
	return m
}

// UserID is a shortcut for From(ctx).UserID.
func UserID(ctx context.Context) string { return From(ctx).UserID }

// TraceID is the trace-id part of the traceparent ("00-<trace>-<span>-<flags>"),
// or "" when there is none.
func (m Meta) TraceID() string {
	tp := m.Traceparent
	if len(tp) >= 55 && tp[2] == '-' && tp[35] == '-' {
		return tp[3:35]
	}
	return ""
}
