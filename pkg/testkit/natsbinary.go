package testkit

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// NATSBinaryMinVersion is the oldest nats-server the deploy configs are
// checked with: docker-compose.yml runs nats:2.11.
var NATSBinaryMinVersion = [2]int{2, 11}

// NATSBinary is the real nats-server program that `make nats-server` (run by
// `make test` and so by CI) installs under bin/ at the repository root with
// `go install`. The in-process server of NATS is a library build and cannot
// show what the released binary makes of a config file and its flags.
type NATSBinary struct {
	Path string
	// Version is the server's own, e.g. "2.11.17".
	Version string
	// Major and Minor are parsed from Version.
	Major, Minor int
}

var natsVersionLine = regexp.MustCompile(`^nats-server: v?((\d+)\.(\d+)\.\d+\S*)$`)

// FindNATSBinary returns bin/nats-server under RepoRoot. The test fails,
// saying how to install it, when the binary is missing or older than
// NATSBinaryMinVersion; the system's nats-server is never used, since
// distributions ship releases too old for the deploy configs.
func FindNATSBinary(t testing.TB) NATSBinary {
	t.Helper()
	path := filepath.Join(RepoRoot(t), "bin", "nats-server")
	out, err := exec.Command(path, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("testkit: %s --version: %v (%s); install it with `make nats-server` (make test does)", path, err, strings.TrimSpace(string(out)))
	}
	m := natsVersionLine.FindStringSubmatch(strings.TrimSpace(string(out)))
	if m == nil {
		t.Fatalf("testkit: %s --version printed %q, not a version", path, out)
	}
	b := NATSBinary{Path: path, Version: m[1]}
	b.Major, _ = strconv.Atoi(m[2])
	b.Minor, _ = strconv.Atoi(m[3])
	if b.Major < NATSBinaryMinVersion[0] || (b.Major == NATSBinaryMinVersion[0] && b.Minor < NATSBinaryMinVersion[1]) {
		t.Fatalf("testkit: %s is nats-server %s, older than %d.%d; reinstall it with `make nats-server`",
			path, b.Version, NATSBinaryMinVersion[0], NATSBinaryMinVersion[1])
	}
	return b
}

// RepoRoot is the directory holding go.work, found upwards from WorkDir.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir := WorkDir()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("testkit: no go.work above %s", WorkDir())
		}
		dir = parent
	}
}

// NATSProcess is a nats-server program started by StartNATSProcess.
type NATSProcess struct {
	// URL is the client URL, on loopback, without credentials.
	URL string
}

// natsListening is the line a server logs once its client port is open.
var natsListening = regexp.MustCompile(`Listening for client connections on (127\.0\.0\.1:\d+)`)

// StartNATSProcess runs the real nats-server with args (typically "-c" and
// a config file) and exactly the environment env (KEY=value; a config reads
// its secrets from there). It listens on 127.0.0.1 only, on ports the server
// picks (client and, when the config has monitoring, HTTP: command-line flags
// win over the config's ports). The test waits for the server's "ready" log
// line, fails with the server's output when it exits instead, and stops it
// when the test ends.
func StartNATSProcess(t testing.TB, bin NATSBinary, env []string, args ...string) *NATSProcess {
	t.Helper()
	args = append(append([]string{}, args...), "-a", "127.0.0.1", "-p", "-1", "-m", "-1")
	cmd := exec.Command(bin.Path, args...)
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatalf("testkit: nats-server stderr: %v", err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatalf("testkit: start %s: %v", bin.Path, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { stopProcess(t, cmd, exited) })

	type result struct {
		addr string
		err  error
	}
	var (
		mu  sync.Mutex
		log bytes.Buffer
	)
	ready := make(chan result, 1)
	go func() {
		var addr string
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			log.WriteString(line + "\n")
			mu.Unlock()
			if m := natsListening.FindStringSubmatch(line); m != nil {
				addr = m[1]
			}
			if strings.Contains(line, "Server is ready") {
				ready <- result{addr: addr}
				// Keep draining so the server never blocks on a full pipe.
				_, _ = io.Copy(io.Discard, stderr)
				return
			}
		}
		ready <- result{err: errors.New("nats-server closed its log before it was ready")}
	}()
	output := func() string { mu.Lock(); defer mu.Unlock(); return log.String() }

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case r := <-ready:
		if r.err != nil || r.addr == "" {
			<-exited
			t.Fatalf("testkit: nats-server %v did not start (%v, exit: %v):\n%s", args, r.err, waitErr, output())
		}
		return &NATSProcess{URL: "nats://" + r.addr}
	case <-ctx.Done():
		t.Fatalf("testkit: nats-server %v not ready after 30s:\n%s", args, output())
	}
	return nil
}

// stopProcess asks the server to shut down and kills it if it does not.
func stopProcess(t testing.TB, cmd *exec.Cmd, exited <-chan struct{}) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		t.Logf("testkit: nats-server ignored SIGTERM for 10s and was killed")
	}
}

// CheckNATSConfig runs the real nats-server with args and "-t", which makes
// it parse the configuration (including includes and environment variables)
// and exit, and returns what it printed. env is the whole environment.
func CheckNATSConfig(bin NATSBinary, env []string, args ...string) (string, error) {
	cmd := exec.Command(bin.Path, append(append([]string{}, args...), "-t")...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("nats-server %s -t: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}
