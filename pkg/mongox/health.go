package mongox

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"
)

// Defaults of HealthOptions.
const (
	DefaultHealthInterval = 500 * time.Millisecond
	DefaultHealthTimeout  = time.Second
	// slowPingsForDown is how many pings in a row must time out on a
	// selected server before the database counts as down: a busy server
	// is slow, not gone, and refusing every request because one ping took
	// over a second would turn load into an outage. No server to select
	// (refused or broken connections) counts at once.
	slowPingsForDown = 3
)

// HealthOptions tunes WatchHealth. The zero value is usable.
type HealthOptions struct {
	// Interval is the time between two pings; default
	// DefaultHealthInterval.
	Interval time.Duration
	// Timeout bounds one ping; default DefaultHealthTimeout.
	Timeout time.Duration
	// Logger gets one line when the database goes down and one when it is
	// back; nil discards them.
	Logger *slog.Logger
	// OnChange, when set, is called with the new state (nil: up) each
	// time it changes.
	OnChange func(err error)
}

// Health knows, between requests, whether the database answers: a
// background ping every interval. A request that meets a database known to
// be down can then be refused at once (503) instead of waiting out the
// driver's server selection timeout, and requests are served again as soon
// as a ping succeeds, without a restart.
type Health struct {
	client *mongo.Client
	o      HealthOptions
	down   atomic.Bool
	slow   int // pings timed out in a row (run's goroutine only)
	stop   context.CancelFunc
	done   sync.WaitGroup
}

// WatchHealth pings client in the background until ctx is done or Stop is
// called. The database counts as up until a ping fails: the service has
// just connected to it.
func WatchHealth(ctx context.Context, client *mongo.Client, o HealthOptions) *Health {
	if o.Interval <= 0 {
		o.Interval = DefaultHealthInterval
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultHealthTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, stop := context.WithCancel(ctx)
	h := &Health{client: client, o: o, stop: stop}
	h.done.Go(func() { h.run(ctx) })
	return h
}

// Err is nil while the last ping succeeded, else ErrUnavailable, which a
// request should be answered with. It carries no cause: a refused request
// is not worth a log line of its own, the state change was logged.
func (h *Health) Err() error {
	if h.down.Load() {
		return ErrUnavailable
	}
	return nil
}

// Stop ends the pings and waits for the last one.
func (h *Health) Stop() {
	h.stop()
	h.done.Wait()
}

func (h *Health) run(ctx context.Context) {
	t := time.NewTicker(h.o.Interval)
	defer t.Stop()
	for {
		h.ping(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (h *Health) ping(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, h.o.Timeout)
	err := h.client.Ping(pctx, nil)
	cancel()
	if ctx.Err() != nil {
		return // stopping: the failed ping says nothing about the database
	}
	if err != nil && slowNotGone(err) && !h.down.Load() {
		if h.slow++; h.slow < slowPingsForDown {
			return
		}
	}
	if err == nil {
		h.slow = 0
	}
	wasDown := h.down.Swap(err != nil)
	switch {
	case err != nil && !wasDown:
		h.o.Logger.Warn("mongodb unreachable; requests needing it answer 503 until it is back", "error", err)
		if h.o.OnChange != nil {
			h.o.OnChange(h.Err())
		}
	case err == nil && wasDown:
		h.o.Logger.Info("mongodb reachable again")
		if h.o.OnChange != nil {
			h.o.OnChange(nil)
		}
	}
}

// slowNotGone reports a ping that ran out of time on a server the driver
// could select (it answers its heartbeats), as opposed to finding none.
func slowNotGone(err error) bool {
	var selection topology.ServerSelectionError
	return errors.Is(err, context.DeadlineExceeded) && !errors.As(err, &selection)
}
