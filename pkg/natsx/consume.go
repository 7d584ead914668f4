package natsx

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/reqctx"
	"github.com/nonefinity/backend/pkg/telemetry"
)

// ConsumerOptions configures Consume.
type ConsumerOptions struct {
	// Stream and Durable name the stream and the durable consumer.
	Stream, Durable string
	// FilterSubjects limits the consumer to these subjects; empty means
	// the whole stream.
	FilterSubjects []string
	// MaxDeliver is how many times a message is handled before it is
	// poison; default 5; negative never gives up on a message by count
	// (for handlers that count attempts themselves, or must not give up).
	MaxDeliver int
	// AckWait is how long the server waits for an acknowledgement before it
	// redelivers; default 30s. Longer handlers are kept alive with progress
	// heartbeats.
	AckWait time.Duration
	// Backoff is the redelivery delay after the n-th failed attempt (the
	// last entry repeats); default 1s, 5s, 15s, 30s.
	Backoff []time.Duration
	// MaxAckPending bounds unacknowledged messages across all instances;
	// 0 leaves the server's default.
	MaxAckPending int
	// Concurrency is how many messages this instance handles at once;
	// default 1.
	Concurrency int
	// HandlerTimeout bounds one handler call; 0 means no bound (a handler
	// that may hang should have one: progress heartbeats keep a running
	// handler's message from being redelivered).
	HandlerTimeout time.Duration
	// Logger receives failures; nil discards them.
	Logger *slog.Logger
	// Service names the consuming service in the metrics and in the Sentry
	// event of a poison message.
	Service string
	// Metrics, when set, receives the consumer's metrics: messages by
	// outcome, handler time, redeliveries, poison messages, and at each
	// scrape its lag as the server counts it.
	Metrics prometheus.Registerer
	// OnPoison is called with a message that will not be retried any more
	// (MaxDeliver reached, undecodable, or a Permanent error) before it is
	// terminated, e.g. to publish the domain's "failed" event. If it returns
	// an error the message is not terminated but redelivered after a
	// backoff, so it is never lost silently.
	OnPoison func(ctx context.Context, msg jetstream.Msg, lastErr error) error
}

// Delivery is one decoded message handed to a Consume handler.
type Delivery[T any] struct {
	Data         T
	Subject      string
	Header       nats.Header
	NumDelivered uint64
	Msg          jetstream.Msg
}

// Defer returns an error that hands the message back to the server to be
// delivered again after delay, without a failure: the handler chose not to
// do it now (e.g. its owner already has a job running). The server counts
// the delivery, so a consumer whose handler defers should set MaxDeliver
// negative and count its attempts itself.
func Defer(delay time.Duration) error { return &deferred{delay: delay} }

type deferred struct{ delay time.Duration }

func (d *deferred) Error() string { return fmt.Sprintf("deferred for %s", d.delay) }

func isDeferred(err error) bool {
	var d *deferred
	return errors.As(err, &d)
}

func deferral(err error) time.Duration {
	var d *deferred
	errors.As(err, &d)
	return d.delay
}

// ErrPermanent marks a handler error that retrying cannot fix (invalid
// input, a referenced object that is gone). See Permanent.
type ErrPermanent struct{ Err error }

func (e *ErrPermanent) Error() string { return "permanent: " + e.Err.Error() }
func (e *ErrPermanent) Unwrap() error { return e.Err }

// Permanent wraps err so Consume hands the message to OnPoison and
// terminates it at once instead of retrying. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &ErrPermanent{Err: err}
}

// IsPermanent reports whether err is, or wraps, a Permanent error.
func IsPermanent(err error) bool {
	var p *ErrPermanent
	return errors.As(err, &p)
}

var defaultBackoff = []time.Duration{time.Second, 5 * time.Second, 15 * time.Second, 30 * time.Second}

// Consumer is a running durable consumer started by Consume.
type Consumer struct {
	js       jetstream.JetStream
	cfg      jetstream.ConsumerConfig
	opts     ConsumerOptions
	log      *slog.Logger
	baseCtx  context.Context
	handle   func(context.Context, jetstream.Msg)
	slots    chan struct{}
	inflight sync.WaitGroup
	metrics  *consumerMetrics

	mu       sync.Mutex
	iter     jetstream.MessagesContext
	stopping bool
	stop     chan struct{}
	loopDone chan struct{}
}

