package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/pkg/config"
	"github.com/nonefinity/backend/pkg/logx"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/gateway/app"
)

type envelope struct {
	Success bool            `json:"success"`
	Data    json.RawMessage `json:"data"`
	Errors  []struct {
		Code string `json:"code"`
	} `json:"errors"`
}

func get(t *testing.T, url, token string) (int, envelope) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	return resp.StatusCode, env
}

// The wired gateway in dev mode: create-token mints a token that
// /auth/me accepts (the user is created on first sight), the dev JWKS is
// served, the webhook route is mounted, events stream, and the environment
// variables of the gateway are read.
func TestDevGatewayEndToEnd(t *testing.T) {
	ns := testkit.NATS(t)
	db := testkit.Mongo(t)
	js := ns.JetStream(t)
	if err := natsx.EnsureStreams(context.Background(), js, contracts.Streams(), natsx.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadFrom[app.Config](map[string]string{
		"NATS_URL": ns.URL, "DATA_DIR": t.TempDir(), "APP_ENV": "dev", "RATE_LIMIT_PER_MINUTE": "50",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RateLimitPerMinute != 50 || cfg.Clerk.JWTLeeway != 30*time.Second || time.Duration(cfg.RequestTimeout) != 30*time.Second {
		t.Fatalf("config %+v", cfg.Settings)
	}
	g := runGateway(t, cfg, ns, db)
	base := g.base

	status, env := get(t, base+"/api/v1/auth/create-token?clerk_id=user_1", "")
	if status != http.StatusOK {
		t.Fatalf("create-token: %d %+v", status, env)
	}
	var tok struct {
		Token     string `json:"token"`
		ExpiresIn int64  `json:"expires_in_seconds"`
	}
	if err := json.Unmarshal(env.Data, &tok); err != nil || tok.Token == "" || tok.ExpiresIn <= 0 {
		t.Fatalf("token reply %s", env.Data)
	}
	status, env = get(t, base+"/api/v1/auth/me", tok.Token)
	var me struct {
		ID      string `json:"id"`
		ClerkID string `json:"clerk_id"`
	}
	if err := json.Unmarshal(env.Data, &me); status != http.StatusOK || err != nil || me.ClerkID != "user_1" || len(me.ID) != 24 {
		t.Fatalf("/auth/me: %d %s", status, env.Data)
	}
	status, env = get(t, base+"/api/v1/auth/verify-token", tok.Token)
	var claims struct {
		UserID string `json:"user_id"`
	}
	_ = json.Unmarshal(env.Data, &claims)
	if status != http.StatusOK || claims.UserID != me.ID {
		t.Fatalf("verify-token: %d %s", status, env.Data)
	}
	if status, env = get(t, base+"/api/v1/auth/me", tok.Token+"x"); status != http.StatusUnauthorized {
		t.Errorf("tampered token: %d %+v", status, env)
	}
	resp, err := http.Get(base + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(jwks), `"RS256"`) {
		t.Errorf("jwks: %d %s", resp.StatusCode, jwks)
	}
	resp, err = http.Post(base+"/api/v1/webhooks/clerk", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode < 400 {
		t.Errorf("unsigned webhook answered %d", resp.StatusCode)
	}
	if resp.Header.Get("X-RateLimit-Limit") != "50" {
		t.Errorf("X-RateLimit-Limit %q", resp.Header.Get("X-RateLimit-Limit"))
	}

	// The caller's events stream; the server's shutdown ends the stream.
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	ev, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Body.Close()
	stream := bufio.NewReader(ev.Body)
	line, err := stream.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "id: FILES:") {
		t.Fatalf("events: %d %q %v", ev.StatusCode, line, err)
	}
	g.cancel()
	if _, err := io.Copy(io.Discard, stream); err != nil {
		t.Errorf("event stream after shutdown: %v", err)
	}
	select {
	case err := <-g.done:
		g.done <- err // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("an open event stream held up the shutdown")
	}
}

// gatewayRun is the wired gateway running in a test: base is
// http://host:port, cancel stops it and done delivers what Run returned.
type gatewayRun struct {
	base   string
	cancel context.CancelFunc
	done   chan error
}

// runGateway runs the wired gateway on a free port until the test ends and
// checks that it then stops cleanly.
func runGateway(t *testing.T, cfg app.Config, ns *testkit.NATSServer, db *mongo.Database) *gatewayRun {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &gatewayRun{base: "http://" + ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() {
		g.done <- app.Run(ctx, cfg, app.Deps{NC: ns.Conn(t), DB: db, Log: logx.Discard(), Listener: ln})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-g.done:
			if err != nil {
				t.Errorf("gateway stopped with %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("gateway did not stop")
		}
	})
	return g
}

// A dev gateway with no APP_HOST listens on loopback only: dev tokens are
// handed to whoever asks. An explicit APP_HOST wins.
func TestDevGatewayBindsLoopbackByDefault(t *testing.T) {
	ns := testkit.NATS(t)
	db := testkit.Mongo(t)
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "127.0.0.1"},
		{map[string]string{"APP_HOST": "127.0.0.2"}, "127.0.0.2"},
	} {
		environ := map[string]string{"NATS_URL": ns.URL, "DATA_DIR": t.TempDir(), "APP_PORT": "0"}
		for k, v := range tc.env {
			environ[k] = v
		}
		cfg, err := config.LoadFrom[app.Config](environ)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		ready := make(chan net.Addr, 1)
		done := make(chan error, 1)
		go func() {
			done <- app.Run(ctx, cfg, app.Deps{NC: ns.Conn(t), DB: db, Log: logx.Discard(), Ready: func(a net.Addr) { ready <- a }})
		}()
		select {
		case addr := <-ready:
			if host, _, _ := net.SplitHostPort(addr.String()); host != tc.want {
				t.Errorf("APP_HOST %q: listening on %s, want %s", tc.env["APP_HOST"], addr, tc.want)
			}
		case err := <-done:
			t.Fatalf("gateway stopped: %v", err)
		case <-time.After(20 * time.Second):
			t.Fatal("gateway did not listen")
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// The gateway refuses to start in dev with a Clerk secret key: one line
// naming the variables, without their values.
func TestDevAuthRefusesClerkSecret(t *testing.T) {
	const secret = "sk_test_must_not_show_0123456789"
	_, err := config.LoadFrom[app.Config](map[string]string{
		"CLERK_ISSUER": "https://x.clerk.accounts.dev", "CLERK_SECRET_KEY": secret,
	})
	if err == nil || !strings.Contains(err.Error(), "CLERK_SECRET_KEY") || !strings.Contains(err.Error(), "CLERK_DEV_CREATE_TOKEN") ||
		strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("err = %v", err)
	}
	if _, err := config.LoadFrom[app.Config](map[string]string{
		"CLERK_ISSUER": "https://x.clerk.accounts.dev", "CLERK_SECRET_KEY": secret, "CLERK_DEV_CREATE_TOKEN": "true",
	}); err != nil {
		t.Fatalf("explicit opt-in on loopback: %v", err)
	}
}
