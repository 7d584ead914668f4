package testkit_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nonefinity/backend/pkg/testkit"
)

func TestNATSJetStreamSurvivesRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	start := time.Now()
	n := testkit.NATS(t)
	t.Logf("nats setup took %s", time.Since(start))

	nc := n.Conn(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name:     "ORDERS",
		Subjects: []string{"orders.>"},
		Storage:  jetstream.FileStorage,
	}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	ack, err := js.Publish(ctx, "orders.new", []byte("first"))
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	if ack.Stream != "ORDERS" || ack.Sequence != 1 {
		t.Fatalf("pub ack = %+v, want stream ORDERS seq 1", ack)
	}

	reconnected := make(chan struct{}, 1)
	nc.SetReconnectHandler(func(*nats.Conn) {
		select {
		case reconnected <- struct{}{}:
		default:
		}
	})
	urlBefore := n.URL
	n.Restart(t)
	if n.URL != urlBefore {
		t.Fatalf("URL changed across restart: %s -> %s", urlBefore, n.URL)
	}
	select {
	case <-reconnected:
	case <-ctx.Done():
		t.Fatal("old connection did not reconnect after restart")
	}
	if !nc.IsConnected() {
		t.Fatal("old connection not connected after reconnect event")
	}

	stream, err := js.Stream(ctx, "ORDERS")
	if err != nil {
		t.Fatalf("stream after restart: %v", err)
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "reader", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatalf("create consumer: %v", err)
	}
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	var got []string
	for msg := range batch.Messages() {
		got = append(got, string(msg.Data()))
		if err := msg.Ack(); err != nil {
			t.Fatalf("ack: %v", err)
		}
	}
	if err := batch.Error(); err != nil {
		t.Fatalf("fetch batch: %v", err)
	}
	if len(got) != 1 || got[0] != "first" {
		t.Fatalf("messages after restart = %q, want [first]", got)
	}
}

func TestNATSServersArePrivatePerTest(t *testing.T) {
	a, b := testkit.NATS(t), testkit.NATS(t)
	if a.URL == b.URL {
		t.Fatalf("two NATS servers share URL %s", a.URL)
	}
	if a.URL == "nats://127.0.0.1:4222" || b.URL == "nats://127.0.0.1:4222" {
		t.Fatal("embedded NATS took the default port 4222")
	}
	subConn := a.Conn(t)
	sub, err := subConn.SubscribeSync("ping")
	if err != nil {
		t.Fatal(err)
	}
	// Another connection publishes: the subscription must reach the server first.
	if err := subConn.Flush(); err != nil {
		t.Fatal(err)
	}
	pub := a.Conn(t)
	if err := pub.Publish("ping", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if msg := testkit.WaitMsg(t, sub, 5*time.Second); string(msg.Data) != "hello" {
		t.Fatalf("got %q, want hello", msg.Data)
	}
}