// Consume ensures the durable consumer and handles its messages until ctx is
// done or Stop is called. Each message's JSON body is decoded into T and
// handed to handle with a context carrying the publisher's request metadata.
//
// A message is acknowledged only after handle returned nil. On an error it is
// redelivered after Backoff[attempt]; once it has been delivered MaxDeliver
// times, or handle returned a Permanent error, or its body does not decode,
// OnPoison is called and the message is terminated. While handle runs the
// message's AckWait is extended every AckWait/3.
//
// The server-side MaxDeliver is unlimited on purpose: the limit is enforced
// here, so a message whose OnPoison failed can still come back instead of
// being silently parked by the server.
//
// Handler contexts are not cancelled when ctx is: shutting down stops
// fetching and lets in-flight handlers finish (Stop waits for them). Stop
// consumers before draining the connection so their acks get out.
func Consume[T any](ctx context.Context, js jetstream.JetStream, opts ConsumerOptions, handle func(ctx context.Context, m Delivery[T]) error) (*Consumer, error) {
	if opts.Stream == "" || opts.Durable == "" {
		return nil, errors.New("consume: stream and durable name are required")
	}
	if handle == nil {
		return nil, errors.New("consume: handler is nil")
	}
	opts = withConsumerDefaults(opts)
	metrics, err := newConsumerMetrics(opts.Metrics, js, opts.Service, opts.Stream, opts.Durable)
	if err != nil {
		return nil, fmt.Errorf("consume %s/%s: %w", opts.Stream, opts.Durable, err)
	}
	c := &Consumer{
		js:       js,
		cfg:      consumerConfig(opts),
		opts:     opts,
		log:      loggerOrDiscard(opts.Logger).With("stream", opts.Stream, "durable", opts.Durable),
		metrics:  metrics,
		baseCtx:  context.WithoutCancel(ctx),
		slots:    make(chan struct{}, opts.Concurrency),
		stop:     make(chan struct{}),
		loopDone: make(chan struct{}),
	}
	c.handle = func(hctx context.Context, msg jetstream.Msg) { handleMessage(hctx, c, msg, handle) }

	iter, err := c.subscribe(ctx)
	if err != nil {
		metrics.close()
		return nil, err
	}
	c.iter = iter
	go c.fetchLoop()
	go func() {
		select {
		case <-ctx.Done():
			c.stopFetching()
		case <-c.loopDone:
		}
	}()
	return c, nil
}

func withConsumerDefaults(o ConsumerOptions) ConsumerOptions {
	if o.MaxDeliver == 0 {
		o.MaxDeliver = 5
	}
	if o.AckWait <= 0 {
		o.AckWait = 30 * time.Second
	}
	if len(o.Backoff) == 0 {
		o.Backoff = defaultBackoff
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 1
	}
	return o
}

