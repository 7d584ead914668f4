package all_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nonefinity/backend/contracts/client"
	"github.com/nonefinity/backend/pkg/config"
	"github.com/nonefinity/backend/pkg/logx"
	"github.com/nonefinity/backend/pkg/mongox"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/pkg/objstore"
	"github.com/nonefinity/backend/pkg/testkit"
	credential "github.com/nonefinity/backend/services/credential/app"
	datasetquery "github.com/nonefinity/backend/services/datasetquery/app"
	fileingest "github.com/nonefinity/backend/services/fileingest/app"
	gateway "github.com/nonefinity/backend/services/gateway/app"
)

// runServiceTB runs one service until the test or benchmark ends and fails
// it if the service returns an error or does not stop.
func runServiceTB(tb testing.TB, name string, ns *testkit.NATSServer, run func(ctx context.Context, nc *nats.Conn) error) {
	tb.Helper()
	stop := startService(tb, name, ns, run)
	tb.Cleanup(stop)
}

// startService runs one service and returns the function that stops it
// and waits for it to return (safe to call more than once). The caller
// decides when: e2e tests stop a service mid-test to see the gateway's 503.
//
// The service gets its own NATS connection, made here before the caller
// registers stop as a cleanup: cleanups run last-in first-out, so the
// connection closes only after the service has stopped.
func startService(tb testing.TB, name string, ns *testkit.NATSServer, run func(ctx context.Context, nc *nats.Conn) error) (stop func()) {
	tb.Helper()
	nc := ns.Conn(tb)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, nc) }()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					tb.Errorf("%s stopped with %v", name, err)
				}
			case <-time.After(20 * time.Second):
				tb.Errorf("%s did not stop within 20s", name)
			}
		})
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// doHTTP sends one API request with an optional bearer token.
func doHTTP(tb testing.TB, method, url, token string, body io.Reader, contentType string) response {
	tb.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		tb.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return doRequest(tb, req)
}

