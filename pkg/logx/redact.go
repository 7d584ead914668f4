package logx

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
)

const redacted = "[REDACTED]"

// secretKeyWords mark an attribute key, or the key of a key=value pair inside
// a string, whose value is a secret. Matching is case-insensitive and treats
// '-' like '_' (so "X-Api-Key" matches "api_key").
var secretKeyWords = []string{
	"password", "passwd", "pwd", "secret", "token", "api_key", "apikey",
	"authorization", "cookie", "credential", "private_key", "dsn",
}

// The patterns below run only after a cheap substring pre-check says they
// might match, so ordinary messages cost a few scans and no regexp.
const keyPattern = `[A-Za-z0-9_.\-]*(?i:password|passwd|pwd|secret|token|api[_-]?key|authorization|cookie|credential|private[_-]?key|dsn)[A-Za-z0-9_.\-]*`

var (
	// scheme://user:password@host: keep the user, hide the password.
	uriPassword = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.\-]*://[^\s:/?#@]*):[^\s@]+@`)
	// Authorization header values.
	bearerToken = regexp.MustCompile(`(?i)\b(bearer)\s+[A-Za-z0-9\-._~+/]+=*`)
	// JWTs and provider API keys, wherever they appear.
	knownToken = regexp.MustCompile(`eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*` +
		`|\b(?:sk-[A-Za-z0-9_\-]{10,}|AIza[A-Za-z0-9_\-]{20,}|gsk_[A-Za-z0-9_]{10,}|xai-[A-Za-z0-9_\-]{10,})`)
	// "password": "x" (JSON), password=x or password="x y" (logfmt, query
	// strings), Password:x (Go's %+v). "Password: required" with a space
	// after the colon is prose and stays.
	jsonSecret   = regexp.MustCompile(`"(` + keyPattern + `)"\s*:\s*("(?:[^"\\]|\\.)*")`)
	assignSecret = regexp.MustCompile(`(` + keyPattern + `)=("(?:[^"\\]|\\.)*"|[^\s&,;"'}\])]+)`)
	colonSecret  = regexp.MustCompile(`(` + keyPattern + `):([^\s&,;"'}\])]+)`)
)

// Redact hides secrets inside free text: passwords in URIs
// (scheme://user:***@host), bearer tokens, JWTs, provider API keys (sk-…,
// sk-ant-…, sk-or-…, AIza…, gsk_…, xai-…) and the values of secret-looking
// key=value pairs. It returns s itself when there is nothing to hide.
func Redact(s string) string {
	if strings.Contains(s, "://") && strings.Contains(s, "@") {
		s = uriPassword.ReplaceAllString(s, "$1:***@")
	}
	if containsFold(s, "bearer") {
		s = bearerToken.ReplaceAllString(s, "$1 "+redacted)
	}
	if strings.Contains(s, "eyJ") || strings.Contains(s, "sk-") || strings.Contains(s, "AIza") ||
		strings.Contains(s, "gsk_") || strings.Contains(s, "xai-") {
		s = knownToken.ReplaceAllString(s, redacted)
	}
	if strings.ContainsAny(s, "=:") && hasSecretWord(s) {
		s = replaceSecretValues(jsonSecret, s, `"`+redacted+`"`)
		s = replaceSecretValues(assignSecret, s, redacted)
		s = replaceSecretValues(colonSecret, s, redacted)
	}
	return s
}

