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
// It also keeps one value per top-level key. Loggers are built in layers
// that do not know each other (the process tags service=…, a package tags
// it again, a call site names the request_id the context already carries),
// and slog's handlers print every layer's copy. The last value given wins
// (a record's own attributes over the logger's), and the context's metadata
// is added only under keys nobody gave.
//
// Attributes added after WithGroup land inside that group, where keys are
// not merged; slog offers no way to add top-level attributes to a grouped
// handler.
type contextHandler struct {
	next slog.Handler
	// attrs are the logger's top-level attributes, held back from next
	// so that a record can replace them.
	attrs []slog.Attr
	// grouped is set once WithGroup has passed attrs on to next.
	grouped bool
}

// newContextHandler wraps next and tags every record with the service name.
func newContextHandler(next slog.Handler, service string) contextHandler {
	h := contextHandler{next: next}
	if service != "" {
		h.attrs = []slog.Attr{slog.String("service", service)}
	}
	return h
}

func (h contextHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	own := make([]slog.Attr, 0, r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		own = append(own, a)
		return true
	})
	var fromCtx []slog.Attr
	if ctx != nil {
		m := reqctx.From(ctx)
		if m.RequestID != "" {
			fromCtx = append(fromCtx, slog.String("request_id", m.RequestID))
		}
		if m.UserID != "" {
			fromCtx = append(fromCtx, slog.String("user_id", m.UserID))
		}
		if id := m.TraceID(); id != "" {
			fromCtx = append(fromCtx, slog.String("trace_id", id))
		}
	}
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	var attrs []slog.Attr
	if h.grouped {
		// Inside a group only the record's own keys can clash.
		attrs = lastPerKey(own)
	} else {
		attrs = make([]slog.Attr, 0, len(h.attrs)+len(own)+len(fromCtx))
		attrs = lastPerKey(append(append(attrs, h.attrs...), own...))
	}
	out.AddAttrs(attrs...)
	for _, a := range fromCtx {
		if !hasKey(attrs, a.Key) {
			out.AddAttrs(a)
		}
	}
	return h.next.Handle(ctx, out)
}

func hasKey(attrs []slog.Attr, key string) bool {
	for _, a := range attrs {
		if a.Key == key {
			return true
		}
	}
	return false
}

func (h contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if h.grouped {
		return contextHandler{next: h.next.WithAttrs(attrs), grouped: true}
	}
	merged := make([]slog.Attr, 0, len(h.attrs)+len(attrs))
	merged = append(append(merged, h.attrs...), attrs...)
	return contextHandler{next: h.next, attrs: lastPerKey(merged)}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	next := h.next
	if len(h.attrs) > 0 {
		next = next.WithAttrs(h.attrs)
	}
	return contextHandler{next: next.WithGroup(name), grouped: true}
}

// lastPerKey keeps the last attribute of each key, in the position of the
// first one, so a line reads in the order its keys were first given.
// Attributes without a key (inlined groups) are kept as they are.
func lastPerKey(attrs []slog.Attr) []slog.Attr {
	if len(attrs) < 2 {
		return attrs
	}
	last := make(map[string]int, len(attrs))
	for i, a := range attrs {
		if a.Key != "" {
			last[a.Key] = i
		}
	}
	if len(last) == len(attrs) {
		return attrs
	}
	out := make([]slog.Attr, 0, len(last))
	placed := make(map[string]bool, len(last))
	for _, a := range attrs {
		if a.Key == "" {
			out = append(out, a)
			continue
		}
		if placed[a.Key] {
			continue
		}
		placed[a.Key] = true
		out = append(out, attrs[last[a.Key]])
	}
	return out
}
