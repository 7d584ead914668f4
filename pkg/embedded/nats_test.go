package embedded_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/nonefinity/backend/pkg/embedded"
	"github.com/nonefinity/backend/pkg/testkit"
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

// With a token the server refuses every client that does not present it:
// nats.go without or with a wrong token, and a raw TCP client speaking the
// protocol by hand.
func TestStartNATSWithTokenRefusesOtherClients(t *testing.T) {
	const token = "per-run-secret-0123456789"
	srv, err := embedded.StartNATS(embedded.NATSOptions{Dir: t.TempDir(), Token: token})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	defer srv.Shutdown()
	if strings.Contains(srv.ClientURL(), token) {
		t.Fatalf("ClientURL %q carries the token", srv.ClientURL())
	}
	for name, url := range map[string]string{
		"no token":    srv.ClientURL(),
		"wrong token": strings.Replace(srv.ClientURLWithToken(), token, "guess", 1),
	} {
		if nc, err := nats.Connect(url, nats.MaxReconnects(0)); err == nil {
			nc.Close()
			t.Errorf("%s: connected", name)
		} else if !errors.Is(err, nats.ErrAuthorization) {
			t.Errorf("%s: %v, want an authorization violation", name, err)
		}
	}

	info, reply := testkit.RawNATS(t, strings.TrimPrefix(srv.ClientURL(), "nats://"), "CONNECT {\"verbose\":false}\r\nSUB svc.> 1\r\nPING\r\n")
	if !strings.Contains(info, `"auth_required":true`) || !strings.Contains(reply, "Authorization Violation") {
		t.Fatalf("raw client without the token: INFO %q, reply %q", info, reply)
	}

	nc, err := nats.Connect(srv.ClientURLWithToken())
	if err != nil {
		t.Fatalf("connect with the token: %v", err)
	}
	defer nc.Close()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}