func consumerConfig(o ConsumerOptions) jetstream.ConsumerConfig {
	cfg := jetstream.ConsumerConfig{
		Durable:       o.Durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       o.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: o.MaxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	// One filter goes in FilterSubject, which servers before 2.10 also
	// understand; several need FilterSubjects.
	switch len(o.FilterSubjects) {
	case 0:
	case 1:
		cfg.FilterSubject = o.FilterSubjects[0]
	default:
		cfg.FilterSubjects = o.FilterSubjects
	}
	return cfg
}

// subscribe ensures the consumer and opens a message iterator on it. The
// client buffers at most Concurrency messages, so few wait unhandled (and
// must time out on the server) when the consumer stops.
func (c *Consumer) subscribe(ctx context.Context) (jetstream.MessagesContext, error) {
	cons, err := ensureConsumer(ctx, c.js, c.opts.Stream, c.cfg, c.log)
	if err != nil {
		return nil, fmt.Errorf("consume: %w", err)
	}
	iter, err := cons.Messages(jetstream.PullMaxMessages(c.opts.Concurrency))
	if err != nil {
		return nil, fmt.Errorf("consume %s/%s: open message iterator: %w", c.opts.Stream, c.opts.Durable, err)
	}
	return iter, nil
}

// fetchLoop takes a message whenever a handler slot is free and hands it to
// a handler goroutine. It is the only goroutine that reads the iterator.
func (c *Consumer) fetchLoop() {
	defer close(c.loopDone)
	retry := 0
	for {
		select {
		case c.slots <- struct{}{}:
		case <-c.stop:
			return
		}
		c.mu.Lock()
		iter := c.iter
		c.mu.Unlock()
		msg, err := iter.Next()
		if err != nil {
			<-c.slots
			if c.isStopping() {
				return
			}
			if errors.Is(err, nats.ErrConnectionClosed) {
				c.log.Warn("consumer stopped: nats connection closed")
				return
			}
			retry++
			c.log.Error("consumer message iterator failed, re-subscribing", "error", err, "attempt", retry)
			if !c.resubscribe(retry) {
				return
			}
			continue
		}
		retry = 0
		c.inflight.Add(1)
		go func() {
			defer func() { <-c.slots }()
			defer c.inflight.Done()
			c.handle(c.baseCtx, msg)
		}()
	}
}

// resubscribe re-creates the consumer (it may have been deleted) and the
// iterator, waiting a growing delay first. It reports false once stopping.
func (c *Consumer) resubscribe(attempt int) bool {
	delay := min(time.Duration(attempt)*time.Second, 30*time.Second)
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-c.stop:
		return false
	case <-timer.C:
	}
	ctx, cancel := context.WithTimeout(c.baseCtx, 10*time.Second)
	defer cancel()
	iter, err := c.subscribe(ctx)
	if err != nil {
		c.log.Error("consumer re-subscribe failed", "error", err)
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.iter.Stop()
	c.iter = iter
	if c.stopping {
		iter.Stop()
		return false
	}
	return true
}

func (c *Consumer) isStopping() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopping
}

// stopFetching stops taking new messages; messages buffered in the client
// and not yet handled are redelivered by the server after AckWait.
func (c *Consumer) stopFetching() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopping {
		return
	}
	c.stopping = true
	close(c.stop)
	c.iter.Stop()
}

// Stop stops fetching messages and waits for the handlers that are running
// to finish (and ack, nak or terminate their messages).
func (c *Consumer) Stop() {
	c.stopFetching()
	<-c.loopDone
	c.inflight.Wait()
	c.metrics.close()
}

// handleMessage runs one delivery through decode, handler and settlement.
func handleMessage[T any](base context.Context, c *Consumer, msg jetstream.Msg, handle func(context.Context, Delivery[T]) error) {
	ctx := reqctx.With(base, metaFromHeaders(msg.Headers()))
	if c.opts.HandlerTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.HandlerTimeout)
		defer cancel()
	}
	var delivered uint64 = 1
	if meta, err := msg.Metadata(); err == nil {
		delivered = meta.NumDelivered
	}
	log := c.log.With("subject", msg.Subject(), "delivered", delivered)
	c.metrics.delivered(delivered)

	var data T
	if len(bytes.TrimSpace(msg.Data())) > 0 {
		if err := json.Unmarshal(msg.Data(), &data); err != nil {
			c.poison(ctx, log, msg, fmt.Errorf("decode message: %w", err), 0)
			return
		}
	}

	started := time.Now()
	err := c.runWithHeartbeat(ctx, log, msg, func() error {
		return callHandler(ctx, handle, Delivery[T]{
			Data:         data,
			Subject:      msg.Subject(),
			Header:       msg.Headers(),
			NumDelivered: delivered,
			Msg:          msg,
		})
	})
	took := time.Since(started)
	switch {
	case err == nil:
		c.ack(ctx, log, msg)
		c.metrics.settled(outcomeAcked, took)
	case IsPermanent(err):
		c.poison(ctx, log, msg, err, took)
	case isDeferred(err):
		delay := deferral(err)
		log.DebugContext(ctx, "message deferred", "retry_in", delay)
		if nerr := msg.NakWithDelay(delay); nerr != nil {
			log.WarnContext(ctx, "nak failed; the message comes back after AckWait", "error", nerr)
		}
		c.metrics.settled(outcomeDeferred, took)
	case c.opts.MaxDeliver > 0 && delivered >= uint64(c.opts.MaxDeliver):
		c.poison(ctx, log, msg, fmt.Errorf("gave up after %d deliveries: %w", delivered, err), took)
	default:
		delay := c.backoff(delivered)
		log.WarnContext(ctx, "message handler failed, will retry", "error", err, "retry_in", delay)
		if nerr := msg.NakWithDelay(delay); nerr != nil {
			log.WarnContext(ctx, "nak failed; the message comes back after AckWait", "error", nerr)
		}
		c.metrics.settled(outcomeRetried, took)
	}
}

