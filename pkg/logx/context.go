package logx

import (
	"context"
	"log/slog"

	"github.com/nonefinity/backend/pkg/reqctx"
)

// contextHandler adds the request metadata carried by the context
// (slog.InfoContext and friends) to each record, so one request can be
// followed across services by request_id and trace_id.
//
// Attributes added after WithGroup land inside that group; slog offers no
// way to add top-level attributes to a grouped handler.
type contextHandler struct {
	next slog.Handler
}

// newContextHandler wraps next and tags every record with the service name.
func newContextHandler(next slog.Handler, service string) contextHandler {
	if service != "" {
		next = next.WithAttrs([]slog.Attr{slog.String("service", service)})
	}
	return contextHandler{next: next}
}

func (h contextHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		m := reqctx.From(ctx)
		if m.RequestID != "" {
			r.AddAttrs(slog.String("request_id", m.RequestID))
		}
		if m.UserID != "" {
			r.AddAttrs(slog.String("user_id", m.UserID))
		}
		if id := m.TraceID(); id != "" {
			r.AddAttrs(slog.String("trace_id", id))
		}
	}
	return h.next.Handle(ctx, r)
}

func (h contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return contextHandler{next: h.next.WithAttrs(attrs)}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{next: h.next.WithGroup(name)}
}
