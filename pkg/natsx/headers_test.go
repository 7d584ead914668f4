package natsx

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/pkg/reqctx"
)

func TestHeadersRoundTrip(t *testing.T) {
	meta := reqctx.Meta{UserID: "u1", Role: contracts.RoleAdmin, RequestID: "r1", Traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
	deadline := time.Now().Add(7 * time.Second).Round(0)
	ctx, cancel := context.WithDeadline(reqctx.With(context.Background(), meta), deadline)
	defer cancel()

	h := nats.Header{}
	InjectHeaders(ctx, h)
	if got := h.Get(contracts.HeaderDeadline); got != deadline.UTC().Format(time.RFC3339Nano) {
		t.Fatalf("deadline header = %q", got)
	}

	got, cancel2 := ContextFromHeaders(context.Background(), h)
	defer cancel2()
	if reqctx.From(got) != meta {
		t.Fatalf("meta = %+v, want %+v", reqctx.From(got), meta)
	}
	d, ok := got.Deadline()
	if !ok || !d.Equal(deadline) {
		t.Fatalf("deadline = %v (%v), want %v", d, ok, deadline)
	}
}

func TestInjectHeadersLeavesOutEmptyValues(t *testing.T) {
	h := nats.Header{}
	InjectHeaders(reqctx.With(context.Background(), reqctx.Meta{UserID: "u1"}), h)
	if len(h) != 1 || h.Get(contracts.HeaderUserID) != "u1" {
		t.Fatalf("headers = %v, want only the user id", h)
	}
}

func TestDeadlineFromHeaders(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	header := func(v string) nats.Header { return nats.Header{contracts.HeaderDeadline: {v}} }
	tests := []struct {
		name string
		h    nats.Header
		want time.Time
	}{
		{"absent uses the default", nats.Header{}, now.Add(DefaultRequestTimeout)},
		{"nil header uses the default", nil, now.Add(DefaultRequestTimeout)},
		{"malformed uses the default", header("tomorrow"), now.Add(DefaultRequestTimeout)},
		{"near deadline kept", header(now.Add(3 * time.Second).Format(time.RFC3339Nano)), now.Add(3 * time.Second)},
		{"past deadline kept", header(now.Add(-time.Second).Format(time.RFC3339Nano)), now.Add(-time.Second)},
		{"far deadline capped", header(now.Add(time.Hour).Format(time.RFC3339Nano)), now.Add(MaxRequestTimeout)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := deadlineFromHeaders(tt.h, now); !got.Equal(tt.want) {
				t.Fatalf("deadline = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestContextFromHeadersPastDeadlineIsDone(t *testing.T) {
	h := nats.Header{contracts.HeaderDeadline: {time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano)}}
	ctx, cancel := ContextFromHeaders(context.Background(), h)
	defer cancel()
	if ctx.Err() == nil {
		t.Fatal("context of an expired request is not done")
	}
}
