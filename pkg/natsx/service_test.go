package natsx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/nonefinity/backend/contracts"
	contractsclient "github.com/nonefinity/backend/contracts/client"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/reqctx"
	"github.com/nonefinity/backend/pkg/testkit"
)

// The gateway's typed clients send through a *Client.
var _ contractsclient.Requester = (*Client)(nil)

type echoReq struct {
	Text string `json:"text"`
}

type echoResp struct {
	Text      string    `json:"text"`
	UserID    string    `json:"user_id"`
	Role      string    `json:"role"`
	RequestID string    `json:"request_id"`
	Deadline  time.Time `json:"deadline"`
}

// testService starts a micro service "natsx-test" on its own connection and
// returns a client on another connection, as the gateway and a service are.
func testService(t *testing.T, srv *testkit.NATSServer, logs *logSink) (*Service, *Client) {
	t.Helper()
	svc, err := NewService(srv.Conn(t), ServiceConfig{Name: "natsx-test", Version: "1.2.3", Description: "natsx tests"}, logs.logger())
	if err != nil {
		t.Fatalf("new service: %v", err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	return svc, NewClient(srv.Conn(t))
}

func mustHandle[Req, Resp any](t *testing.T, s *Service, subject string, fn func(context.Context, Req) (Resp, error), opts ...EndpointOption) {
	t.Helper()
	// A test's own description, when given, comes later and wins.
	opts = append([]EndpointOption{WithDescription("test endpoint " + subject)}, opts...)
	if err := Handle(s, subject, fn, opts...); err != nil {
		t.Fatalf("handle %s: %v", subject, err)
	}
}

func echo(ctx context.Context, req echoReq) (echoResp, error) {
	m := reqctx.From(ctx)
	d, _ := ctx.Deadline()
	return echoResp{Text: req.Text, UserID: m.UserID, Role: m.Role, RequestID: m.RequestID, Deadline: d}, nil
}

func TestEndpointRoundTripCarriesMetadataAndDeadline(t *testing.T) {
	srv := testkit.NATS(t)
	svc, client := testService(t, srv, newLogSink())
	mustHandle(t, svc, "svc.natsxtest.v1.echo", echo, WithDescription("echoes the text"))

	deadline := time.Now().Add(4 * time.Second)
	ctx, cancel := context.WithDeadline(reqctx.With(context.Background(), reqctx.Meta{UserID: "user-1", Role: contracts.RoleUser, RequestID: "req-1"}), deadline)
	defer cancel()

	resp, err := Call[echoResp](ctx, client, "svc.natsxtest.v1.echo", echoReq{Text: "hello"})
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	want := echoResp{Text: "hello", UserID: "user-1", Role: contracts.RoleUser, RequestID: "req-1", Deadline: deadline}
	if resp.Text != want.Text || resp.UserID != want.UserID || resp.Role != want.Role || resp.RequestID != want.RequestID {
		t.Fatalf("reply = %+v, want %+v", resp, want)
	}
	if !resp.Deadline.Equal(deadline) {
		t.Fatalf("handler deadline = %v, want the caller's %v", resp.Deadline, deadline)
	}
}

func TestEndpointWithoutCallerDeadlineGetsClientDefault(t *testing.T) {
	srv := testkit.NATS(t)
	svc, client := testService(t, srv, newLogSink())
	mustHandle(t, svc, "svc.natsxtest.v1.echo", echo)

	client.DefaultTimeout = 3 * time.Second
	before := time.Now()
	resp, err := Call[echoResp](context.Background(), client, "svc.natsxtest.v1.echo", nil)
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	if resp.Text != "" {
		t.Fatalf("empty body decoded to %+v, want the zero request", resp)
	}
	if resp.Deadline.Before(before.Add(3*time.Second)) || resp.Deadline.After(time.Now().Add(3*time.Second)) {
		t.Fatalf("handler deadline %v is not the client's 3s default", resp.Deadline)
	}
}

func TestServiceIsVisibleToMicroDiscovery(t *testing.T) {
	srv := testkit.NATS(t)
	svc, client := testService(t, srv, newLogSink())
	mustHandle(t, svc, "svc.natsxtest.v1.echo", echo, WithDescription("echoes the text"))

	// What `nats micro info natsx-test` asks.
	subject, err := micro.ControlSubject(micro.InfoVerb, "natsx-test", "")
	if err != nil {
		t.Fatal(err)
	}
	reply, err := client.nc.Request(subject, nil, 5*time.Second)
	if err != nil {
		t.Fatalf("micro info: %v", err)
	}
	var info micro.Info
	if err := json.Unmarshal(reply.Data, &info); err != nil {
		t.Fatalf("decode info: %v", err)
	}
	if info.Name != "natsx-test" || info.Version != "1.2.3" || info.Description != "natsx tests" || len(info.Endpoints) != 1 {
		t.Fatalf("info = %+v", info)
	}
	ep := info.Endpoints[0]
	if ep.Name != "echo" || ep.Subject != "svc.natsxtest.v1.echo" || ep.QueueGroup != "natsx-test" || ep.Metadata["description"] != "echoes the text" {
		t.Fatalf("endpoint = %+v", ep)
	}
	if got := svc.Info().Endpoints; len(got) != 1 || got[0].Subject != ep.Subject {
		t.Fatalf("Service.Info endpoints = %+v", got)
	}
}

func TestEndpointErrorsReachTheCaller(t *testing.T) {
	srv := testkit.NATS(t)
	logs := newLogSink()
	svc, client := testService(t, srv, logs)
	const secret = "db-password=hunter2"
	mustHandle(t, svc, "svc.natsxtest.v1.validate", func(context.Context, echoReq) (echoResp, error) {
		return echoResp{}, rpcerr.Field(rpcerr.Validation, "text", "text is required")
	})
	mustHandle(t, svc, "svc.natsxtest.v1.find", func(context.Context, echoReq) (echoResp, error) {
		return echoResp{}, fmt.Errorf("find: %w", rpcerr.NotFoundf("file not found"))
	})
	mustHandle(t, svc, "svc.natsxtest.v1.broken", func(context.Context, echoReq) (echoResp, error) {
		return echoResp{}, errors.New("query failed: " + secret)
	})
	mustHandle(t, svc, "svc.natsxtest.v1.panics", func(context.Context, echoReq) (echoResp, error) {
		panic("boom: " + secret)
	})
	ctx := reqctx.With(context.Background(), reqctx.Meta{RequestID: "req-42"})

	t.Run("rpcerr is returned as sent", func(t *testing.T) {
		err := client.Request(ctx, "svc.natsxtest.v1.validate", echoReq{}, nil)
		re, ok := rpcerr.As(err)
		if !ok {
			t.Fatalf("error %v is not an *rpcerr.Error", err)
		}
		want := rpcerr.Error{Code: rpcerr.Validation, Message: "text is required", Field: "text"}
		if *re != want || re.HTTPStatus() != http.StatusUnprocessableEntity {
			t.Fatalf("error = %+v (status %d), want %+v (422)", *re, re.HTTPStatus(), want)
		}
	})
	t.Run("wrapped rpcerr is unwrapped", func(t *testing.T) {
		err := client.Request(ctx, "svc.natsxtest.v1.find", echoReq{}, nil)
		re, ok := rpcerr.As(err)
		if !ok || re.Code != rpcerr.NotFound || re.Message != "file not found" {
			t.Fatalf("error = %v, want not_found", err)
		}
	})
	for _, op := range []string{"broken", "panics"} {
		t.Run(op+" is a generic internal error", func(t *testing.T) {
			err := client.Request(ctx, "svc.natsxtest.v1."+op, echoReq{}, nil)
			re, ok := rpcerr.As(err)
			if !ok || re.Code != rpcerr.Internal || re.Message != "internal error" || re.ErrorID == "" || re.HTTPStatus() != http.StatusInternalServerError {
				t.Fatalf("error = %#v, want internal with an error id", err)
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(string(re.Body()), "hunter2") {
				t.Fatalf("reply leaks the raw error: %v", err)
			}
			// Logged once, at error level, with the id and request id the
			// caller can quote, and the real cause.
			var lines []logRecord
			for _, r := range logs.all() {
				if r.Attrs["error_id"] == re.ErrorID {
					lines = append(lines, r)
				}
			}
			if len(lines) != 1 {
				t.Fatalf("%d log lines carry error id %s, want 1: %v", len(lines), re.ErrorID, logs.all())
			}
			if l := lines[0]; l.Level != slog.LevelError || l.Attrs["request_id"] != "req-42" || !strings.Contains(l.Attrs["error"], secret) {
				t.Fatalf("log line = %v", l)
			}
		})
	}
	t.Run("malformed body is a bad request", func(t *testing.T) {
		reply, err := client.nc.RequestMsg(&nats.Msg{Subject: "svc.natsxtest.v1.validate", Data: []byte(`{"text":`)}, 5*time.Second)
		if err != nil {
			t.Fatalf("request: %v", err)
		}
		re := rpcerr.FromMicro(reply.Header, reply.Data)
		if re == nil || re.Code != rpcerr.BadRequest || re.Message != "invalid request body" || reply.Header.Get(micro.ErrorCodeHeader) != "400" {
			t.Fatalf("reply = %v %s, want bad_request", reply.Header, reply.Data)
		}
	})
	t.Run("micro stats count the errors", func(t *testing.T) {
		subject, _ := micro.ControlSubject(micro.StatsVerb, "natsx-test", "")
		// micro counts a request after its handler returned, which can be
		// after the caller already has the reply: ask until it is counted.
		var broken *micro.EndpointStats
		for deadline := time.Now().Add(5 * time.Second); ; {
			reply, err := client.nc.Request(subject, nil, 5*time.Second)
			if err != nil {
				t.Fatalf("micro stats: %v", err)
			}
			var stats micro.Stats
			if err := json.Unmarshal(reply.Data, &stats); err != nil {
				t.Fatal(err)
			}
			broken = nil
			for _, ep := range stats.Endpoints {
				if ep.Name == "broken" {
					broken = ep
				}
			}
			if broken != nil && broken.NumRequests > 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		if broken == nil || broken.NumRequests != 1 || broken.NumErrors != 1 {
			t.Fatalf("stats of broken = %+v, want 1 request, 1 error", broken)
		}
	})
}

func TestRequestWithoutResponderIsUnavailableAtOnce(t *testing.T) {
	srv := testkit.NATS(t)
	client := NewClient(srv.Conn(t))
	// A long deadline: only an immediate no-responders answer can produce
	// the "unavailable" message; waiting it out would say "did not answer".
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	err := client.Request(ctx, contracts.RequestSubject("credential", "create"), echoReq{}, nil)
	re, ok := rpcerr.As(err)
	if !ok || re.Code != rpcerr.Unavailable || re.Message != "credential service unavailable" || re.HTTPStatus() != http.StatusServiceUnavailable {
		t.Fatalf("error = %v, want unavailable", err)
	}
	if !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("error %v does not keep its cause", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the request waited for the whole deadline")
	}
}

func TestSlowHandlerIsUnavailableAtCallerDeadline(t *testing.T) {
	srv := testkit.NATS(t)
	logs := newLogSink()
	svc, client := testService(t, srv, logs)
	handlerDone := make(chan error, 1)
	mustHandle(t, svc, "svc.natsxtest.v1.slow", func(ctx context.Context, _ echoReq) (echoResp, error) {
		// Works until the caller's deadline, which travelled in headers.
		<-ctx.Done()
		handlerDone <- ctx.Err()
		return echoResp{Text: "too late"}, nil
	})

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := client.Request(ctx, "svc.natsxtest.v1.slow", echoReq{}, nil)
	re, ok := rpcerr.As(err)
	if !ok || re.Code != rpcerr.Unavailable || re.Message != "natsxtest service did not answer in time" {
		t.Fatalf("error = %v, want unavailable (did not answer in time)", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v does not keep its cause", err)
	}
	if herr := recv(t, handlerDone, waitLong, "handler to see the deadline"); !errors.Is(herr, context.DeadlineExceeded) {
		t.Fatalf("handler context ended with %v, want deadline exceeded", herr)
	}
	logs.waitMsg(t, waitLong, "reply dropped: caller's deadline passed while handling")
}

func TestConcurrentEndpointHandlesRequestsInParallel(t *testing.T) {
	srv := testkit.NATS(t)
	svc, client := testService(t, srv, newLogSink())
	started := make(chan struct{}, 2)
	release := make(chan struct{})
	mustHandle(t, svc, "svc.natsxtest.v1.parallel", func(ctx context.Context, req echoReq) (echoResp, error) {
		started <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
			return echoResp{}, ctx.Err()
		}
		return echoResp{Text: req.Text}, nil
	}, WithConcurrency(2))

	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	results := make(chan error, 2)
	for _, text := range []string{"a", "b"} {
		go func() {
			resp, err := Call[echoResp](ctx, client, "svc.natsxtest.v1.parallel", echoReq{Text: text})
			if err == nil && resp.Text != text {
				err = fmt.Errorf("reply %q for request %q", resp.Text, text)
			}
			results <- err
		}()
	}
	// Both requests are inside the handler at the same time; with one at a
	// time the second would never start.
	recv(t, started, waitLong, "first request to start")
	recv(t, started, waitLong, "second request to start while the first runs")
	close(release)
	for range 2 {
		if err := recv(t, results, waitLong, "reply"); err != nil {
			t.Fatalf("call: %v", err)
		}
	}
}

func TestServiceStopWaitsForRunningRequest(t *testing.T) {
	srv := testkit.NATS(t)
	svc, client := testService(t, srv, newLogSink())
	for _, c := range []int{1, 3} {
		started := make(chan struct{})
		release := make(chan struct{})
		var finished atomic.Bool
		subject := fmt.Sprintf("svc.natsxtest.v1.hold%d", c)
		mustHandle(t, svc, subject, func(context.Context, echoReq) (echoResp, error) {
			close(started)
			<-release
			finished.Store(true)
			return echoResp{Text: "done"}, nil
		}, WithConcurrency(c))

		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		reply := make(chan error, 1)
		go func() {
			resp, err := Call[echoResp](ctx, client, subject, echoReq{})
			if err == nil && resp.Text != "done" {
				err = fmt.Errorf("reply %+v", resp)
			}
			reply <- err
		}()
		recv(t, started, waitLong, fmt.Sprintf("concurrency %d: request to start", c))

		stopped := make(chan error, 1)
		go func() { stopped <- svc.Stop() }()
		close(release)
		if err := recv(t, stopped, waitLong, "Stop to return"); err != nil {
			t.Fatalf("stop: %v", err)
		}
		if !finished.Load() {
			t.Fatalf("concurrency %d: Stop returned while a request was still being handled", c)
		}
		if err := recv(t, reply, waitLong, "reply"); err != nil {
			t.Fatalf("concurrency %d: in-flight request not answered: %v", c, err)
		}
		svc, client = testService(t, srv, newLogSink())
	}
}

// A reply the server would refuse (over its payload limit) is answered at
// once with a too-large error, never left for the caller to time out.
func TestOversizedReplyIsTooLargeAtOnce(t *testing.T) {
	srv := testkit.NATS(t)
	logs := newLogSink()
	svc, client := testService(t, srv, logs)
	mustHandle(t, svc, "svc.natsxtest.v1.huge", func(ctx context.Context, req echoReq) (echoResp, error) {
		return echoResp{Text: strings.Repeat("x", 2<<20)}, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := client.Request(ctx, "svc.natsxtest.v1.huge", echoReq{}, nil)
	re, ok := rpcerr.As(err)
	if !ok || re.Code != rpcerr.TooLarge || !strings.Contains(re.Message, "more than one message may carry") {
		t.Fatalf("error = %v, want too_large", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the caller waited for its deadline")
	}
	logs.waitMsg(t, waitLong, "reply over the message size limit")
}
