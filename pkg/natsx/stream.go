package natsx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
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
// stored and how long they keep messages is decided where they are created
// (see StreamSettings).
type StreamOptions struct {
	// Replicas per stream; default 1. Use 3 on a JetStream cluster.
	Replicas int
	// Storage defaults to file storage.
	Storage jetstream.StorageType
	// Limits are each stream's limits by stream name; a stream without an
	// entry keeps its messages until its retention policy removes them.
	Limits map[string]StreamLimits
	// Duplicates is the de-duplication window; default
	// DefaultDuplicateWindow (never longer than a stream's MaxAge).
	Duplicates time.Duration
	// Timeout bounds the declaration, retries included; default
	// DefaultSetupTimeout.
	Timeout time.Duration
	// Logger receives each failed attempt and each change made to an
	// existing stream; nil discards them.
	Logger *slog.Logger
}

// StreamLimits bound what one stream keeps.
type StreamLimits struct {
	// MaxAge drops messages older than this; 0 keeps them for ever.
	MaxAge time.Duration
	// MaxBytes caps the stream's size; 0 means no cap.
	MaxBytes int64
	// DiscardNew refuses new messages once MaxBytes is reached (the
	// publisher gets an error) instead of dropping the oldest: for streams
	// whose every message must reach its consumers.
	DiscardNew bool
}

// EnsureStreams creates each stream, or updates an existing one to the
// spec and limits, so every service can call it at startup in any order and
// at the same time as others. While JetStream cannot answer yet (a cluster
// without a meta leader, a server restarting) or another service declares
// the same stream concurrently, it retries with backoff until opts.Timeout.
// A change the server refuses, such as another retention policy, is
// returned at once.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, specs []contracts.StreamSpec, opts StreamOptions) error {
	ctx, cancel := withSetupTimeout(ctx, opts.Timeout)
	defer cancel()
	log := loggerOrDiscard(opts.Logger)
	for _, spec := range specs {
		cfg := streamConfig(spec, opts)
		err := declare(ctx, log, "stream "+spec.Name, func(ctx context.Context) error {
			return ensureStream(ctx, js, cfg, log)
		})
		if err != nil {
			return fmt.Errorf("ensure stream %s: %w", spec.Name, err)
		}
	}
	return nil
}

// ensureStream makes one attempt. A stream that already has the wanted
// configuration is left alone, so a start does not propose a no-op update
// to the cluster. Two services creating the same stream at once with
// different limits make one of them fail with "name already in use"; its
// retry finds the stream and updates it.
func ensureStream(ctx context.Context, js jetstream.JetStream, want jetstream.StreamConfig, log *slog.Logger) error {
	s, err := js.Stream(ctx, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		if _, err := js.CreateStream(ctx, want); err != nil {
			return err
		}
		log.Info("stream created", "stream", want.Name, "replicas", want.Replicas,
			"max_age", want.MaxAge, "max_bytes", want.MaxBytes, "discard", want.Discard.String())
		return nil
	}
	if err != nil {
		return err
	}
	changes := streamChanges(s.CachedInfo().Config, want)
	if len(changes) == 0 {
		return nil
	}
	if _, err := js.UpdateStream(ctx, want); err != nil {
		return err
	}
	log.Info("stream updated", "stream", want.Name, "changes", strings.Join(changes, ", "))
	return nil
}

// streamChanges lists what EnsureStreams sets that differs in have. Fields
// it does not set (an operator's MaxMsgs, say) are not compared.
func streamChanges(have, want jetstream.StreamConfig) []string {
	var out []string
	diff := func(name string, a, b any) {
		if a != b {
			out = append(out, fmt.Sprintf("%s %v -> %v", name, a, b))
		}
	}
	diff("subjects", strings.Join(have.Subjects, ","), strings.Join(want.Subjects, ","))
	diff("retention", have.Retention.String(), want.Retention.String())
	diff("storage", have.Storage.String(), want.Storage.String())
	diff("replicas", have.Replicas, want.Replicas)
	diff("max_age", have.MaxAge, want.MaxAge)
	diff("max_bytes", have.MaxBytes, want.MaxBytes)
	diff("discard", have.Discard.String(), want.Discard.String())
	diff("duplicates", have.Duplicates, want.Duplicates)
	return out
}

func streamConfig(spec contracts.StreamSpec, opts StreamOptions) jetstream.StreamConfig {
	limits := opts.Limits[spec.Name]
	replicas := max(opts.Replicas, 1)
	dupes := opts.Duplicates
	if dupes <= 0 {
		dupes = DefaultDuplicateWindow
	}
	if limits.MaxAge > 0 && dupes > limits.MaxAge {
		dupes = limits.MaxAge
	}
	retention := jetstream.LimitsPolicy
	if spec.Retention == contracts.RetainWorkQueue {
		retention = jetstream.WorkQueuePolicy
	}
	// -1 is the server's "no limit"; sending it keeps the comparison with
	// the stored configuration exact.
	maxBytes := int64(-1)
	if limits.MaxBytes > 0 {
		maxBytes = limits.MaxBytes
	}
	discard := jetstream.DiscardOld
	if limits.DiscardNew {
		discard = jetstream.DiscardNew
	}
	return jetstream.StreamConfig{
		Name:       spec.Name,
		Subjects:   spec.Subjects,
		Retention:  retention,
		Storage:    opts.Storage,
		Replicas:   replicas,
		MaxAge:     limits.MaxAge,
		MaxBytes:   maxBytes,
		Discard:    discard,
		Duplicates: dupes,
	}
}

// ensureConsumer creates the consumer, or updates it to cfg, on stream.
// Like EnsureStreams it retries while JetStream cannot answer yet (a new
// replicated stream without a leader) or another instance declares the same
// durable at once, until ctx ends or DefaultSetupTimeout passes, logging each
// failed attempt to log (nil discards them).
func ensureConsumer(ctx context.Context, js jetstream.JetStream, stream string, cfg jetstream.ConsumerConfig, log *slog.Logger) (jetstream.Consumer, error) {
	ctx, cancel := withSetupTimeout(ctx, 0)
	defer cancel()
	var c jetstream.Consumer
	err := declare(ctx, loggerOrDiscard(log), "consumer "+stream+"/"+consumerName(cfg), func(ctx context.Context) error {
		var err error
		c, err = js.CreateOrUpdateConsumer(ctx, stream, cfg)
		return err
	})
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
