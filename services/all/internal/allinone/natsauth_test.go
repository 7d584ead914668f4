package allinone

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/credentialv1"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/pkg/reqctx"
	"github.com/nonefinity/backend/pkg/testkit"
)

// TestEmbeddedNATSRequiresTheRunToken: the all-in-one's NATS listens on
// loopback for tools, and refuses whoever lacks the token made for this run
// (a raw TCP client, nats.go without or with another run's token), so a
// local process cannot ask the credential service for a user's key. The
// token is in the endpoints file, readable by the owner only, and changes
// with every start; the services themselves work (the dev token flow).
func TestEmbeddedNATSRequiresTheRunToken(t *testing.T) {
	dataDir := t.TempDir()
	port := freePort(t)
	first := startChild(t, dataDir, port)
	eps := readEndpoints(t, dataDir)
	checkDevTokenFlow(t, port)
	checkErasureMetrics(t, port)

	st, err := os.Stat(filepath.Join(dataDir, EndpointsFile))
	if err != nil {
		t.Fatal(err)
	}
	if mode := st.Mode().Perm(); mode != 0o600 {
		t.Fatalf("endpoints file mode %o, want 600", mode)
	}
	u, err := url.Parse(eps.NATS)
	if err != nil || u.User == nil || u.User.Username() == "" {
		t.Fatalf("endpoints name NATS without a token: %v", err)
	}
	token := u.User.Username()
	if host := u.Hostname(); !net.ParseIP(host).IsLoopback() {
		t.Fatalf("NATS listens on %s, want loopback", host)
	}
	bare := *u
	bare.User = nil

	// A raw protocol client subscribing to every request and asking the
	// credential service for a key.
	resolve := credentialv1.Subject(credentialv1.OpResolve)
	info, reply := testkit.RawNATS(t, u.Host, "CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB > 1\r\n"+
		"HPUB "+resolve+" _INBOX.x 27 29\r\nNATS/1.0\r\n"+contracts.HeaderUserID+": u\r\n\r\n{}\r\nPING\r\n")
	if !strings.Contains(info, `"auth_required":true`) || !strings.Contains(reply, "Authorization Violation") {
		t.Fatalf("raw client without the token: INFO %q, reply %q", info, reply)
	}

	for name, server := range map[string]string{
		"no token":    bare.String(),
		"wrong token": strings.Replace(eps.NATS, token, token[:len(token)-1]+"x", 1),
	} {
		nc, err := nats.Connect(server, nats.MaxReconnects(0))
		if err == nil {
			nc.Close()
			t.Fatalf("%s: connected", name)
		}
		if !errors.Is(err, nats.ErrAuthorization) {
			t.Fatalf("%s: %v, want an authorization violation", name, err)
		}
	}

	// With the token (the operator's tools) the services answer.
	nc, err := natsx.Connect(eps.NATS, natsx.ConnectOptions{Name: "test-tool"})
	if err != nil {
		t.Fatalf("connect with the run's token: %v", err)
	}
	ctx, cancel := context.WithTimeout(reqctx.With(context.Background(), reqctx.Meta{UserID: "65f2a1b3c4d5e6f708192c0a"}), 10*time.Second)
	defer cancel()
	if _, err := natsx.Call[credentialv1.ListReply](ctx, natsx.NewClient(nc), credentialv1.Subject(credentialv1.OpList), credentialv1.ListRequest{}); err != nil {
		t.Fatalf("list credentials with the token: %v", err)
	}
	nc.Close()
	stopChild(t, first)

	// The next run has another token; the old one is refused.
	startChild(t, dataDir, port)
	next := readEndpoints(t, dataDir)
	if next.NATS == eps.NATS {
		t.Fatal("the NATS token did not change across runs")
	}
	old := strings.Replace(eps.NATS, u.Host, mustHost(t, next.NATS), 1)
	if nc, err := nats.Connect(old, nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Fatal("the previous run's token still connects")
	}
}

func mustHost(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// checkErasureMetrics: the process has one metrics registry, so the
// gateway's /metrics shows each service's erasure counters.
func checkErasureMetrics(t *testing.T, port int) {
	t.Helper()
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	for _, svc := range []string{"credential", "fileingest", "datasetquery"} {
		if want := `nonefinity_erasure_failures_total{service="` + svc + `"} 0`; !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
