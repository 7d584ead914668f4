// Package logx builds the slog.Logger every service uses: colored text for
// people in dev, JSON in prod, optionally also a size-rotated JSON file; the
// request id, user id and trace id from the context on every record; and
// secrets (passwords, tokens, API keys) hidden before anything is written.
package logx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/natefinch/lumberjack.v2"
)

// Options configures New. The zero value logs text at info level to stderr.
type Options struct {
	Env     string // "dev" (text) or "prod" (JSON); "" means dev
	Level   string // debug|info|warn|error; "" means info
	File    string // optional path; JSON lines, rotated by size
	Service string // added to every record as service=...
	Writer  io.Writer
	// Color forces colored dev output on or off; nil colors dev output only
	// when Writer is a terminal and NO_COLOR is not set.
	Color *bool

	MaxFileMB      int // rotate File at this size; 0 means 50
	MaxFileBackups int // rotated files kept; 0 means 5
}

// New returns the logger and a close function that flushes and closes the
// log file (a no-op without File). Call close last, after the final log line.
func New(opts Options) (*slog.Logger, func() error, error) {
	level, err := parseLevel(opts.Level)
	if err != nil {
		return nil, nil, err
	}
	w := opts.Writer
	if w == nil {
		w = os.Stderr
	}

	var out slog.Handler
	switch opts.Env {
	case "", "dev":
		color := isTerminal(w) && os.Getenv("NO_COLOR") == ""
		if opts.Color != nil {
			color = *opts.Color
		}
		out = newTextHandler(w, level, color)
	case "prod":
		out = slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})
	default:
		return nil, nil, errors.New("logx: env must be dev or prod")
	}

	closeFn := func() error { return nil }
	if opts.File != "" {
		file, err := openRotating(opts)
		if err != nil {
			return nil, nil, err
		}
		out = fanout{out, slog.NewJSONHandler(file, &slog.HandlerOptions{Level: level})}
		closeFn = file.Close
	}

	h := newContextHandler(redactHandler{next: out}, opts.Service)
	return slog.New(h), closeFn, nil
}

// Discard returns a logger that drops everything, for tests.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, errors.New("logx: level must be debug, info, warn or error")
}

// openRotating opens the log file now, so a bad path fails at startup
// rather than silently on the first write.
func openRotating(opts Options) (*lumberjack.Logger, error) {
	if err := os.MkdirAll(filepath.Dir(opts.File), 0o755); err != nil {
		return nil, fmt.Errorf("logx: log file directory: %w", err)
	}
	f, err := os.OpenFile(opts.File, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("logx: open log file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("logx: open log file: %w", err)
	}
	maxMB, backups := opts.MaxFileMB, opts.MaxFileBackups
	if maxMB <= 0 {
		maxMB = 50
	}
	if backups <= 0 {
		backups = 5
	}
	return &lumberjack.Logger{Filename: opts.File, MaxSize: maxMB, MaxBackups: backups}, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// fanout sends each record to several handlers (the console and the file).
type fanout []slog.Handler

func (f fanout) Enabled(ctx context.Context, level slog.Level) bool {
	for _, h := range f {
		if h.Enabled(ctx, level) {
			return true
		}
	}
	return false
}

func (f fanout) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	for _, h := range f {
		if h.Enabled(ctx, r.Level) {
			// The output handlers only read the record, so sharing it is safe.
			errs = append(errs, h.Handle(ctx, r))
		}
	}
	return errors.Join(errs...)
}

func (f fanout) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithAttrs(attrs)
	}
	return out
}

func (f fanout) WithGroup(name string) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithGroup(name)
	}
	return out
}
