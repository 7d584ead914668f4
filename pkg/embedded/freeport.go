package embedded

import (
	"fmt"
	"net"
	"time"
)

// freeTCPAddr resolves a "host:0" address to a concrete free port by asking
// the kernel for one and releasing it again. Servers that cannot report the
// port they bound (FerretDB, Versity) need the port up front. The port could
// in theory be taken by someone else before the server binds it; the window
// is tiny and the server start then fails loudly rather than silently.
func freeTCPAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("split address %q: %w", addr, err)
	}
	if port != "0" && port != "" {
		return addr, nil
	}
	if host == "" {
		host = "127.0.0.1"
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", fmt.Errorf("find free port on %s: %w", host, err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitTCP dials addr until it accepts a connection, the server reports a
// failure on failed, or timeout passes.
func waitTCP(addr string, timeout time.Duration, failed <-chan error) error {
	deadline := time.Now().Add(timeout)
	for {
		conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case ferr := <-failed:
			return fmt.Errorf("server on %s stopped before accepting connections: %w", addr, ferr)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server on %s not accepting connections after %s: %w", addr, timeout, err)
		}
		// A short pause between dials; the server is starting in another
		// goroutine and there is no readiness event to wait on.
		select {
		case ferr := <-failed:
			return fmt.Errorf("server on %s stopped before accepting connections: %w", addr, ferr)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