// replaceSecretValues replaces group 2 (the value) of each match of re whose
// group 1 (the key) isSecretKey; keys such as credential_id stay readable.
func replaceSecretValues(re *regexp.Regexp, s, replacement string) string {
	matches := re.FindAllStringSubmatchIndex(s, -1)
	if matches == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range matches {
		if !isSecretKey(s[m[2]:m[3]]) || s[m[4]:m[5]] == replacement {
			continue
		}
		b.WriteString(s[last:m[4]])
		b.WriteString(replacement)
		last = m[5]
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// isSecretKey reports whether an attribute key names a secret. Identifiers of
// secrets (credential_id, tokenID) are not secrets and stay visible.
func isSecretKey(key string) bool {
	return hasSecretWord(key) && !hasIDSuffix(key)
}

// hasSecretWord reports whether s contains one of secretKeyWords. It makes
// one pass over s and compares words only where their first letter appears.
func hasSecretWord(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20 // ASCII lower case; no word starts with a non-letter
		if c < 'a' || c > 'z' {
			continue
		}
		for _, w := range secretWordsByFirst[c-'a'] {
			if hasPrefixFold(s[i:], w) {
				return true
			}
		}
	}
	return false
}

// secretWordsByFirst indexes secretKeyWords by first letter.
var secretWordsByFirst = func() (idx [26][]string) {
	for _, w := range secretKeyWords {
		idx[w[0]-'a'] = append(idx[w[0]-'a'], w)
	}
	return idx
}()

func hasIDSuffix(key string) bool {
	lower := strings.ToLower(key)
	return strings.HasSuffix(lower, "_id") || strings.HasSuffix(lower, "_ids") ||
		strings.HasSuffix(lower, "-id") || strings.HasSuffix(key, "ID") || strings.HasSuffix(key, "Id") ||
		strings.HasSuffix(key, "IDs") || strings.HasSuffix(key, "Ids")
}

// containsFold reports whether s contains word (lower-case ASCII) ignoring
// ASCII case and treating '-' as '_'. It does not allocate.
func containsFold(s, word string) bool {
	for i := 0; i+len(word) <= len(s); i++ {
		if hasPrefixFold(s[i:], word) {
			return true
		}
	}
	return false
}

func hasPrefixFold(s, word string) bool {
	if len(s) < len(word) {
		return false
	}
	for j := 0; j < len(word); j++ {
		c := s[j]
		switch {
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case c == '-':
			c = '_'
		}
		if c != word[j] {
			return false
		}
	}
	return true
}

// redactHandler hides secrets in the message and every attribute before the
// record reaches the output handler.
type redactHandler struct {
	next slog.Handler
}

func (h redactHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h redactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		clean[i], _ = redactAttr(a)
	}
	return redactHandler{next: h.next.WithAttrs(clean)}
}

func (h redactHandler) WithGroup(name string) slog.Handler {
	return redactHandler{next: h.next.WithGroup(name)}
}

func (h redactHandler) Handle(ctx context.Context, r slog.Record) error {
	msg := Redact(r.Message)
	changed := msg != r.Message
	var stack [8]slog.Attr
	attrs := stack[:0]
	r.Attrs(func(a slog.Attr) bool {
		clean, c := redactAttr(a)
		changed = changed || c
		attrs = append(attrs, clean)
		return true
	})
	if !changed {
		return h.next.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, msg, r.PC)
	out.AddAttrs(attrs...)
	return h.next.Handle(ctx, out)
}

// redactAttr returns a with secrets hidden and whether anything changed.
func redactAttr(a slog.Attr) (slog.Attr, bool) {
	if a.Key != "" && isSecretKey(a.Key) {
		return slog.String(a.Key, redacted), true
	}
	v := a.Value
	resolved := false
	if v.Kind() == slog.KindLogValuer {
		// Resolve here so what a LogValuer returns is checked too.
		v, resolved = v.Resolve(), true
	}
	switch v.Kind() {
	case slog.KindString:
		s := v.String()
		if clean := Redact(s); clean != s {
			return slog.String(a.Key, clean), true
		}
	case slog.KindGroup:
		group := v.Group()
		var clean []slog.Attr
		for i, ga := range group {
			ca, c := redactAttr(ga)
			if c && clean == nil {
				clean = append(make([]slog.Attr, 0, len(group)), group[:i]...)
			}
			if clean != nil {
				clean = append(clean, ca)
			}
		}
		if clean != nil {
			return slog.Attr{Key: a.Key, Value: slog.GroupValue(clean...)}, true
		}
	case slog.KindAny:
		if err, ok := v.Any().(error); ok && err != nil {
			// Both output handlers print an error as its message.
			return slog.String(a.Key, Redact(err.Error())), true
		}
		text := anyText(v.Any())
		if clean := Redact(text); clean != text {
			return slog.String(a.Key, clean), true
		}
	}
	return slog.Attr{Key: a.Key, Value: v}, resolved
}

// anyText renders a value the way the output handlers do (JSON), so that
// what is checked for secrets is what gets printed.
func anyText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}
