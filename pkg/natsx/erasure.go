package natsx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/userv1"
	"github.com/nonefinity/backend/pkg/telemetry"
)

// ErasureOptions configures ConsumeErasure. Only Durable is required.
type ErasureOptions struct {
	// Durable is the service's consumer (contracts.Durable…UserErase).
	Durable string
	// Service names the service in log lines and in the metrics' service
	// label.
	Service string
	// HandlerTimeout bounds one erase attempt; default 1m.
	HandlerTimeout time.Duration
	// RetryBase is the wait after the first failed attempt, doubled after
	// each further one up to RetryMax; defaults 1s and 5m.
	RetryBase, RetryMax time.Duration
	// AlertAfter is the attempt from which every failure is also logged at
	// error level as "erasure still failing"; default 10 (about seven
	// minutes of failures with the default backoff).
	AlertAfter int
	// Metrics, when set, receives nonefinity_erasure_failures_total and
	// nonefinity_erasure_rejected_total.
	Metrics prometheus.Registerer
	// Logger receives every failure (warn) and the alert (error).
	Logger *slog.Logger
}

// Erasure defaults.
const (
	DefaultErasureRetryBase  = time.Second
	DefaultErasureRetryMax   = 5 * time.Minute
	DefaultErasureAlertAfter = 10
	defaultErasureTimeout    = time.Minute
)

// ConsumeErasure runs a service's consumer of evt.user.v1.deleted.<user_id>
// and calls erase with the user id of each event. It is the one place that
// decides how every service erases a deleted user:
//
//   - the user id is the subject's last token (the stream's permissions
//     vouch for the subject, not for the body); a body naming another user,
//     or one that does not decode, is rejected: logged, counted, terminated;
//   - a failing erase is retried until it succeeds, never terminated, with
//     exponential backoff from RetryBase capped at RetryMax. Each failure is
//     logged at warn and counted; from the AlertAfter-th attempt on each one
//     is also logged at error as "erasure still failing", the line to alert
//     on. An erase error marked Permanent is retried all the same: data of
//     a deleted user must not stay because one attempt called itself final.
//
// erase must be idempotent: a redelivered event (after a lost ack, or to a
// second instance after AckWait) runs it again.
func ConsumeErasure(ctx context.Context, js jetstream.JetStream, o ErasureOptions, erase func(ctx context.Context, userID string) error) (*Consumer, error) {
	if o.Durable == "" {
		return nil, errors.New("consume erasure: durable name is required")
	}
	if erase == nil {
		return nil, errors.New("consume erasure: erase is nil")
	}
	o = withErasureDefaults(o)
	log := loggerOrDiscard(o.Logger)
	m, err := newErasureMetrics(o.Metrics, o.Service)
	if err != nil {
		return nil, err
	}
	c, err := Consume(ctx, js, ConsumerOptions{
		Stream:         contracts.StreamUsers,
		Durable:        o.Durable,
		FilterSubjects: []string{contracts.EventFilter(contracts.DomainUser, contracts.EventDeleted)},
		// Consume's limit is never reached: an erasure ends acknowledged.
		MaxDeliver:     math.MaxInt,
		Backoff:        erasureBackoff(o.RetryBase, o.RetryMax),
		HandlerTimeout: o.HandlerTimeout,
		Logger:         log,
		Service:        o.Service,
		Metrics:        o.Metrics,
		// Only rejected events get here (Permanent, or a body that does
		// not decode); Consume logs and terminates them.
		OnPoison: func(context.Context, jetstream.Msg, error) error {
			m.rejected.Inc()
			return nil
		},
	}, func(ctx context.Context, d Delivery[userv1.UserDeleted]) error {
		userID, err := erasedUser(d.Subject, d.Data)
		if err != nil {
			return Permanent(err)
		}
		if err := erase(ctx, userID); err != nil {
			m.failures.Inc()
			if d.NumDelivered >= uint64(o.AlertAfter) {
				log.ErrorContext(ctx, "erasure still failing", "service", o.Service, "user_id", userID,
					"attempts", d.NumDelivered, "error", err)
			}
			// %v, not %w: a Permanent inside must not end the retries.
			return fmt.Errorf("erase user %s: %v", userID, err)
		}
		log.InfoContext(ctx, "erased a deleted user's data", "service", o.Service, "user_id", userID, "attempts", d.NumDelivered)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("start user erasure consumer: %w", err)
	}
	return c, nil
}

func withErasureDefaults(o ErasureOptions) ErasureOptions {
	if o.HandlerTimeout <= 0 {
		o.HandlerTimeout = defaultErasureTimeout
	}
	if o.RetryBase <= 0 {
		o.RetryBase = DefaultErasureRetryBase
	}
	if o.RetryMax <= 0 {
		o.RetryMax = DefaultErasureRetryMax
	}
	o.RetryMax = max(o.RetryMax, o.RetryBase)
	if o.AlertAfter <= 0 {
		o.AlertAfter = DefaultErasureAlertAfter
	}
	return o
}

// erasureBackoff is base, 2·base, 4·base… up to max, whose last entry
// Consume repeats for every later attempt.
func erasureBackoff(base, maxDelay time.Duration) []time.Duration {
	var out []time.Duration
	for d := base; d < maxDelay; d *= 2 {
		out = append(out, d)
	}
	return append(out, maxDelay)
}

// erasedUser is the user an event asks to erase: the subject's last token.
// A body that names a different user is a forged or broken event.
func erasedUser(subject string, e userv1.UserDeleted) (string, error) {
	userID := contracts.UserIDFromSubject(subject)
	if userID == "" || subject != contracts.EventSubject(contracts.DomainUser, contracts.EventDeleted, userID) {
		return "", fmt.Errorf("user deleted event on %q names no user", subject)
	}
	if e.UserID != "" && e.UserID != userID {
		return "", fmt.Errorf("user deleted event for %s carries user id %s", userID, e.UserID)
	}
	return userID, nil
}

// erasureMetrics count failed erase attempts and rejected events.
type erasureMetrics struct {
	failures, rejected prometheus.Counter
}

func newErasureMetrics(reg prometheus.Registerer, service string) (erasureMetrics, error) {
	labels := prometheus.Labels{"service": service}
	m := erasureMetrics{
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "nonefinity_erasure_failures_total", ConstLabels: labels,
			Help: "Failed attempts to erase a deleted user's data; each is retried until it succeeds."}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{Name: "nonefinity_erasure_rejected_total", ConstLabels: labels,
			Help: "User deleted events rejected (body disagrees with the subject, or does not decode) and not applied."}),
	}
	var err error
	if m.failures, err = telemetry.Register(reg, m.failures); err != nil {
		return erasureMetrics{}, fmt.Errorf("register erasure metric: %w", err)
	}
	if m.rejected, err = telemetry.Register(reg, m.rejected); err != nil {
		return erasureMetrics{}, fmt.Errorf("register erasure metric: %w", err)
	}
	return m, nil
}
