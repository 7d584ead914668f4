package natsx

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nonefinity/backend/pkg/testkit"
)

func TestConnectReconnectsAfterServerRestartAndNeverLogsCredentials(t *testing.T) {
	srv := testkit.NATS(t)
	logs := newLogSink()
	const password = "s3cret-Pa55"
	// The server has no auth configured, so it accepts any user; what
	// matters is that the password never reaches a log line.
	url := strings.Replace(srv.URL, "nats://", "nats://alice:"+password+"@", 1)

	nc, err := Connect(url, ConnectOptions{Name: "natsx-test", Logger: logs.logger()})
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	logs.waitMsg(t, waitLong, "nats connected")

	srv.Restart(t)
	logs.waitMsg(t, waitLong, "nats disconnected")
	logs.waitMsg(t, waitLong, "nats reconnected")
	if err := nc.Publish("after.restart", nil); err != nil {
		t.Fatalf("publish after reconnect: %v", err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatalf("flush after reconnect: %v", err)
	}

	if err := Drain(nc, 5*time.Second); err != nil {
		t.Fatalf("drain: %v", err)
	}
	if !nc.IsClosed() {
		t.Fatal("connection not closed after Drain")
	}
	logs.waitMsg(t, waitLong, "nats connection closed")
	for _, r := range logs.all() {
		if strings.Contains(r.String(), password) {
			t.Fatalf("log line leaks the password: %s", r)
		}
	}
}

func TestConnectFailsAtStartupWithoutLeakingCredentials(t *testing.T) {
	// A port nobody listens on: the first connect must fail, not hide the
	// outage behind background retries.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	const password = "hunter2-xyz"

	for name, url := range map[string]string{
		"user and password": "nats://bob:" + password + "@127.0.0.1:" + strconv.Itoa(port),
		"token":             "nats://" + password + "@127.0.0.1:" + strconv.Itoa(port),
		"malformed":         "nats://bob:" + password + "%zz@127.0.0.1:" + strconv.Itoa(port),
	} {
		t.Run(name, func(t *testing.T) {
			nc, err := Connect(url, ConnectOptions{Name: "natsx-test"})
			if err == nil {
				nc.Close()
				t.Fatal("connect to a closed port succeeded")
			}
			if strings.Contains(err.Error(), password) {
				t.Fatalf("error leaks the password: %v", err)
			}
			t.Logf("error: %v", err)
		})
	}
}

func TestReconnectDelayIsBackedOffJitteredAndCapped(t *testing.T) {
	for attempt := 0; attempt < 50; attempt++ {
		d := reconnectDelay(attempt)
		if d <= 0 || d > reconnectMaxDelay {
			t.Fatalf("attempt %d: delay %s outside (0, %s]", attempt, d, reconnectMaxDelay)
		}
	}
	if d := reconnectDelay(0); d > reconnectBaseDelay {
		t.Fatalf("first delay %s above base %s", d, reconnectBaseDelay)
	}
	if d := reconnectDelay(30); d < reconnectMaxDelay/2 {
		t.Fatalf("late delay %s below half the cap", d)
	}
}
