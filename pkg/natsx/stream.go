package natsx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/rpcerr"
)

// DefaultDuplicateWindow is how long JetStream remembers a Nats-Msg-Id. It
// must outlast a publisher's retries, which are seconds; minutes is ample.
const DefaultDuplicateWindow = 2 * time.Minute

// StreamOptions are the deployment choices for the streams of
// contracts.Streams(): what they are is agreed in contracts, how they are
// stored is decided where they are created.
type StreamOptions struct {
	// Replicas per stream; default 1. Use 3 on a JetStream cluster.
	Replicas int
	// Storage defaults to file storage.
	Storage jetstream.StorageType
	// MaxAge drops messages older than this; 0 keeps them forever.
	MaxAge time.Duration
	// Duplicates is the de-duplication window; default
	// DefaultDuplicateWindow (never longer than MaxAge).
	Duplicates time.Duration
}

// EnsureStreams creates each stream, or updates it to the spec, so every
// service can call it at startup in any order. Changing a stream's retention
// is refused by the server and returned as an error.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, specs []contracts.StreamSpec, opts StreamOptions) error {
	for _, spec := range specs {
		if _, err := js.CreateOrUpdateStream(ctx, streamConfig(spec, opts)); err != nil {
			return fmt.Errorf("ensure stream %s: %w", spec.Name, err)
		}
	}
	return nil
}

func streamConfig(spec contracts.StreamSpec, opts StreamOptions) jetstream.StreamConfig {
	replicas := max(opts.Replicas, 1)
	dupes := opts.Duplicates
	if dupes <= 0 {
		dupes = DefaultDuplicateWindow
	}
	if opts.MaxAge > 0 && dupes > opts.MaxAge {
		dupes = opts.MaxAge
	}
	retention := jetstream.LimitsPolicy
	if spec.Retention == contracts.RetainWorkQueue {
		retention = jetstream.WorkQueuePolicy
	}
	return jetstream.StreamConfig{
		Name:       spec.Name,
		Subjects:   spec.Subjects,
		Retention:  retention,
		Storage:    opts.Storage,
		Replicas:   replicas,
		MaxAge:     opts.MaxAge,
		Duplicates: dupes,
	}
}

// EnsureConsumer creates the consumer, or updates it to cfg, on stream.
func EnsureConsumer(ctx context.Context, js jetstream.JetStream, stream string, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	c, err := js.CreateOrUpdateConsumer(ctx, stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("ensure consumer %s on stream %s: %w", consumerName(cfg), stream, err)
	}
	return c, nil
}

func consumerName(cfg jetstream.ConsumerConfig) string {
	if cfg.Durable != "" {
		return cfg.Durable
	}
	return cfg.Name
}

// Publish stores v as JSON on subject in JetStream and waits for the
// stream's acknowledgement. msgID is the de-duplication id (Nats-Msg-Id):
// publishing the same id again within the stream's window is a no-op, so a
// retried publish never doubles an event; derive it from what the event is
// about (e.g. "file.uploaded.<file_id>"), not from time. The request metadata
// of ctx travels in headers; its deadline does not, because the message
// outlives the request.
//
// No stream for the subject, no acknowledgement in time and a closed
// connection are rpcerr Unavailable.
func Publish(ctx context.Context, js jetstream.JetStream, subject, msgID string, v any) error {
	if msgID == "" {
		return fmt.Errorf("publish to %s: a message id is required for de-duplication", subject)
	}
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("publish to %s: encode: %w", subject, err)
	}
	msg := &nats.Msg{Subject: subject, Header: nats.Header{}, Data: body}
	injectMeta(ctx, msg.Header)
	if _, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(msgID)); err != nil {
		return publishError(subject, err)
	}
	return nil
}

// publishError classifies a failed publish; unavailable errors wrap both the
// *rpcerr.Error and the NATS cause, as in requestError.
func publishError(subject string, err error) error {
	unavailable := func(message string) error {
		return fmt.Errorf("publish to %s: %w: %w", subject, rpcerr.New(rpcerr.Unavailable, message), err)
	}
	switch {
	case errors.Is(err, jetstream.ErrNoStreamResponse), errors.Is(err, nats.ErrNoResponders),
		errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrConnectionDraining):
		return unavailable("event stream unavailable")
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return unavailable("event stream did not acknowledge in time")
	}
	return fmt.Errorf("publish to %s: %w", subject, err)
}
