package telemetry

import (
	"net/url"
	"strings"

	"github.com/getsentry/sentry-go"

	"github.com/nonefinity/backend/pkg/logx"
)

// Filtered replaces every value the scrubber removes.
const Filtered = "[Filtered]"

// secretWords mark a header, query parameter or data key whose value is a
// credential. Matching ignores case.
var secretWords = []string{
	"authorization", "cookie", "token", "secret", "key", "password", "passwd",
	"pwd", "signature", "credential", "session", "dsn", "auth", "ticket",
}

// isSecretName reports whether a header, parameter or map key names a
// credential. Identifiers of secrets (credential_id, key_id) are not secrets
// and stay readable.
func isSecretName(name string) bool {
	lower := strings.ToLower(name)
	if strings.HasSuffix(lower, "_id") || strings.HasSuffix(lower, "-id") || strings.HasSuffix(lower, "_ids") {
		return false
	}
	for _, w := range secretWords {
		if strings.Contains(lower, w) {
			return true
		}
	}
	return false
}

// ScrubEvent removes credentials from an event before it is sent: secret
// request headers, cookies and query parameters become "[Filtered]", the
// request body is dropped, secret-looking keys in contexts, tags, span and
// breadcrumb data are filtered, and free text (messages, exception values,
// source lines around stack frames, span descriptions) goes through
// logx.Redact. The user is reduced to HashUserID of its id (the address
// stays when SendDefaultPII asked for it). It builds new maps rather than
// editing the ones the event shares with its scope.
func ScrubEvent(e *sentry.Event) *sentry.Event {
	if e == nil {
		return nil
	}
	e.Message = logx.Redact(e.Message)
	if !e.User.IsEmpty() {
		e.User = sentry.User{ID: HashUserID(e.User.ID), IPAddress: e.User.IPAddress}
	}
	if e.Request != nil {
		e.Request = scrubRequest(e.Request)
	}
	for i := range e.Exception {
		ex := &e.Exception[i]
		ex.Value = logx.Redact(ex.Value)
		if ex.Mechanism != nil && len(ex.Mechanism.Data) > 0 {
			m := *ex.Mechanism
			m.Data = scrubMap(m.Data)
			ex.Mechanism = &m
		}
		ex.Stacktrace = scrubStacktrace(ex.Stacktrace)
	}
	for i := range e.Threads {
		e.Threads[i].Stacktrace = scrubStacktrace(e.Threads[i].Stacktrace)
	}
	if len(e.Contexts) > 0 {
		contexts := make(map[string]sentry.Context, len(e.Contexts))
		for k, c := range e.Contexts {
			contexts[k] = scrubMap(c)
		}
		e.Contexts = contexts
	}
	e.Tags = scrubStrings(e.Tags)
	for i, b := range e.Breadcrumbs {
		e.Breadcrumbs[i] = scrubBreadcrumb(b)
	}
	for _, s := range e.Spans {
		s.Description = logx.Redact(s.Description)
		s.Data = scrubMap(s.Data)
		s.Tags = scrubStrings(s.Tags)
	}
	return e
}

func scrubRequest(in *sentry.Request) *sentry.Request {
	r := *in
	r.URL = scrubURL(r.URL)
	r.QueryString = scrubQuery(r.QueryString)
	if r.Cookies != "" {
		r.Cookies = Filtered
	}
	// Bodies carry passwords, API keys and user data in shapes we cannot
	// predict; the URL and headers are enough to debug.
	r.Data = ""
	if len(r.Headers) > 0 {
		headers := make(map[string]string, len(r.Headers))
		for k, v := range r.Headers {
			if isSecretName(k) {
				headers[k] = Filtered
			} else {
				headers[k] = logx.Redact(v)
			}
		}
		r.Headers = headers
	}
	return &r
}

func scrubURL(raw string) string {
	base, query, ok := strings.Cut(raw, "?")
	base = logx.Redact(base)
	if !ok {
		return base
	}
	return base + "?" + scrubQuery(query)
}

// scrubQuery filters the values of secret parameters, keeping the order and
// encoding of everything else. Other values still go through logx.Redact
// one by one (the filtered ones must not: Redact would mangle the marker).
func scrubQuery(q string) string {
	if q == "" {
		return q
	}
	parts := strings.Split(q, "&")
	for i, p := range parts {
		k, v, hasValue := strings.Cut(p, "=")
		if !hasValue {
			continue
		}
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		if isSecretName(name) {
			parts[i] = k + "=" + Filtered
		} else {
			parts[i] = k + "=" + logx.Redact(v)
		}
	}
	return strings.Join(parts, "&")
}

// scrubStacktrace redacts the source lines the SDK attaches around each
// frame: code near a failing call sometimes spells out a URI or a token.
func scrubStacktrace(st *sentry.Stacktrace) *sentry.Stacktrace {
	if st == nil || len(st.Frames) == 0 {
		return st
	}
	out := *st
	out.Frames = make([]sentry.Frame, len(st.Frames))
	for i, f := range st.Frames {
		f.ContextLine = logx.Redact(f.ContextLine)
		f.PreContext = redactAll(f.PreContext)
		f.PostContext = redactAll(f.PostContext)
		f.Vars = scrubMap(f.Vars)
		out.Frames[i] = f
	}
	return &out
}

func redactAll(lines []string) []string {
	if len(lines) == 0 {
		return lines
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = logx.Redact(l)
	}
	return out
}

func scrubBreadcrumb(b *sentry.Breadcrumb) *sentry.Breadcrumb {
	if b == nil {
		return nil
	}
	out := *b
	out.Message = logx.Redact(out.Message)
	out.Data = scrubMap(out.Data)
	return &out
}

func scrubStrings(m map[string]string) map[string]string {
	if len(m) == 0 {
		return m
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if isSecretName(k) {
			out[k] = Filtered
		} else {
			out[k] = logx.Redact(v)
		}
	}
	return out
}

func scrubMap(m map[string]any) map[string]any {
	if len(m) == 0 {
		return m
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if isSecretName(k) {
			out[k] = Filtered
			continue
		}
		out[k] = scrubValue(v)
	}
	return out
}

func scrubValue(v any) any {
	switch x := v.(type) {
	case string:
		return logx.Redact(x)
	case map[string]any:
		return scrubMap(x)
	case map[string]string:
		return scrubStrings(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = scrubValue(e)
		}
		return out
	case []string:
		out := make([]string, len(x))
		for i, e := range x {
			out[i] = logx.Redact(e)
		}
		return out
	}
	return v
}
