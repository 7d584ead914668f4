package allinone

import (
	"fmt"
	"io"
	"net"
	"time"
)

// printBanner tells a newcomer, once, where things are.
func printBanner(w io.Writer, httpAddr, dataDir string, took time.Duration) {
	host, port, _ := net.SplitHostPort(httpAddr)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	base := "http://" + net.JoinHostPort(host, port)
	fmt.Fprintf(w, `
Nonefinity is running (started in %s), data under %s
  API      %s/api/v1
  health   %s/health   ready %s/ready   metrics %s/metrics
Stop with Ctrl-C.

`, took.Round(time.Millisecond), dataDir, base, base, base, base)
}
