package logx_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nonefinity/backend/pkg/logx"
	"github.com/nonefinity/backend/pkg/reqctx"
)

func ptr[T any](v T) *T { return &v }

func newLogger(t *testing.T, opts logx.Options) (*slog.Logger, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	opts.Writer = &buf
	log, closeFn, err := logx.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := closeFn(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return log, &buf
}

// jsonLines decodes every line of out as a JSON object.
func jsonLines(t *testing.T, out []byte) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	return lines
}

func TestDevFormat(t *testing.T) {
	log, buf := newLogger(t, logx.Options{Env: "dev", Service: "gateway", Color: ptr(false)})
	log.Info("hello world", "k", "v", "n", 3, slog.Group("g", "a", 1.5, "b", true), "empty", "")
	log.With("pre", "x").WithGroup("grp").Warn("second", "z", "a b")

	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %q", buf.String())
	}
	want := []*regexp.Regexp{
		regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{3} INFO  hello world service=gateway k=v n=3 g\.a=1\.5 g\.b=true empty=""$`),
		regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{3} WARN  second service=gateway pre=x grp\.z="a b"$`),
	}
	for i, re := range want {
		if !re.MatchString(lines[i]) {
			t.Errorf("line %d = %q, want match %s", i, lines[i], re)
		}
	}
	if strings.Contains(buf.String(), "\x1b[") {
		t.Errorf("Color=false output has escape codes: %q", buf.String())
	}
}

func TestDevColors(t *testing.T) {
	log, buf := newLogger(t, logx.Options{Env: "dev", Color: ptr(true), Level: "debug"})
	log.Debug("d")
	log.Info("i")
	log.Warn("w")
	log.Error("e")
	for _, want := range []string{"\x1b[90mDEBUG\x1b[0m", "\x1b[32mINFO\x1b[0m", "\x1b[33mWARN\x1b[0m", "\x1b[31mERROR\x1b[0m"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("output %q lacks %q", buf.String(), want)
		}
	}

	// Auto mode: a bytes.Buffer is no terminal, so no colors.
	log, buf = newLogger(t, logx.Options{Env: "dev"})
	log.Info("plain")
	if strings.Contains(buf.String(), "\x1b[") || !strings.Contains(buf.String(), "INFO  plain") {
		t.Errorf("auto color output = %q", buf.String())
	}
}

func TestProdJSON(t *testing.T) {
	log, buf := newLogger(t, logx.Options{Env: "prod", Service: "credential"})
	log.Info("stored", "count", 2, slog.Group("g", "k", "v"))
	lines := jsonLines(t, buf.Bytes())
	if len(lines) != 1 {
		t.Fatalf("want 1 line, got %d: %s", len(lines), buf)
	}
	l := lines[0]
	if l["level"] != "INFO" || l["msg"] != "stored" || l["service"] != "credential" || l["count"] != 2.0 || l["time"] == nil {
		t.Errorf("line = %v", l)
	}
	if g, _ := l["g"].(map[string]any); g["k"] != "v" {
		t.Errorf("group g = %v", l["g"])
	}
}

func TestContextAttributes(t *testing.T) {
	ctx := reqctx.With(context.Background(), reqctx.Meta{
		UserID:      "user-42",
		RequestID:   "req-7",
		Traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	})

	t.Run("prod", func(t *testing.T) {
		log, buf := newLogger(t, logx.Options{Env: "prod"})
		log.InfoContext(ctx, "with meta")
		log.Info("without meta")
		lines := jsonLines(t, buf.Bytes())
		if len(lines) != 2 {
			t.Fatalf("want 2 lines: %s", buf)
		}
		if l := lines[0]; l["request_id"] != "req-7" || l["user_id"] != "user-42" || l["trace_id"] != "4bf92f3577b34da6a3ce929d0e0e4736" {
			t.Errorf("with meta: %v", l)
		}
		for _, k := range []string{"request_id", "user_id", "trace_id"} {
			if _, ok := lines[1][k]; ok {
				t.Errorf("without meta has %s: %v", k, lines[1])
			}
		}
	})
	t.Run("dev", func(t *testing.T) {
		log, buf := newLogger(t, logx.Options{Env: "dev", Color: ptr(false)})
		log.InfoContext(ctx, "with meta")
		if want := " request_id=req-7 user_id=user-42 trace_id=4bf92f3577b34da6a3ce929d0e0e4736\n"; !strings.HasSuffix(buf.String(), want) {
			t.Errorf("output %q, want suffix %q", buf.String(), want)
		}
	})
}