func callHandler[T any](ctx context.Context, handle func(context.Context, Delivery[T]) error, d Delivery[T]) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in message handler: %v\n%s", p, debug.Stack())
		}
	}()
	return handle(ctx, d)
}

// runWithHeartbeat runs fn and, while it runs, tells the server every
// AckWait/3 that the message is still being worked on, so a long handler is
// not raced by a redelivery to another instance.
func (c *Consumer) runWithHeartbeat(ctx context.Context, log *slog.Logger, msg jetstream.Msg, fn func() error) error {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		ticker := time.NewTicker(c.opts.AckWait / 3)
		defer ticker.Stop()
		for {
			select {
			case <-done:
				return
			case <-ticker.C:
				if err := msg.InProgress(); err != nil {
					log.DebugContext(ctx, "progress heartbeat failed", "error", err)
				}
			}
		}
	}()
	err := fn()
	close(done)
	// The heartbeat must not reach the server after the ack.
	wg.Wait()
	return err
}

func (c *Consumer) backoff(delivered uint64) time.Duration {
	i := int(min(delivered, uint64(len(c.opts.Backoff)))) - 1
	return c.opts.Backoff[max(i, 0)]
}

// ack confirms with the server so a lost ack shows in the log; the message
// is then redelivered and the (idempotent) handler sees it again.
func (c *Consumer) ack(ctx context.Context, log *slog.Logger, msg jetstream.Msg) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := msg.DoubleAck(actx); err != nil {
		log.WarnContext(ctx, "ack not confirmed; the message may be redelivered", "error", err)
	}
}

// poison hands a message that will not be retried to OnPoison and
// terminates it. If OnPoison fails the message is redelivered later instead.
// A terminated message is logged and reported to Sentry under one error id.
func (c *Consumer) poison(ctx context.Context, log *slog.Logger, msg jetstream.Msg, cause error, took time.Duration) {
	if c.opts.OnPoison != nil {
		if err := c.callOnPoison(ctx, msg, cause); err != nil {
			delay := c.opts.Backoff[len(c.opts.Backoff)-1]
			log.ErrorContext(ctx, "poison message handler failed, will retry", "error", err, "cause", cause, "retry_in", delay)
			if nerr := msg.NakWithDelay(delay); nerr != nil {
				log.WarnContext(ctx, "nak failed; the message comes back after AckWait", "error", nerr)
			}
			c.metrics.settled(outcomeRetried, took)
			return
		}
	}
	errorID := rpcerr.NewErrorID()
	log.ErrorContext(ctx, "message terminated as poison", "error", cause, "error_id", errorID)
	telemetry.CaptureFailure(ctx, telemetry.Failure{
		Err: cause, ErrorID: errorID, Service: c.opts.Service, Subject: msg.Subject(),
		// The subject names the user when the headers do not (an event
		// published by a webhook, say).
		UserID: cmp.Or(reqctx.UserID(ctx), contracts.UserIDFromSubject(msg.Subject())),
		Tags:   map[string]string{"stream": c.opts.Stream, "durable": c.opts.Durable},
	})
	c.metrics.settled(outcomePoison, took)
	if err := msg.TermWithReason(termReason(cause)); err != nil {
		log.WarnContext(ctx, "terminate failed; the message comes back after AckWait", "error", err)
	}
}

func (c *Consumer) callOnPoison(ctx context.Context, msg jetstream.Msg, cause error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in poison handler: %v\n%s", p, debug.Stack())
		}
	}()
	return c.opts.OnPoison(ctx, msg, cause)
}

// termReason is the first line of cause, short: it travels in the
// terminate request and shows in the server's advisory.
func termReason(cause error) string {
	r, _, _ := strings.Cut(cause.Error(), "\n")
	if len(r) > 200 {
		r = r[:200]
	}
	return r
}
