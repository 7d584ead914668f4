package logx_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nonefinity/backend/pkg/logx"
	"github.com/nonefinity/backend/pkg/reqctx"
)

// Test-only fake secrets; each is unique so a leak points at its path.
const (
	jwtToken   = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyXzEyMyIsImV4cCI6MTcwMDAwMDAwMH0.c2lnbmF0dXJlLXNlY3JldC1wYXJ0"
	openAIKey  = "sk-proj-Ab12Cd34Ef56Gh78Ij90"
	claudeKey  = "sk-ant-api03-Zy98Xw76Vu54Ts32"
	routerKey  = "sk-or-v1-0a1b2c3d4e5f6a7b8c9d"
	googleKey  = "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6"
	groqKey    = "gsk_Q1w2E3r4T5y6U7i8O9p0"
	xaiKey     = "xai-M1n2B3v4C5x6Z7l8K9j0"
	bearerTok  = "opaque-bearer-5f4e3d2c1b"
	mongoPass  = "mongo-pass-1x"
	redisPass  = "redis-pass-2x"
	pgPass     = "pg-pass-3x"
	groupValue = "group-secret-4x"
	withToken  = "with-token-6x"
	kvPass     = "kv-pass-7x"
	structPass = "struct-pass-8x"
	mapSecret  = "map-secret-9x"
	valuerURI  = "valuer-pass-10x"
	apiKeyAttr = "plain-api-key-11x"
	cookieVal  = "session-cookie-12x"
	jsonPass   = "json-pass-13x"
)

var allSecrets = []string{
	jwtToken, "c2lnbmF0dXJlLXNlY3JldC1wYXJ0", openAIKey, claudeKey, routerKey, googleKey, groqKey, xaiKey,
	bearerTok, mongoPass, redisPass, pgPass, groupValue, withToken, kvPass, structPass, mapSecret,
	valuerURI, apiKeyAttr, cookieVal, jsonPass,
}

type dbConfig struct {
	Host     string
	Password string
}

type uriValuer string

func (u uriValuer) LogValue() slog.Value {
	return slog.StringValue("redis://cache:" + string(u) + "@h:6379")
}

// logEverySecretPath logs each secret once through a different path: keys,
// message, error values, nested groups, URIs, bearer tokens, JWTs, provider
// keys, With attributes, Any values and LogValuers.
func logEverySecretPath(log *slog.Logger) {
	ctx := reqctx.With(context.Background(), reqctx.Meta{UserID: "u1", RequestID: "r1"})
	log.InfoContext(ctx, "connect mongodb://admin:"+mongoPass+"@db.internal:27017/app failed",
		"password", "hunter2-"+mongoPass,
		"api_key", apiKeyAttr,
		"Cookie", cookieVal,
		"X-Api-Key", apiKeyAttr,
	)
	log.Error("redis down", "err", fmt.Errorf("dial redis://:%s@cache:6379: connection refused", redisPass))
	log.Warn("nested", slog.Group("db", slog.Group("conn",
		slog.String("uri", "postgres://app:"+pgPass+"@pg:5432/app"),
		slog.String("ClientSecret", groupValue),
	)))
	log.Info("upstream said Authorization: Bearer "+bearerTok, "header", "Bearer "+bearerTok)
	log.Info("session "+jwtToken, "jwt", jwtToken)
	log.Info("provider keys", "openai", "key "+openAIKey, "anthropic", claudeKey,
		"openrouter", routerKey, "google", googleKey, "groq", groqKey, "xai", xaiKey)
	log.Info("keys in message: " + openAIKey + " " + claudeKey + " " + googleKey)
	log.With("token", withToken).WithGroup("req").Info("with attrs")
	log.Info("login password="+kvPass+" user=bob", "query", "a=1&password="+kvPass)
	log.Info("any values", "cfg", dbConfig{Host: "db", Password: structPass},
		"m", map[string]string{"client_secret": mapSecret}, "ptr", &dbConfig{Password: structPass})
	log.Info("valuer", "cache", uriValuer(valuerURI))
	log.Info(`body {"password":"` + jsonPass + `","user":"bob"}`)
}

