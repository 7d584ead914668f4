package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/client"
	"github.com/nonefinity/backend/contracts/credentialv1"
	"github.com/nonefinity/backend/pkg/config"
	"github.com/nonefinity/backend/pkg/logx"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/pkg/reqctx"
	"github.com/nonefinity/backend/pkg/testkit"
)

// Component tests run the real service (run) on testkit NATS and FerretDB and
// call it through contracts/client, as the gateway does.

const (
	userA   = "65f2a1b3c4d5e6f708190001"
	userB   = "65f2a1b3c4d5e6f708190002"
	adminID = "65f2a1b3c4d5e6f708190009"

	testSalt       = "component-test-salt"
	testIterations = 1000
	goodKey        = "sk-test-good-0123456789abcdef"
)

type env struct {
	ns *testkit.NATSServer
	db *mongo.Database
	cl client.Credential
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ns := testkit.NATS(t)
	return &env{ns: ns, db: testkit.Mongo(t), cl: client.Credential{R: natsx.NewClient(ns.Conn(t))}}
}

// config is a dev configuration with the given current and previous
// secrets; the fast KDF iteration count is allowed in dev only.
func (e *env) config(t testing.TB, secret string, previous ...string) Config {
	t.Helper()
	cfg, err := config.LoadFrom[Config](map[string]string{
		"NATS_URL":                   e.ns.URL,
		"CREDENTIAL_SECRET_KEY":      secret,
		"CREDENTIAL_ENCRYPTION_SALT": testSalt,
		"CREDENTIAL_KDF_ITERATIONS":  fmt.Sprint(testIterations),
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg.PreviousSecretKeys, cfg.AllowedHosts = previous, []string{"127.0.0.1"}
	return cfg
}

// start runs the service until the returned stop is called (or the test
// ends) and returns once it serves.
func (e *env) start(t testing.TB, cfg Config, h hooks) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	h.onReady = func() { close(ready) }
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, Deps{NC: e.ns.Conn(t), DB: e.db, Log: logx.Discard()}, h) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("service stopped during startup: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("service not ready within 30s")
	}
	var once sync.Once
	var stopErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(20 * time.Second):
				stopErr = fmt.Errorf("service did not stop within 20s")
			}
		})
		return stopErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return stop
}

// runUntilError runs the service expecting it to fail at startup.
func (e *env) runUntilError(t *testing.T, cfg Config) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, cfg, Deps{NC: e.ns.Conn(t), DB: e.db, Log: logx.Discard()}, hooks{onReady: func() { close(ready) }})
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("run returned nil")
		}
		return err
	case <-ready:
		cancel()
		<-done
		t.Fatal("the service started; want a startup error")
	}
	return nil
}

func as(user string) context.Context {
	return reqctx.With(context.Background(), reqctx.Meta{UserID: user, Role: contracts.RoleUser, RequestID: "test-" + user})
}

func asAdmin() context.Context {
	return reqctx.With(context.Background(), reqctx.Meta{UserID: adminID, Role: contracts.RoleAdmin})
}

func ptr[T any](v T) *T { return &v }

// oldKeys is the admin-only records_on_old_keys of a health reply, -1 when
// it is absent.
func oldKeys(h credentialv1.EncryptionHealthReply) int64 {
	if h.RecordsOnOldKeys == nil {
		return -1
	}
	return *h.RecordsOnOldKeys
}

// fakeOpenAI answers /models like OpenAI: a model list for goodKey, 401 for
// any other key.
func fakeOpenAI(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+goodKey {
			http.Error(w, `{"error":"invalid key"}`, http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"data": []map[string]string{{"id": "gpt-4o"}, {"id": "gpt-4o-mini"}}})
	}))
	t.Cleanup(srv.Close)
	return srv
}
