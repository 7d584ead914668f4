package testkit

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

// RawNATS speaks the NATS client protocol by hand, as any local process
// could: it connects to addr (host:port), reads the server's INFO line,
// sends proto (e.g. "CONNECT {}\r\nPING\r\n") and returns INFO and the first
// line the server answers. Tests of server authentication use it to show
// what a client without credentials gets, independent of nats.go.
func RawNATS(t testing.TB, addr, proto string) (info, reply string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("testkit: dial nats %s: %v", addr, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	if info, err = r.ReadString('\n'); err != nil {
		t.Fatalf("testkit: read INFO: %v", err)
	}
	if _, err := conn.Write([]byte(proto)); err != nil {
		t.Fatalf("testkit: write: %v", err)
	}
	reply, err = r.ReadString('\n')
	if err != nil && reply == "" {
		t.Fatalf("testkit: read reply: %v", err)
	}
	return strings.TrimSpace(info), strings.TrimSpace(reply)
}