func TestSecretsNeverReachTheOutput(t *testing.T) {
	for _, env := range []string{"dev", "prod"} {
		t.Run(env, func(t *testing.T) {
			var console bytes.Buffer
			file := filepath.Join(t.TempDir(), "app.log")
			log, closeFn, err := logx.New(logx.Options{Env: env, Level: "debug", File: file, Writer: &console, Color: ptr(env == "dev")})
			if err != nil {
				t.Fatal(err)
			}
			logEverySecretPath(log)
			if err := closeFn(); err != nil {
				t.Fatal(err)
			}
			fileOut, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			for name, out := range map[string]string{"console": console.String(), "file": string(fileOut)} {
				for _, s := range allSecrets {
					if strings.Contains(out, s) {
						t.Errorf("%s output contains secret %q:\n%s", name, s, out)
					}
				}
				// What is not secret stays, so the log is still useful.
				for _, keep := range []string{"admin:***@db.internal:27017", "Bearer [REDACTED]", "[REDACTED]", "user=bob", "request_id", "db"} {
					if !strings.Contains(out, keep) {
						t.Errorf("%s output lacks %q:\n%s", name, keep, out)
					}
				}
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		// unchanged
		{"", ""},
		{"request done", "request done"},
		{"task-runner started on http://localhost:8000/health", "task-runner started on http://localhost:8000/health"},
		{"config: CREDENTIAL_SECRET_KEY: required", "config: CREDENTIAL_SECRET_KEY: required"},
		{"credential_id=66a1b2 provider=openai", "credential_id=66a1b2 provider=openai"},
		{"mongodb://user@host:27017/db", "mongodb://user@host:27017/db"},
		// URIs
		{"mongodb://admin:p4ss@db:27017/app", "mongodb://admin:***@db:27017/app"},
		{"redis://:p4ss@cache:6379/0", "redis://:***@cache:6379/0"},
		{"two amqp://a:x@h1 and https://b:y@h2/x", "two amqp://a:***@h1 and https://b:***@h2/x"},
		// bearer, JWT, provider keys
		{"Authorization: Bearer abc.def-ghi", "Authorization: Bearer [REDACTED]"},
		{"bearer abc123", "bearer [REDACTED]"},
		{"tok " + jwtToken + " end", "tok [REDACTED] end"},
		{"key=" + openAIKey, "key=[REDACTED]"},
		{claudeKey + "," + routerKey, "[REDACTED],[REDACTED]"},
		{"g:" + googleKey + " q:" + groqKey + " x:" + xaiKey, "g:[REDACTED] q:[REDACTED] x:[REDACTED]"},
		// key=value, JSON and %+v forms
		{"password=hunter2 user=bob", "password=[REDACTED] user=bob"},
		{`db_password="two words" ok`, `db_password=[REDACTED] ok`},
		{"/cb?code=1&access_token=xyz&state=s", "/cb?code=1&access_token=[REDACTED]&state=s"},
		{`{"password":"h\"x","user":"bob"}`, `{"password":"[REDACTED]","user":"bob"}`},
		{"{Host:db Password:hunter2}", "{Host:db Password:[REDACTED]}"},
	}
	for _, tt := range tests {
		if got := logx.Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

// BenchmarkLogInfo compares a typical request log line through the full logx
// prod chain (context + redaction + JSON) with plain slog JSON.
func BenchmarkLogInfo(b *testing.B) {
	ctx := reqctx.With(context.Background(), reqctx.Meta{UserID: "u1", RequestID: "r1",
		Traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
	logxProd, _, err := logx.New(logx.Options{Env: "prod", Writer: io.Discard, Service: "gateway"})
	if err != nil {
		b.Fatal(err)
	}
	loggers := map[string]*slog.Logger{
		"slog_json": slog.New(slog.NewJSONHandler(io.Discard, nil)).With("service", "gateway"),
		"logx_prod": logxProd,
	}
	for _, name := range []string{"slog_json", "logx_prod"} {
		log := loggers[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				log.InfoContext(ctx, "request done", "method", "GET", "path", "/api/v1/datasets", "status", 200, "duration_ms", 12)
			}
		})
		b.Run(name+"/with_secret", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				log.InfoContext(ctx, "upstream failed", "url", "https://user:pw@api.example/v1", "err", "Bearer abcdef123456")
			}
		})
	}
}
