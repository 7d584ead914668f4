package logx

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strconv"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// ANSI colors for the level in dev output.
const (
	colorReset = "\x1b[0m"
	colorFaint = "\x1b[2m"
	colorDebug = "\x1b[90m"
	colorInfo  = "\x1b[32m"
	colorWarn  = "\x1b[33m"
	colorError = "\x1b[31m"
)

// textHandler writes one human-readable line per record for development:
//
//	14:03:07.412 INFO  request done service=gateway status=200 path=/health
//
// Attributes are key=value; keys inside groups are joined with dots.
type textHandler struct {
	mu     *sync.Mutex // shared by handlers derived with WithAttrs/WithGroup
	w      io.Writer
	level  slog.Leveler
	color  bool
	prefix string // group path for keys, "a.b." after WithGroup("a").WithGroup("b")
	attrs  []byte // attributes from WithAttrs, already formatted
}

func newTextHandler(w io.Writer, level slog.Leveler, color bool) *textHandler {
	return &textHandler{mu: &sync.Mutex{}, w: w, level: level, color: color}
}

func (h *textHandler) Enabled(_ context.Context, level slog.Level) bool {
	return level >= h.level.Level()
}

func (h *textHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	h2 := *h
	h2.attrs = append([]byte(nil), h.attrs...)
	for _, a := range attrs {
		h2.attrs = h2.appendAttr(h2.attrs, h.prefix, a)
	}
	return &h2
}

func (h *textHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.prefix = h.prefix + name + "."
	return &h2
}

func (h *textHandler) Handle(_ context.Context, r slog.Record) error {
	buf := make([]byte, 0, 256)
	if !r.Time.IsZero() {
		buf = r.Time.AppendFormat(buf, "15:04:05.000")
		buf = append(buf, ' ')
	}
	buf = h.appendLevel(buf, r.Level)
	buf = append(buf, ' ')
	buf = append(buf, r.Message...)
	buf = append(buf, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		buf = h.appendAttr(buf, h.prefix, a)
		return true
	})
	buf = append(buf, '\n')

	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := h.w.Write(buf)
	return err
}

func (h *textHandler) appendLevel(buf []byte, level slog.Level) []byte {
	name := level.String()
	color := colorError
	switch {
	case level < slog.LevelInfo:
		color = colorDebug
	case level < slog.LevelWarn:
		color = colorInfo
	case level < slog.LevelError:
		color = colorWarn
	}
	if h.color {
		buf = append(buf, color...)
	}
	buf = append(buf, name...)
	if h.color {
		buf = append(buf, colorReset...)
	}
	for i := len(name); i < 5; i++ { // align messages after "INFO" and "WARN"
		buf = append(buf, ' ')
	}
	return buf
}

// appendAttr formats " key=value", following slog's rules: empty attributes
// are dropped and a group with an empty key is inlined.
func (h *textHandler) appendAttr(buf []byte, prefix string, a slog.Attr) []byte {
	v := a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return buf
	}
	if v.Kind() == slog.KindGroup {
		group := v.Group()
		if len(group) == 0 {
			return buf
		}
		if a.Key != "" {
			prefix += a.Key + "."
		}
		for _, ga := range group {
			buf = h.appendAttr(buf, prefix, ga)
		}
		return buf
	}
	buf = append(buf, ' ')
	if h.color {
		buf = append(buf, colorFaint...)
	}
	buf = append(buf, prefix...)
	buf = append(buf, a.Key...)
	buf = append(buf, '=')
	if h.color {
		buf = append(buf, colorReset...)
	}
	return appendValue(buf, v)
}

func appendValue(buf []byte, v slog.Value) []byte {
	switch v.Kind() {
	case slog.KindString:
		return appendMaybeQuoted(buf, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(buf, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(buf, v.Uint64(), 10)
	case slog.KindFloat64:
		return strconv.AppendFloat(buf, v.Float64(), 'g', -1, 64)
	case slog.KindBool:
		return strconv.AppendBool(buf, v.Bool())
	case slog.KindDuration:
		return append(buf, v.Duration().String()...)
	case slog.KindTime:
		return v.Time().AppendFormat(buf, time.RFC3339Nano)
	}
	switch x := v.Any().(type) {
	case error:
		if x != nil {
			return appendMaybeQuoted(buf, x.Error())
		}
	case fmt.Stringer:
		return appendMaybeQuoted(buf, x.String())
	}
	// A named string type (an error code, a status) reads as its text,
	// not as a JSON string quoted once more.
	if rv := reflect.ValueOf(v.Any()); rv.Kind() == reflect.String {
		return appendMaybeQuoted(buf, rv.String())
	}
	// Same rendering as the JSON handler (and as the redaction check).
	if b, err := json.Marshal(v.Any()); err == nil {
		return appendMaybeQuoted(buf, string(b))
	}
	return appendMaybeQuoted(buf, fmt.Sprintf("%+v", v.Any()))
}

func appendMaybeQuoted(buf []byte, s string) []byte {
	if needsQuoting(s) {
		return strconv.AppendQuote(buf, s)
	}
	return append(buf, s...)
}

func needsQuoting(s string) bool {
	if s == "" {
		return true
	}
	for _, r := range s {
		if r == ' ' || r == '=' || r == '"' || r == utf8.RuneError || !unicode.IsPrint(r) {
			return true
		}
	}
	return false
}
