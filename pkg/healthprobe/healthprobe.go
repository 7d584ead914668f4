// Package healthprobe is the `healthcheck` subcommand of the service
// binaries. Their images have neither a shell nor curl (distroless), so a
// container health check runs the binary itself: it asks the running
// process's GET /health over loopback and exits 0 when that answers 200.
package healthprobe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

// Command is the argument that turns a service binary into its probe.
const Command = "healthcheck"

// timeout stays under the compose health check's own (5s), so a hanging
// process is reported by this probe rather than killed by Docker.
const timeout = 4 * time.Second

// Requested reports whether the process was started as `<binary> healthcheck`.
func Requested(args []string) bool { return len(args) == 2 && args[1] == Command }

// URL is the /health URL of a process listening on listen (host:port, as
// OPS_ADDR or the gateway's address). The probe runs next to the process, so
// an unspecified host (":9091", "0.0.0.0", "[::]") is asked on 127.0.0.1.
func URL(listen string) (string, error) {
	if listen == "" {
		return "", errors.New("no address serves /health here (set OPS_ADDR)")
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil || port == "" || port == "0" {
		return "", fmt.Errorf("cannot ask /health on %q: want host:port", listen)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/health", nil
}

// Check asks url once; anything but a 200 within the deadline is an error.
func Check(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return nil
}

// Main is the subcommand for a command's main: listen is where the process
// serves /health and loadErr the error of loading the configuration that
// names it. It prints one line on failure and returns the exit code.
func Main(listen string, loadErr error) int {
	err := loadErr
	if err == nil {
		var url string
		if url, err = URL(listen); err == nil {
			err = Check(context.Background(), url)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		return 1
	}
	return 0
}
