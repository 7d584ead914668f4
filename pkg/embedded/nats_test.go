package embedded_test

import (
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/nonefinity/backend/pkg/embedded"
)

func TestStartNATSServesClientsOnRandomPort(t *testing.T) {
	srv, err := embedded.StartNATS(embedded.NATSOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	defer srv.Shutdown()
	if srv.Port() == 0 || srv.Port() == 4222 {
		t.Fatalf("port = %d, want a random free port", srv.Port())
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer nc.Close()
	if _, err := nc.JetStream(); err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	if !nc.HeadersSupported() {
		t.Fatal("server does not support headers")
	}
}

func TestStartNATSRejectsRelativeDir(t *testing.T) {
	if _, err := embedded.StartNATS(embedded.NATSOptions{Dir: "js"}); err == nil {
		t.Fatal("StartNATS accepted a relative store directory")
	}
}
