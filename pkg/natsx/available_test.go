package natsx

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/reqctx"
	"github.com/nonefinity/backend/pkg/testkit"
)

// While ServiceConfig.Available reports a dependency down, requests are
// answered with its error without running the handler, except on an
// AlwaysServed endpoint; once it reports up again they are served.
func TestUnavailableServiceRefusesRequestsAtOnce(t *testing.T) {
	srv := testkit.NATS(t)
	var down atomic.Bool
	svc := gatedService(t, srv, ServiceConfig{}, &down, rpcerr.New(rpcerr.Unavailable, "database unavailable"))
	var calls atomic.Int32
	counted := func(ctx context.Context, req echoReq) (echoResp, error) {
		calls.Add(1)
		return echo(ctx, req)
	}
	mustHandle(t, svc, "svc.natsxtest.v1.echo", counted)
	mustHandle(t, svc, "svc.natsxtest.v1.health", echo, AlwaysServed())
	client := NewClient(srv.Conn(t))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	down.Store(true)
	err := client.Request(ctx, "svc.natsxtest.v1.echo", echoReq{Text: "x"}, nil)
	if re, ok := rpcerr.As(err); !ok || re.Code != rpcerr.Unavailable || re.Message != "database unavailable" {
		t.Fatalf("request while down: %v, want the Available error", err)
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("the handler ran %d times while the service was unavailable", n)
	}
	if err := client.Request(ctx, "svc.natsxtest.v1.health", echoReq{}, nil); err != nil {
		t.Fatalf("always-served endpoint while down: %v", err)
	}

	down.Store(false)
	var resp echoResp
	if err := client.Request(ctx, "svc.natsxtest.v1.echo", echoReq{Text: "up"}, &resp); err != nil || resp.Text != "up" || calls.Load() != 1 {
		t.Fatalf("request once up: %v %+v (calls %d)", err, resp, calls.Load())
	}
}

// With UserRequired a request that names no user is refused before its
// handler runs, except on a WithoutUser endpoint; a handler reads the user
// with UserID. An AdminOnly endpoint refuses other roles next. The
// Available error still comes first.
func TestUserRequiredRefusesRequestsWithoutAUser(t *testing.T) {
	srv := testkit.NATS(t)
	var down atomic.Bool
	svc := gatedService(t, srv, ServiceConfig{UserRequired: true}, &down, errors.New("database unavailable"))
	var calls atomic.Int32
	owner := func(ctx context.Context, _ echoReq) (echoResp, error) {
		calls.Add(1)
		return echoResp{UserID: UserID(ctx)}, nil
	}
	mustHandle(t, svc, "svc.natsxtest.v1.owned", owner)
	mustHandle(t, svc, "svc.natsxtest.v1.public", owner, WithoutUser())
	mustHandle(t, svc, "svc.natsxtest.v1.admin", owner, AdminOnly())
	client := NewClient(srv.Conn(t))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	alice := reqctx.With(ctx, reqctx.Meta{UserID: "alice"})

	err := client.Request(ctx, "svc.natsxtest.v1.owned", echoReq{}, nil)
	if re, ok := rpcerr.As(err); !ok || re.Code != rpcerr.Unauthorized || re.Message != "the request names no user" {
		t.Fatalf("request without a user: %v, want unauthorized", err)
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("the handler ran %d times for a request without a user", n)
	}
	var resp echoResp
	if err := client.Request(alice, "svc.natsxtest.v1.owned", echoReq{}, &resp); err != nil || resp.UserID != "alice" {
		t.Fatalf("alice's request: %v %+v", err, resp)
	}
	if err := client.Request(ctx, "svc.natsxtest.v1.public", echoReq{}, &resp); err != nil || resp.UserID != "" {
		t.Fatalf("public endpoint without a user: %v %+v", err, resp)
	}
	before := calls.Load()
	for caller, want := range map[string]struct {
		ctx  context.Context
		code rpcerr.Code
	}{
		"no user": {ctx, rpcerr.Unauthorized},
		"a user":  {reqctx.With(ctx, reqctx.Meta{UserID: "alice", Role: contracts.RoleUser}), rpcerr.Forbidden},
		"no role": {alice, rpcerr.Forbidden},
	} {
		err := client.Request(want.ctx, "svc.natsxtest.v1.admin", echoReq{}, nil)
		if re, ok := rpcerr.As(err); !ok || re.Code != want.code {
			t.Errorf("admin endpoint, %s: %v, want %s", caller, err, want.code)
		}
	}
	if calls.Load() != before {
		t.Fatal("the admin handler ran for a caller without the admin role")
	}
	admin := reqctx.With(ctx, reqctx.Meta{UserID: "root", Role: contracts.RoleAdmin})
	if err := client.Request(admin, "svc.natsxtest.v1.admin", echoReq{}, &resp); err != nil || resp.UserID != "root" {
		t.Fatalf("admin endpoint, an admin: %v %+v", err, resp)
	}

	down.Store(true)
	err = client.Request(ctx, "svc.natsxtest.v1.owned", echoReq{}, nil)
	if re, ok := rpcerr.As(err); !ok || re.Code != rpcerr.Unavailable || re.Message != "database unavailable" {
		t.Fatalf("request while down: %v, want the Available error as unavailable", err)
	}
}

// gatedService starts a service "natsx-test" configured by cfg whose
// Available answers downErr while down is set.
func gatedService(t *testing.T, srv *testkit.NATSServer, cfg ServiceConfig, down *atomic.Bool, downErr error) *Service {
	t.Helper()
	cfg.Name, cfg.Version = "natsx-test", "1.2.3"
	cfg.Available = func() error {
		if down.Load() {
			return downErr
		}
		return nil
	}
	svc, err := NewService(srv.Conn(t), cfg, newLogSink().logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	return svc
}
