package natsx

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/testkit"
)

func TestBudgetIsTheLimitOrTheCallersDeadlineLessTheMargin(t *testing.T) {
	statement := Margin{Divisor: 4, Max: time.Second}
	wait := Margin{Divisor: 5, Min: time.Second, Max: 5 * time.Second}
	for _, tc := range []struct {
		name  string
		left  time.Duration // 0: no deadline
		limit time.Duration
		m     Margin
		want  time.Duration
	}{
		{"no deadline: the limit", 0, 10 * time.Second, statement, 10 * time.Second},
		{"limit first", 30 * time.Second, 10 * time.Second, statement, 10 * time.Second},
		{"deadline first, margin capped", 8 * time.Second, 10 * time.Second, statement, 7 * time.Second},
		{"deadline first, a quarter kept", 2 * time.Second, 10 * time.Second, statement, 1500 * time.Millisecond},
		{"margin at its floor", 3 * time.Second, time.Minute, wait, 2 * time.Second},
		{"a fifth kept", 15 * time.Second, time.Minute, wait, 12 * time.Second},
		{"margin at its cap", 60 * time.Second, time.Minute, wait, 55 * time.Second},
		{"deadline inside the margin: nothing", 500 * time.Millisecond, time.Minute, wait, 0},
		{"deadline passed: nothing", -time.Second, time.Minute, statement, 0},
		{"negative limit: nothing", 0, -time.Second, statement, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.left != 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, time.Now().Add(tc.left))
				defer cancel()
			}
			got := Budget(ctx, tc.limit, tc.m)
			// The clock moves between setting the deadline and reading it.
			if got > tc.want || got < tc.want-50*time.Millisecond {
				t.Fatalf("Budget = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestWithBudgetBoundsTheContext(t *testing.T) {
	parent, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	ctx, stop, budget := WithBudget(parent, 10*time.Second, Margin{Divisor: 4, Max: time.Second})
	defer stop()
	deadline, ok := ctx.Deadline()
	if !ok || budget > 7*time.Second || budget < 7*time.Second-50*time.Millisecond {
		t.Fatalf("budget %v, deadline %v %v", budget, deadline, ok)
	}
	parentDeadline, _ := parent.Deadline()
	if gap := parentDeadline.Sub(deadline); gap < time.Second-50*time.Millisecond || gap > time.Second+50*time.Millisecond {
		t.Fatalf("the budget ends %v before the caller's deadline, want the 1 s margin", gap)
	}
}

// Work that runs out of its budget while the caller still waits is answered
// as a timeout (504), before the caller's deadline: slow, not down.
func TestBudgetExceededIsATimeoutNotAnOutage(t *testing.T) {
	srv := testkit.NATS(t)
	svc, client := testService(t, srv, newLogSink())
	mustHandle(t, svc, "svc.natsxtest.v1.budgeted", func(ctx context.Context, _ echoReq) (echoResp, error) {
		ctx, cancel, _ := WithBudget(ctx, time.Minute, Margin{Divisor: 4, Max: time.Second})
		defer cancel()
		<-ctx.Done()
		return echoResp{}, ctx.Err()
	})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := client.Request(ctx, "svc.natsxtest.v1.budgeted", echoReq{}, nil)
	re, ok := rpcerr.As(err)
	if !ok || re.Code != rpcerr.Timeout || re.HTTPStatus() != http.StatusGatewayTimeout {
		t.Fatalf("error = %v, want a timeout (504)", err)
	}
	if re.ErrorID == "" {
		t.Error("a 5xx without an error id")
	}
	if ctx.Err() != nil {
		t.Error("answered after the caller's deadline")
	}
}

// Only a deadline is a timeout: other failures keep their answers, and a
// code the handler chose is not overridden.
func TestTimedOutMapsOnlyAnUncodedDeadline(t *testing.T) {
	if re, ok := rpcerr.As(timedOut(context.DeadlineExceeded)); !ok || re.Code != rpcerr.Timeout {
		t.Fatalf("deadline exceeded = %v, want timeout", re)
	}
	if got := timedOut(context.DeadlineExceeded); !errors.Is(got, context.DeadlineExceeded) {
		t.Fatalf("%v does not keep its cause", got)
	}
	other := errors.New("boom")
	if got := timedOut(other); got != other {
		t.Fatalf("timedOut(other) = %v", got)
	}
	coded := errors.Join(rpcerr.New(rpcerr.Unavailable, "database unavailable"), context.DeadlineExceeded)
	if got := timedOut(coded); got != coded {
		t.Fatalf("timedOut(coded) = %v", got)
	}
}
