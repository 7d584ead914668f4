package natsx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultSetupTimeout bounds the declaration of streams and consumers at
// start, retries included. A fresh cluster elects its JetStream leaders in
// seconds; a service still failing after this exits with the last error, so
// the orchestrator restarts it and the operator sees why.
const DefaultSetupTimeout = 2 * time.Minute

const (
	// declareAttemptTimeout bounds one API request: without a meta leader
	// nobody answers, and the whole setup budget must not go to one try.
	declareAttemptTimeout = 5 * time.Second
	declareBackoffMin     = 200 * time.Millisecond
	declareBackoffMax     = 5 * time.Second
)

// JetStream API error codes that go away by themselves while a cluster
// forms or several services declare the same stream at once. nats.go names
// only some of them.
const (
	jsErrClusterNoPeers       jetstream.ErrorCode = 10005 // peers still joining
	jsErrClusterNotAvailable  jetstream.ErrorCode = 10008 // no meta leader yet
	jsErrInsufficientResource jetstream.ErrorCode = 10023 // placement before every peer reported in
	jsErrClusterPeerNotMember jetstream.ErrorCode = 10040
)

// declare runs op until it succeeds, fails in a way a retry cannot fix, or
// ctx ends. Each attempt gets at most declareAttemptTimeout; the wait
// between attempts doubles from declareBackoffMin to declareBackoffMax,
// jittered so services started together do not retry in step. Every failed
// attempt is logged.
func declare(ctx context.Context, log *slog.Logger, what string, op func(context.Context) error) error {
	started := time.Now()
	wait := declareBackoffMin
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, declareAttemptTimeout)
		err := op(actx)
		cancel()
		if err == nil {
			if attempt > 1 {
				log.Info("jetstream declaration succeeded after retries", "what", what, "attempts", attempt)
			}
			return nil
		}
		if !retryableDeclareError(err) {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("gave up after %d attempts in %s: %w", attempt, time.Since(started).Round(time.Millisecond), err)
		}
		delay := wait/2 + rand.N(wait/2+1)
		log.Warn("jetstream declaration failed, retrying", "what", what, "attempt", attempt, "retry_in", delay, "error", err)
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("gave up after %d attempts in %s: %w", attempt, time.Since(started).Round(time.Millisecond), err)
		case <-timer.C:
		}
		wait = min(2*wait, declareBackoffMax)
	}
}

// retryableDeclareError reports whether a failed declaration may succeed
// later: no answer (no meta or stream leader yet, server restarting), a
// cluster still forming, or a concurrent declaration of the same name. A
// configuration the server refuses (retention change, overlapping subjects,
// replicas on a single server) is final, and so is a closed connection.
func retryableDeclareError(err error) bool {
	if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, context.Canceled) {
		return false
	}
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return true
	}
	switch apiErr.ErrorCode {
	case jsErrClusterNoPeers, jsErrClusterNotAvailable, jsErrInsufficientResource, jsErrClusterPeerNotMember,
		jetstream.JSErrCodeJetStreamNotEnabled,
		jetstream.JSErrCodeStreamNameInUse,
		jetstream.JSErrCodeConsumerNameExists, jetstream.JSErrCodeConsumerAlreadyExists, jetstream.JSErrCodeConsumerExists:
		return true
	}
	return false
}

// withSetupTimeout bounds ctx by timeout (DefaultSetupTimeout when zero);
// an earlier deadline of ctx wins.
func withSetupTimeout(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout <= 0 {
		timeout = DefaultSetupTimeout
	}
	return context.WithTimeout(ctx, timeout)
}
