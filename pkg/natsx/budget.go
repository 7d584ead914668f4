package natsx

import (
	"context"
	"time"
)

// Margin is the part of a caller's remaining time a service keeps back from
// its own work for answering: the interrupted work has to stop and the reply
// to travel before the caller gives up on a silent service. It is the time
// left divided by Divisor, kept between Min and Max.
type Margin struct {
	Divisor  int
	Min, Max time.Duration
}

// of is the margin for a caller with left time remaining.
func (m Margin) of(left time.Duration) time.Duration {
	share := left
	if m.Divisor > 0 {
		share = left / time.Duration(m.Divisor)
	}
	return min(max(share, m.Min), m.Max)
}

// Budget is how long a service may work on a request: its own limit or,
// when sooner, the caller's deadline (carried over NATS in the request's
// headers) less the margin, so the caller hears "timed out" (rpcerr.Timeout,
// 504) from the service instead of giving up on it and reporting it down.
// It is never negative. Without a deadline on ctx it is limit.
//
// This is the one place a service-side limit meets the caller's deadline;
// work bounded by it that ends with context.DeadlineExceeded while the
// caller still waits is answered by Handle as rpcerr.Timeout.
func Budget(ctx context.Context, limit time.Duration, m Margin) time.Duration {
	if deadline, ok := ctx.Deadline(); ok {
		left := time.Until(deadline)
		limit = min(limit, left-m.of(left))
	}
	return max(limit, 0)
}

// WithBudget is ctx bounded by Budget; it returns the bound it applied, for
// the message that names it ("query timed out after 10 s").
func WithBudget(ctx context.Context, limit time.Duration, m Margin) (context.Context, context.CancelFunc, time.Duration) {
	budget := Budget(ctx, limit, m)
	ctx, cancel := context.WithTimeout(ctx, budget)
	return ctx, cancel, budget
}
