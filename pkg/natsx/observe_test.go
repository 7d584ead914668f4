package natsx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/reqctx"
	"github.com/nonefinity/backend/pkg/telemetry"
	"github.com/nonefinity/backend/pkg/testkit"
)

// sample is the value of the series name{labels} in reg: a counter's
// value, a gauge's, or a histogram's observation count.
func sample(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue series
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue(), true
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue(), true
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

// microAsk sends what `nats micro <verb> natsx-test` sends and decodes the
// one answer.
func microAsk[T any](t *testing.T, nc *nats.Conn, verb micro.Verb) T {
	t.Helper()
	subject, err := micro.ControlSubject(verb, "natsx-test", "")
	if err != nil {
		t.Fatal(err)
	}
	reply, err := nc.Request(subject, nil, waitLong)
	if err != nil {
		t.Fatalf("micro %s: %v", verb, err)
	}
	var out T
	if err := json.Unmarshal(reply.Data, &out); err != nil {
		t.Fatalf("decode micro %s: %v\n%s", verb, err, reply.Data)
	}
	return out
}

func endpointStats(t *testing.T, nc *nats.Conn, name string) micro.EndpointStats {
	t.Helper()
	stats := microAsk[micro.Stats](t, nc, micro.StatsVerb)
	for _, ep := range stats.Endpoints {
		if ep.Name == name {
			return *ep
		}
	}
	t.Fatalf("micro stats have no endpoint %s: %+v", name, stats.Endpoints)
	return micro.EndpointStats{}
}

// An endpoint whose requests run on workers (WithConcurrency) shows in
// `nats micro stats` as it is: a request is counted when it is answered,
// with the whole time it took and its error, not when it was handed to a
// worker.
func TestMicroStatsAreTrueForConcurrentEndpoints(t *testing.T) {
	srv := testkit.NATS(t)
	reg := prometheus.NewRegistry()
	svc, err := NewService(srv.Conn(t), ServiceConfig{Name: "natsx-test", Version: "1.2.3", Description: "natsx tests", Metrics: reg}, newLogSink().logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	client := NewClient(srv.Conn(t))
	started, release := make(chan struct{}, 1), make(chan struct{})
	mustHandle(t, svc, "svc.natsxtest.v1.hold", func(ctx context.Context, req echoReq) (echoResp, error) {
		started <- struct{}{}
		<-release
		return echoResp{Text: req.Text}, nil
	}, WithConcurrency(4), WithDescription("waits for the test"))
	mustHandle(t, svc, "svc.natsxtest.v1.fail", func(context.Context, echoReq) (echoResp, error) {
		return echoResp{}, errors.New("disk on fire")
	}, WithConcurrency(4))
	mustHandle(t, svc, "svc.natsxtest.v1.gone", func(context.Context, echoReq) (echoResp, error) {
		return echoResp{}, fmt.Errorf("read: %w", rpcerr.New(rpcerr.Unavailable, "storage unavailable"))
	})

	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	answered := make(chan error, 1)
	go func() {
		_, err := Call[echoResp](ctx, client, "svc.natsxtest.v1.hold", echoReq{Text: "x"})
		answered <- err
	}()
	recv(t, started, waitLong, "request to reach the worker")
	heldSince := time.Now()
	// Handed to a worker but not answered: not counted yet.
	if st := endpointStats(t, client.nc, "hold"); st.NumRequests != 0 {
		t.Fatalf("an unanswered request is counted: %+v", st)
	}
	held := time.Since(heldSince)
	close(release)
	if err := recv(t, answered, waitLong, "reply"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := client.Request(ctx, "svc.natsxtest.v1.fail", echoReq{}, nil); err == nil {
			t.Fatal("fail answered without an error")
		}
	}
	goneErr := client.Request(ctx, "svc.natsxtest.v1.gone", echoReq{}, nil)
	if re, ok := rpcerr.As(goneErr); !ok || re.Code != rpcerr.Unavailable || re.ErrorID == "" {
		t.Fatalf("gone: %v, want unavailable with an error id", goneErr)
	}

	// The reply leaves before the stats are written: ask until they are.
	var hold, fail micro.EndpointStats
	eventually(t, waitLong, "every request counted", func() (bool, string) {
		hold, fail = endpointStats(t, client.nc, "hold"), endpointStats(t, client.nc, "fail")
		return hold.NumRequests == 1 && fail.NumRequests == 2, fmt.Sprintf("hold %+v fail %+v", hold, fail)
	})
	if hold.NumErrors != 0 || hold.ProcessingTime < held || hold.AverageProcessingTime != hold.ProcessingTime {
		t.Errorf("hold stats %+v: want no error and at least the %s the request was held", hold, held)
	}
	if fail.NumErrors != 2 || fail.LastError != "500:internal error" {
		t.Errorf("fail stats %+v, want 2 errors, last 500:internal error", fail)
	}
	if gone := endpointStats(t, client.nc, "gone"); gone.NumErrors != 1 || gone.LastError != "503:storage unavailable" {
		t.Errorf("gone stats %+v", gone)
	}

	// The same outcomes in Prometheus.
	for _, c := range []struct {
		endpoint, code string
		want           float64
	}{{"hold", "ok", 1}, {"fail", "internal", 2}, {"gone", "unavailable", 1}} {
		got, _ := sample(t, reg, MetricRPCRequests, map[string]string{"service": "natsx-test", "endpoint": c.endpoint, "code": c.code})
		if got != c.want {
			t.Errorf("%s{endpoint=%s,code=%s} = %v, want %v", MetricRPCRequests, c.endpoint, c.code, got, c.want)
		}
	}
	if n, _ := sample(t, reg, MetricRPCDuration, map[string]string{"service": "natsx-test", "endpoint": "fail"}); n != 2 {
		t.Errorf("%s count for fail = %v, want 2", MetricRPCDuration, n)
	}
}

// nats micro info shows what each endpoint is for and what it takes and
// answers, and which version, instance and build of the service runs.
func TestMicroInfoDescribesEndpointsAndInstance(t *testing.T) {
	srv := testkit.NATS(t)
	svc, client := testService(t, srv, newLogSink())
	mustHandle(t, svc, "svc.natsxtest.v1.echo", echo, WithDescription("echoes the text"))

	info := microAsk[micro.Info](t, client.nc, micro.InfoVerb)
	if info.Type != micro.InfoResponseType || info.ID == "" || len(info.Endpoints) != 1 {
		t.Fatalf("info = %+v", info)
	}
	md := info.Endpoints[0].Metadata
	if md["description"] != "echoes the text" || md["request_schema"] != "natsx.echoReq" || md["response_schema"] != "natsx.echoResp" {
		t.Errorf("endpoint metadata = %v", md)
	}
	if info.Metadata["version"] != "1.2.3" || !strings.HasSuffix(info.Metadata["instance"], ":"+strconv.Itoa(os.Getpid())) || info.Metadata["build"] == "" {
		t.Errorf("service metadata = %v", info.Metadata)
	}
	ping := microAsk[micro.Ping](t, client.nc, micro.PingVerb)
	if ping.Type != micro.PingResponseType || ping.ID != info.ID || ping.Name != "natsx-test" {
		t.Errorf("ping = %+v", ping)
	}
	// The instance subject answers too ($SRV.INFO.<name>.<id>).
	reply, err := client.nc.Request("$SRV.INFO.natsx-test."+info.ID, nil, waitLong)
	if err != nil || !strings.Contains(string(reply.Data), `"echo"`) {
		t.Fatalf("instance info: %v", err)
	}

	err = Handle(svc, "svc.natsxtest.v1.undescribed", echo)
	if err == nil || !strings.Contains(err.Error(), "description") {
		t.Fatalf("an endpoint without a description was accepted: %v", err)
	}
}

// Every 5xx a service answers reaches Sentry once, under the error id the
// caller got, with the service, subject, trace id and a hashed user id,
// and without the raw user id or any secret in the error.
func TestServiceReports5xxToSentry(t *testing.T) {
	ingest, flush := testkit.Sentry(t, telemetry.SentryOptions{})
	srv := testkit.NATS(t)
	svc, client := testService(t, srv, newLogSink())
	const apiKey = "sk-proj-abcdefghij0123456789"
	mustHandle(t, svc, "svc.natsxtest.v1.broken", func(ctx context.Context, _ echoReq) (echoResp, error) {
		return echoResp{}, errors.New("provider refused key " + apiKey + " for " + reqctx.UserID(ctx))
	})
	mustHandle(t, svc, "svc.natsxtest.v1.invalid", func(context.Context, echoReq) (echoResp, error) {
		return echoResp{}, rpcerr.Invalid("text", "required")
	})
	const (
		userID  = "user-abcdef-123"
		traceID = "0af7651916cd43dd8448eb211c80319c"
	)
	ctx := reqctx.With(context.Background(), reqctx.Meta{UserID: userID, RequestID: "req-5", Traceparent: "00-" + traceID + "-b7ad6b7169203331-01"})
	err := client.Request(ctx, "svc.natsxtest.v1.broken", echoReq{}, nil)
	re, ok := rpcerr.As(err)
	if !ok || re.ErrorID == "" {
		t.Fatalf("broken: %v", err)
	}
	if err := client.Request(ctx, "svc.natsxtest.v1.invalid", echoReq{}, nil); err == nil {
		t.Fatal("invalid answered without an error")
	}
	if !flush(5 * time.Second) {
		t.Fatal("flush timed out")
	}

	ev := ingest.WaitErrorID(t, waitLong, re.ErrorID)
	want := map[string]string{"service": "natsx-test", "subject": "svc.natsxtest.v1.broken", "trace_id": traceID, "request_id": "req-5", "code": "internal"}
	for k, v := range want {
		if ev.Tags[k] != v {
			t.Errorf("tag %s = %q, want %q", k, ev.Tags[k], v)
		}
	}
	if ev.User.ID != telemetry.HashUserID(userID) || ev.TraceID() != traceID {
		t.Errorf("user %q trace %q", ev.User.ID, ev.TraceID())
	}
	for _, leaked := range []string{userID, apiKey} {
		if strings.Contains(string(ev.Raw), leaked) {
			t.Errorf("event carries %q: %s", leaked, ev.Raw)
		}
	}
	// A 4xx is the caller's mistake, not an error of ours.
	if n := len(ingest.Events(t)); n != 1 {
		t.Errorf("%d error events, want 1 (the 5xx only)", n)
	}
}

// A poison message is logged and reported to Sentry under one error id,
// and counted; the consumer's lag is what the server says at scrape time.
func TestPoisonMessageReachesSentryAndMetrics(t *testing.T) {
	ingest, flush := testkit.Sentry(t, telemetry.SentryOptions{})
	env := newConsumeEnv(t)
	reg := prometheus.NewRegistry()
	logs := newLogSink()
	const secret = "api_key=sk-ant-0123456789abcdef"
	startConsumer(t, env.js, ConsumerOptions{Service: "natsx-test", Metrics: reg, Logger: logs.logger()}, func(_ context.Context, d Delivery[job]) error {
		if d.Data.ID == "bad" {
			return Permanent(errors.New("cannot read file with " + secret))
		}
		return nil
	})
	ctx := reqctx.With(context.Background(), reqctx.Meta{UserID: "user-poison-7", Traceparent: "00-11111111111111111111111111111111-2222222222222222-01"})
	env.publish(t, ctx, "ok", job{ID: "ok"})
	env.publish(t, ctx, "bad", job{ID: "bad"})
	env.expectAcks(t, "+ACK", "+TERM")
	line := logs.waitMsg(t, waitLong, "message terminated as poison")
	if !flush(5 * time.Second) {
		t.Fatal("flush timed out")
	}

	ev := ingest.WaitErrorID(t, waitLong, line.Attrs["error_id"])
	if ev.Tags["service"] != "natsx-test" || ev.Tags["subject"] != "natsxtest.job.bad" || ev.Tags["stream"] != testStream ||
		ev.Tags["durable"] != testDurable || ev.Tags["trace_id"] != "11111111111111111111111111111111" {
		t.Errorf("tags = %v", ev.Tags)
	}
	if ev.User.ID != telemetry.HashUserID("user-poison-7") || strings.Contains(string(ev.Raw), "user-poison-7") || strings.Contains(string(ev.Raw), "sk-ant-0123456789abcdef") {
		t.Errorf("event leaks the user or the key: %s", ev.Raw)
	}

	labels := map[string]string{"service": "natsx-test", "stream": testStream, "durable": testDurable}
	for name, want := range map[string]float64{MetricConsumerPoison: 1, MetricConsumerPending: 0, MetricConsumerAckWait: 0} {
		if got, ok := sample(t, reg, name, labels); !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	for outcome, want := range map[string]float64{outcomeAcked: 1, outcomePoison: 1} {
		l := map[string]string{"durable": testDurable, "outcome": outcome}
		if got, _ := sample(t, reg, MetricConsumerHandled, l); got != want {
			t.Errorf("%s{outcome=%s} = %v, want %v", MetricConsumerHandled, outcome, got, want)
		}
	}
}

// Lag counts the messages the consumer has not been handed yet; a
// consumer whose handler is stuck shows it growing.
func TestConsumerLagIsReadFromTheServer(t *testing.T) {
	env := newConsumeEnv(t)
	reg := prometheus.NewRegistry()
	release := make(chan struct{})
	c := startConsumer(t, env.js, ConsumerOptions{Service: "natsx-test", Metrics: reg}, func(context.Context, Delivery[job]) error {
		<-release
		return nil
	})
	for i := range 4 {
		env.publish(t, context.Background(), strconv.Itoa(i), job{ID: strconv.Itoa(i)})
	}
	labels := map[string]string{"durable": testDurable}
	eventually(t, waitLong, "lag of the undelivered messages", func() (bool, string) {
		pending, _ := sample(t, reg, MetricConsumerPending, labels)
		acking, _ := sample(t, reg, MetricConsumerAckWait, labels)
		return pending >= 2 && acking >= 1, fmt.Sprintf("pending %v, ack pending %v", pending, acking)
	})
	close(release)
	env.waitSettled(t)
	if redelivered, _ := sample(t, reg, MetricConsumerRedeliver, labels); redelivered != 0 {
		t.Errorf("redeliveries = %v, want 0", redelivered)
	}
	c.Stop()
	if _, ok := sample(t, reg, MetricConsumerPending, labels); ok {
		t.Error("a stopped consumer still reports its lag")
	}
}