func TestLevelFiltering(t *testing.T) {
	for _, env := range []string{"dev", "prod"} {
		t.Run(env, func(t *testing.T) {
			log, buf := newLogger(t, logx.Options{Env: env, Level: "WARN", Color: ptr(false)})
			log.Debug("dropped-debug")
			log.Info("dropped-info")
			log.Warn("kept-warn")
			log.Error("kept-error")
			out := buf.String()
			for _, s := range []string{"dropped-debug", "dropped-info"} {
				if strings.Contains(out, s) {
					t.Errorf("%s logged at level warn: %q", s, out)
				}
			}
			for _, s := range []string{"kept-warn", "kept-error"} {
				if !strings.Contains(out, s) {
					t.Errorf("%s missing: %q", s, out)
				}
			}
			if log.Enabled(context.Background(), slog.LevelInfo) {
				t.Error("Enabled(info) = true at level warn")
			}
		})
	}
	t.Run("debug", func(t *testing.T) {
		log, buf := newLogger(t, logx.Options{Env: "prod", Level: "debug"})
		log.Debug("kept-debug")
		if !strings.Contains(buf.String(), "kept-debug") {
			t.Errorf("debug missing: %q", buf)
		}
	})
}

func TestBadOptions(t *testing.T) {
	if _, _, err := logx.New(logx.Options{Level: "loud"}); err == nil {
		t.Error("New with level loud: no error")
	}
	if _, _, err := logx.New(logx.Options{Env: "staging"}); err == nil {
		t.Error("New with env staging: no error")
	}
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := logx.New(logx.Options{File: filepath.Join(notADir, "app.log")}); err == nil {
		t.Error("New with a log file under a regular file: no error")
	}
}

func TestFileGetsJSONAlongsideConsole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs", "app.log") // directory created by New
	var console bytes.Buffer
	log, closeFn, err := logx.New(logx.Options{Env: "dev", File: path, Writer: &console, Color: ptr(false), Service: "all"})
	if err != nil {
		t.Fatal(err)
	}
	log.Info("to both", "k", "v")
	if err := closeFn(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := jsonLines(t, data)
	if len(lines) != 1 || lines[0]["msg"] != "to both" || lines[0]["k"] != "v" || lines[0]["service"] != "all" {
		t.Errorf("file lines = %v", lines)
	}
	if !strings.Contains(console.String(), "INFO  to both service=all k=v") {
		t.Errorf("console = %q", console.String())
	}
}

func TestFileRotatesBySize(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	log, closeFn, err := logx.New(logx.Options{Env: "prod", File: path, Writer: &bytes.Buffer{}, MaxFileMB: 1, MaxFileBackups: 3})
	if err != nil {
		t.Fatal(err)
	}
	payload := strings.Repeat("x", 1000)
	for i := range 1500 { // ~1.6 MB: more than one 1 MB file
		log.Info("fill", "i", i, "payload", payload)
	}
	if err := closeFn(); err != nil {
		t.Fatal(err)
	}

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var total int
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "app") || !strings.HasSuffix(e.Name(), ".log") {
			t.Errorf("unexpected file %s", e.Name())
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > 1<<20 {
			t.Errorf("%s is %d bytes, over the 1 MB limit", e.Name(), len(data))
		}
		total += len(jsonLines(t, data))
	}
	if len(entries) < 2 {
		t.Errorf("want the current file and a rotated one, got %d files", len(entries))
	}
	if total != 1500 {
		t.Errorf("files hold %d lines, want 1500", total)
	}
}

func TestDiscard(t *testing.T) {
	log := logx.Discard()
	if log.Enabled(context.Background(), slog.LevelError) {
		t.Error("Discard logger is enabled")
	}
	log.Error("nothing", "err", errors.New("x"))
}

type errCode string

// Loggers are built in layers (the process tags service, a package tags it
// again, a call site repeats the request id the context carries): each key
// is printed once, with the last value given, and a named string type
// prints as its text.
func TestOneValuePerKey(t *testing.T) {
	ctx := reqctx.With(context.Background(), reqctx.Meta{RequestID: "req-1", UserID: "user-1"})
	for _, env := range []string{"dev", "prod"} {
		t.Run(env, func(t *testing.T) {
			log, buf := newLogger(t, logx.Options{Env: env, Service: "datasetquery", Color: ptr(false)})
			log = log.With("service", "datasetquery").With("endpoint", "svc.dataset.v1.query", "service", "datasetquery")
			log.ErrorContext(ctx, "request failed", "code", errCode("internal"), "request_id", "req-1", "error_id", "e1", "error_id", "e2")

			out := buf.String()
			for key, want := range map[string]int{"service": 1, "request_id": 1, "user_id": 1, "error_id": 1, "endpoint": 1} {
				if n := countKey(t, env, out, key); n != want {
					t.Errorf("%s appears %d times in %q", key, n, out)
				}
			}
			if env == "dev" {
				if !strings.Contains(out, " code=internal ") || !strings.Contains(out, " error_id=e2") {
					t.Errorf("line = %q, want code=internal and the last error_id", out)
				}
				return
			}
			l := jsonLines(t, buf.Bytes())[0]
			if l["code"] != "internal" || l["error_id"] != "e2" || l["service"] != "datasetquery" || l["user_id"] != "user-1" {
				t.Errorf("line = %v", l)
			}
		})
	}
}

// countKey counts key=… (dev) or "key": (prod) in out.
func countKey(t *testing.T, env, out, key string) int {
	t.Helper()
	if env == "dev" {
		return strings.Count(out, " "+key+"=")
	}
	return strings.Count(out, `"`+key+`":`)
}
