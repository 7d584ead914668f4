package natsx

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/testkit"
)

// While ServiceConfig.Available reports a dependency down, requests are
// answered with its error without running the handler, except on an
// AlwaysServed endpoint; once it reports up again they are served.
func TestUnavailableServiceRefusesRequestsAtOnce(t *testing.T) {
	srv := testkit.NATS(t)
	var down atomic.Bool
	svc, err := NewService(srv.Conn(t), ServiceConfig{Name: "natsx-test", Version: "1.2.3", Available: func() error {
		if down.Load() {
			return rpcerr.New(rpcerr.Unavailable, "database unavailable")
		}
		return nil
	}}, newLogSink().logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
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
	err = client.Request(ctx, "svc.natsxtest.v1.echo", echoReq{Text: "x"}, nil)
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
