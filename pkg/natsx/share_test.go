package natsx

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nonefinity/backend/pkg/fairshare"
	"github.com/nonefinity/backend/pkg/reqctx"
	"github.com/nonefinity/backend/pkg/testkit"
)

// sharedService starts a service with share (nil: none) and a client on
// another connection.
func sharedService(t *testing.T, share *fairshare.Pool) (*Service, *Client) {
	t.Helper()
	srv := testkit.NATS(t)
	svc, err := NewService(srv.Conn(t), ServiceConfig{Name: "natsx-test", Version: "1.2.3", Description: "natsx tests", Share: share}, newLogSink().logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	return svc, NewClient(srv.Conn(t))
}

// With a Share, one user's queued requests do not hold another user's
// behind them; without one, an endpoint serves its callers in arrival
// order and the second user waits.
func TestShareServesAnotherUserPastAQueue(t *testing.T) {
	for _, shared := range []bool{true, false} {
		name := "without share"
		if shared {
			name = "with share"
		}
		t.Run(name, func(t *testing.T) {
			var share *fairshare.Pool
			if shared {
				share = fairshare.New(1, fairshare.Limit(8))
			}
			svc, client := sharedService(t, share)

			release := make(chan struct{})
			started := make(chan string, 8)
			// Default concurrency: one request at a time without a Share.
			mustHandle(t, svc, "svc.natsxtest.v1.work", func(ctx context.Context, req echoReq) (echoResp, error) {
				started <- reqctx.From(ctx).UserID
				if reqctx.From(ctx).UserID == "hog" {
					select {
					case <-release:
					case <-ctx.Done():
						return echoResp{}, ctx.Err()
					}
				}
				return echoResp{Text: req.Text}, nil
			})
			defer close(release)

			ctx, cancel := context.WithTimeout(context.Background(), waitLong)
			defer cancel()
			hog := reqctx.With(ctx, reqctx.Meta{UserID: "hog"})
			for range 4 {
				go func() { _, _ = Call[echoResp](hog, client, "svc.natsxtest.v1.work", echoReq{Text: "hog"}) }()
			}
			if got := recv(t, started, waitLong, "the hog's first request"); got != "hog" {
				t.Fatalf("first request started was %q's", got)
			}
			other, cancelOther := context.WithTimeout(reqctx.With(context.Background(), reqctx.Meta{UserID: "other"}), time.Second)
			defer cancelOther()
			_, err := Call[echoResp](other, client, "svc.natsxtest.v1.work", echoReq{Text: "other"})
			switch {
			case shared && err != nil:
				t.Fatalf("with a share, the other user's request failed behind the hog's: %v", err)
			case !shared && err == nil:
				t.Fatal("without a share the other user's request was answered past the hog's: the control does not show the queue")
			}
		})
	}
}

// The hog's second request waits for its first (capacity 1) even with
// room under the limit, and runs once the first ends.
func TestShareHoldsAHoldersSecondRequest(t *testing.T) {
	svc, client := sharedService(t, fairshare.New(1, fairshare.Limit(8)))
	release := make(chan struct{}, 2)
	started := make(chan string, 2)
	mustHandle(t, svc, "svc.natsxtest.v1.work", func(ctx context.Context, req echoReq) (echoResp, error) {
		started <- req.Text
		select {
		case <-release:
		case <-ctx.Done():
			return echoResp{}, ctx.Err()
		}
		return echoResp{Text: req.Text}, nil
	})
	ctx, cancel := context.WithTimeout(reqctx.With(context.Background(), reqctx.Meta{UserID: "hog"}), waitLong)
	defer cancel()
	done := make(chan error, 2)
	for _, text := range []string{"first", "second"} {
		go func() {
			_, err := Call[echoResp](ctx, client, "svc.natsxtest.v1.work", echoReq{Text: text})
			done <- err
		}()
		if text == "first" {
			recv(t, started, waitLong, "the first request")
		}
	}
	select {
	case got := <-started:
		t.Fatalf("request %q started while the same user's first still ran", got)
	case <-time.After(300 * time.Millisecond):
	}
	release <- struct{}{}
	recv(t, started, waitLong, "the second request once the first ended")
	release <- struct{}{}
	for range 2 {
		if err := recv(t, done, waitLong, "reply"); err != nil {
			t.Fatal(err)
		}
	}
}

// A handler that only waits now gives its place back: the same user's next
// request runs while the first still waits.
func TestLeaveShareLetsTheUsersNextRequestRun(t *testing.T) {
	svc, client := sharedService(t, fairshare.New(1, fairshare.Limit(8)))
	release := make(chan struct{})
	started := make(chan string, 2)
	mustHandle(t, svc, "svc.natsxtest.v1.wait", func(ctx context.Context, req echoReq) (echoResp, error) {
		started <- req.Text
		if req.Text == "waiter" {
			LeaveShare(ctx)
			LeaveShare(ctx) // a second call gives back nothing more
			select {
			case <-release:
			case <-ctx.Done():
				return echoResp{}, ctx.Err()
			}
		}
		return echoResp{Text: req.Text}, nil
	})
	ctx, cancel := context.WithTimeout(reqctx.With(context.Background(), reqctx.Meta{UserID: "u"}), waitLong)
	defer cancel()
	waited := make(chan error, 1)
	go func() {
		_, err := Call[echoResp](ctx, client, "svc.natsxtest.v1.wait", echoReq{Text: "waiter"})
		waited <- err
	}()
	recv(t, started, waitLong, "the waiting request")
	if _, err := Call[echoResp](ctx, client, "svc.natsxtest.v1.wait", echoReq{Text: "next"}); err != nil {
		t.Fatalf("the user's next request while the first waits: %v", err)
	}
	close(release)
	if err := recv(t, waited, waitLong, "the waiting request's reply"); err != nil {
		t.Fatal(err)
	}
	// Every place is back: the pool holds nothing for u.
	testkit.Eventually(t, waitLong, func() error {
		if n := svc.cfg.Share.Held("u"); n != 0 {
			return fmt.Errorf("u still holds %d places after both requests ended", n)
		}
		return nil
	})
}
