package natsx

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/testkit"
)

// While NATS is down a request is refused at once by the connection's own
// state, instead of waiting in the reconnect buffer until NATS is back or
// the deadline passes; once the server returns, the same client serves
// again without being replaced.
func TestRequestWhileDisconnectedIsUnavailableAtOnce(t *testing.T) {
	srv := testkit.NATS(t)
	logs := newLogSink()
	svc, _ := testService(t, srv, logs)
	subject := contracts.RequestSubject("natsx-test", "echo")
	mustHandle(t, svc, subject, echo)

	nc, err := Connect(srv.URL, ConnectOptions{Name: "natsx-test-client"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	client := NewClient(nc)

	reconnecting := nc.StatusChanged(nats.RECONNECTING)
	srv.Stop()
	<-reconnecting
	// A deadline far beyond the test: only the state check can answer
	// before it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	err = client.Request(ctx, subject, echoReq{Text: "down"}, nil)
	re, ok := rpcerr.As(err)
	if !ok || re.Code != rpcerr.Unavailable || re.Message != "natsx-test service unavailable" {
		t.Fatalf("request while disconnected: %v, want unavailable", err)
	}
	if !errors.Is(err, nats.ErrDisconnected) {
		t.Fatalf("error %v does not name the disconnect", err)
	}

	connected := nc.StatusChanged(nats.CONNECTED)
	srv.Start(t)
	<-connected
	for {
		var resp echoResp
		err := client.Request(ctx, subject, echoReq{Text: "back"}, &resp)
		if err == nil {
			if resp.Text != "back" {
				t.Fatalf("reply %+v", resp)
			}
			break
		}
		// The service's own connection may not have re-subscribed yet.
		if !errors.Is(err, nats.ErrNoResponders) {
			t.Fatalf("request after reconnect: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}

	nc.Close()
	err = client.Request(ctx, subject, echoReq{}, nil)
	if re, ok := rpcerr.As(err); !ok || re.Code != rpcerr.Unavailable || !errors.Is(err, nats.ErrConnectionClosed) {
		t.Fatalf("request on a closed connection: %v", err)
	}
}