// doRequest sends req and reads the whole response.
func doRequest(tb testing.TB, req *http.Request) response {
	tb.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

type envelope struct {
	Success bool            `json:"success"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
	Errors  []struct {
		Code, Field, Message string
	} `json:"errors"`
}

func decodeEnvelope(tb testing.TB, r response) envelope {
	tb.Helper()
	var env envelope
	if err := json.Unmarshal(r.body, &env); err != nil {
		tb.Fatalf("envelope: %v: %s", err, r.body)
	}
	return env
}

// e2eOptions configure the services an e2e stack runs.
type e2eOptions struct {
	// Files and Credentials, when set, adjust fileingest's and
	// credential's settings loaded from the stack's environment.
	Files       func(*fileingest.Settings)
	Credentials func(*credential.Settings)
	// Mongo, when set, is the stack's database server instead of the test
	// binary's shared one, so the test can stop it; the services reach it
	// through a client made as boot makes it.
	Mongo *testkit.StoppableMongo
}

// e2eStack is the gateway (dev auth, no rate limit), credential,
// fileingest and datasetquery over testkit NATS, MongoDB and S3, credential
// and fileingest stoppable on their own. datasetquery runs because the
// gateway's event stream reads its DATASETS stream too.
type e2eStack struct {
	base      string // http://host:port/api/v1
	nats      *testkit.NATSServer
	store     *objstore.Store
	stopCreds func()
	stopFiles func()
}

// startGateway runs the gateway (rate limit off) until the test ends and
// returns its API base URL, http://host:port/api/v1.
func startGateway(tb testing.TB, ns *testkit.NATSServer, db *mongo.Database, base config.Base) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	settings := gateway.DefaultSettings()
	settings.RateLimitPerMinute = 0
	settings.RateLimitIPPerMinute = 0
	runServiceTB(tb, "gateway", ns, func(ctx context.Context, nc *nats.Conn) error {
		return gateway.Run(ctx, gateway.Config{Base: base, Settings: settings}, gateway.Deps{NC: nc, DB: db, Log: logx.Discard(), Listener: ln})
	})
	return "http://" + ln.Addr().String() + "/api/v1"
}

func startE2E(tb testing.TB, o e2eOptions) *e2eStack {
	tb.Helper()
	ns := testkit.NATS(tb)
	db := testkit.Mongo(tb)
	if o.Mongo != nil {
		client, own, err := mongox.Connect(context.Background(), o.Mongo.URI(), "nonefinity", mongox.ConnectOptions{})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = client.Disconnect(context.Background()) })
		db = own
	}
	bucket := testkit.S3(tb)
	store, err := objstore.New(objstore.Config{Endpoint: bucket.Endpoint, AccessKey: bucket.AccessKey, SecretKey: bucket.SecretKey, Bucket: bucket.Bucket})
	if err != nil {
		tb.Fatal(err)
	}
	environ := map[string]string{
		"APP_ENV": "dev", "NATS_URL": ns.URL, "DATA_DIR": tb.TempDir(),
		"CREDENTIAL_SECRET_KEY": "e2e-test-secret", "CREDENTIAL_ENCRYPTION_SALT": "e2e-test-salt",
	}
	log := logx.Discard()
	s := &e2eStack{base: startGateway(tb, ns, db, loadConfig[config.Base](tb, environ)), nats: ns, store: store}
	credCfg := loadConfig[credential.Config](tb, environ)
	if o.Credentials != nil {
		o.Credentials(&credCfg.Settings)
	}
	s.stopCreds = startService(tb, "credential", ns, func(ctx context.Context, nc *nats.Conn) error {
		return credential.Run(ctx, credCfg, credential.Deps{NC: nc, DB: db, Log: log})
	})
	tb.Cleanup(s.stopCreds)
	files := loadConfig[fileingest.Config](tb, environ)
	if o.Files != nil {
		o.Files(&files.Settings)
	}
	s.stopFiles = startService(tb, "fileingest", ns, func(ctx context.Context, nc *nats.Conn) error {
		return fileingest.Run(ctx, files, fileingest.Deps{NC: nc, DB: db, Store: store, Log: log})
	})
	tb.Cleanup(s.stopFiles)
	runServiceTB(tb, "datasetquery", ns, func(ctx context.Context, nc *nats.Conn) error {
		return datasetquery.Run(ctx, loadConfig[datasetquery.Config](tb, environ), datasetquery.Deps{NC: nc, DB: db, Store: store, Log: log})
	})

	req := natsx.NewClient(ns.Conn(tb))
	waitHealthy(tb, "credential", client.Credential{R: req}.Health)
	waitHealthy(tb, "fileingest", client.File{R: req}.Health)
	waitHealthy(tb, "datasetquery", client.Dataset{R: req}.Health)
	return s
}

// loadConfig loads a service's configuration from environ as its main
// loads it from the process environment.
func loadConfig[T any](tb testing.TB, environ map[string]string) T {
	tb.Helper()
	cfg, err := config.LoadFrom[T](environ)
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}

// waitHealthy waits for a service's health operation to answer: the
// services start in goroutines and register their endpoints when ready.
func waitHealthy[T any](tb testing.TB, name string, health func(context.Context) (T, error)) {
	tb.Helper()
	// Registration has no event to wait on.
	testkit.Eventually(tb, 30*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if _, err := health(ctx); err != nil {
			return fmt.Errorf("%s not answering: %w", name, err)
		}
		return nil
	})
}

// apiUser is one signed-in caller of the stack's API.
type apiUser struct {
	base  string
	token string
}

// user mints a dev token for clerkID (role "" or "admin").
func (s *e2eStack) user(tb testing.TB, clerkID, role string) apiUser {
	tb.Helper()
	q := url.Values{"clerk_id": {clerkID}}
	if role != "" {
		q.Set("role", role)
	}
	r := doHTTP(tb, http.MethodGet, s.base+"/auth/create-token?"+q.Encode(), "", nil, "")
	var tok struct {
		Token string `json:"token"`
	}
	if r.status != http.StatusOK || json.Unmarshal(decodeEnvelope(tb, r).Data, &tok) != nil || tok.Token == "" {
		tb.Fatalf("create-token %s: %d %s", clerkID, r.status, r.body)
	}
	return apiUser{base: s.base, token: tok.Token}
}

func (s *e2eStack) anonymous() apiUser { return apiUser{base: s.base} }

func (u apiUser) do(tb testing.TB, method, path string, body io.Reader, contentType string) response {
	tb.Helper()
	return doHTTP(tb, method, u.base+path, u.token, body, contentType)
}

func (u apiUser) get(tb testing.TB, path string) response {
	tb.Helper()
	return u.do(tb, http.MethodGet, path, nil, "")
}

func (u apiUser) json(tb testing.TB, method, path string, v any) response {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return u.do(tb, method, path, bytes.NewReader(b), "application/json")
}

func (u apiUser) form(tb testing.TB, method, path string, v url.Values) response {
	tb.Helper()
	return u.do(tb, method, path, strings.NewReader(v.Encode()), "application/x-www-form-urlencoded")
}

// expect fails the test unless r has the status, and decodes its data
// into out (when not nil).
func expect(tb testing.TB, r response, status int, out any) envelope {
	tb.Helper()
	if r.status != status {
		tb.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	env := decodeEnvelope(tb, r)
	if out != nil {
		if err := json.Unmarshal(env.Data, out); err != nil {
			tb.Fatalf("data: %v: %s", err, r.body)
		}
	}
	return env
}

// sseFrame is one Server-Sent Event.
type sseFrame struct {
	id, event string
	data      []byte
}

// subscribeEvents opens GET /events for u and returns its frames, after
// the stream's "ready" frame (so events published from now on arrive).
func (u apiUser) subscribeEvents(tb testing.TB) <-chan sseFrame {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.base+"/events", nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+u.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		tb.Fatalf("GET /events: %d %s", resp.StatusCode, b)
	}
	frames := make(chan sseFrame, 64)
	go func() {
		defer close(frames)
		sc := bufio.NewScanner(resp.Body)
		// An event is one NATS message, up to 1 MiB; a browser's
		// EventSource takes lines of any length.
		sc.Buffer(nil, 2<<20)
		var f sseFrame
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if f.event != "" {
					select {
					case frames <- f:
					case <-ctx.Done():
						return
					}
				}
				f = sseFrame{}
			case strings.HasPrefix(line, "id: "):
				f.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				f.event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				f.data = append(f.data, strings.TrimPrefix(line, "data: ")...)
			}
		}
	}()
	tb.Cleanup(func() {
		cancel()
		resp.Body.Close()
	})
	if f := waitFrame(tb, frames, func(f sseFrame) bool { return f.event == "ready" }); f.event != "ready" {
		tb.Fatalf("first frame %+v", f)
	}
	return frames
}

// waitFrame returns the first frame that matches, failing after a deadline.
func waitFrame(tb testing.TB, frames <-chan sseFrame, match func(sseFrame) bool) sseFrame {
	tb.Helper()
	deadline := time.NewTimer(2 * time.Minute)
	defer deadline.Stop()
	for {
		select {
		case f, ok := <-frames:
			if !ok {
				tb.Fatal("event stream ended")
			}
			if match(f) {
				return f
			}
		case <-deadline.C:
			tb.Fatal("no matching event within 2m")
		}
	}
}
