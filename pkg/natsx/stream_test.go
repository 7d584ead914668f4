package natsx

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/reqctx"
	"github.com/nonefinity/backend/pkg/testkit"
)

func TestEnsureStreamsIsIdempotent(t *testing.T) {
	js := testkit.NATS(t).JetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()

	for i := range 2 {
		if err := EnsureStreams(ctx, js, contracts.Streams(), StreamOptions{}); err != nil {
			t.Fatalf("ensure streams (call %d): %v", i+1, err)
		}
	}
	for _, spec := range contracts.Streams() {
		s, err := js.Stream(ctx, spec.Name)
		if err != nil {
			t.Fatalf("stream %s: %v", spec.Name, err)
		}
		cfg := s.CachedInfo().Config
		wantRetention := jetstream.LimitsPolicy
		if spec.Retention == contracts.RetainWorkQueue {
			wantRetention = jetstream.WorkQueuePolicy
		}
		if cfg.Retention != wantRetention || cfg.Storage != jetstream.FileStorage || cfg.Replicas != 1 ||
			cfg.Duplicates != DefaultDuplicateWindow || strings.Join(cfg.Subjects, ",") != strings.Join(spec.Subjects, ",") ||
			cfg.MaxAge != 0 || cfg.MaxBytes != -1 || cfg.Discard != jetstream.DiscardOld {
			t.Fatalf("stream %s config = %+v", spec.Name, cfg)
		}
	}

	// A changed limit is applied to the existing stream.
	limits := map[string]StreamLimits{contracts.StreamFiles: {MaxAge: time.Hour}}
	if err := EnsureStreams(ctx, js, contracts.Streams(), StreamOptions{Limits: limits, Duplicates: 5 * time.Minute}); err != nil {
		t.Fatalf("ensure streams with new limits: %v", err)
	}
	s, err := js.Stream(ctx, contracts.StreamFiles)
	if err != nil {
		t.Fatal(err)
	}
	if cfg := s.CachedInfo().Config; cfg.MaxAge != time.Hour || cfg.Duplicates != 5*time.Minute {
		t.Fatalf("updated config = MaxAge %s Duplicates %s", cfg.MaxAge, cfg.Duplicates)
	}

	// Retention cannot change under existing data; the error names the stream.
	changed := []contracts.StreamSpec{{Name: contracts.StreamJobs, Subjects: contracts.Streams()[3].Subjects, Retention: contracts.RetainLimits}}
	if err := EnsureStreams(ctx, js, changed, StreamOptions{}); err == nil || !strings.Contains(err.Error(), contracts.StreamJobs) {
		t.Fatalf("changing retention: error = %v, want a refusal naming %s", err, contracts.StreamJobs)
	}
}

func TestEnsureConsumerIsIdempotent(t *testing.T) {
	js := testkit.NATS(t).JetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	if err := EnsureStreams(ctx, js, contracts.Streams(), StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg := jetstream.ConsumerConfig{Durable: contracts.DurableFileProcess, FilterSubject: contracts.EventFilter(contracts.DomainFile, contracts.EventUploaded), AckPolicy: jetstream.AckExplicitPolicy}
	for i := range 2 {
		c, err := ensureConsumer(ctx, js, contracts.StreamFiles, cfg, nil)
		if err != nil {
			t.Fatalf("ensure consumer (call %d): %v", i+1, err)
		}
		if got := c.CachedInfo().Config.FilterSubject; got != cfg.FilterSubject {
			t.Fatalf("filter = %q", got)
		}
	}
	cfg.AckWait = time.Minute
	c, err := ensureConsumer(ctx, js, contracts.StreamFiles, cfg, nil)
	if err != nil || c.CachedInfo().Config.AckWait != time.Minute {
		t.Fatalf("update consumer: %v", err)
	}
}

type fileUploaded struct {
	FileID string `json:"file_id"`
}

func TestPublishDeduplicatesAndCarriesMetadata(t *testing.T) {
	js := testkit.NATS(t).JetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	if err := EnsureStreams(ctx, js, contracts.Streams(), StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	subject := contracts.EventSubject(contracts.DomainFile, contracts.EventUploaded, "user-1")
	pctx := reqctx.With(ctx, reqctx.Meta{UserID: "user-1", RequestID: "req-7"})

	for range 2 {
		if err := Publish(pctx, js, subject, "file.uploaded.f1", fileUploaded{FileID: "f1"}); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	if err := Publish(pctx, js, subject, "file.uploaded.f2", fileUploaded{FileID: "f2"}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	s, err := js.Stream(ctx, contracts.StreamFiles)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Fatalf("stream holds %d messages, want 2 (the repeated id stored once)", info.State.Msgs)
	}
	first, err := s.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	h := first.Header
	if string(first.Data) != `{"file_id":"f1"}` || h.Get(contracts.HeaderMsgID) != "file.uploaded.f1" ||
		h.Get(contracts.HeaderUserID) != "user-1" || h.Get(contracts.HeaderRequestID) != "req-7" {
		t.Fatalf("stored message = %s %v", first.Data, h)
	}
	if h.Get(contracts.HeaderDeadline) != "" {
		t.Fatalf("the publishing request's deadline was stored with the event: %v", h)
	}
}

func TestPublishFailures(t *testing.T) {
	js := testkit.NATS(t).JetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()

	if err := Publish(ctx, js, "evt.file.v1.uploaded.u1", "", fileUploaded{}); err == nil {
		t.Fatal("publish without a message id succeeded")
	}
	// No stream captures the subject: nobody acknowledges.
	err := Publish(ctx, js, "nostream.subject", "id-1", fileUploaded{})
	re, ok := rpcerr.As(err)
	if !ok || re.Code != rpcerr.Unavailable {
		t.Fatalf("publish without a stream: %v, want unavailable", err)
	}
	if !errors.Is(err, jetstream.ErrNoStreamResponse) {
		t.Fatalf("error %v does not keep its cause", err)
	}
}
