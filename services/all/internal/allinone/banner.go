package allinone

import (
	"fmt"
	"io"
	"net"
	"time"
)

// printBanner tells a newcomer, once, where things are. devAuth says whether
// the gateway mints its own tokens (APP_ENV=dev without CLERK_ISSUER).
func printBanner(w io.Writer, httpAddr, dataDir string, took time.Duration, devAuth bool) {
	host, port, _ := net.SplitHostPort(httpAddr)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	base := "http://" + net.JoinHostPort(host, port)
	fmt.Fprintf(w, "\nNonefinity is running (started in %s), data under %s\n", took.Round(time.Millisecond), dataDir)
	fmt.Fprintf(w, "  API      %s/api/v1\n", base)
	fmt.Fprintf(w, "  docs     %s/docs   (OpenAPI: %s/openapi.json)\n", base, base)
	fmt.Fprintf(w, "  health   %s/health   ready %s/ready   metrics %s/metrics\n", base, base, base)
	if devAuth {
		fmt.Fprintf(w, "  dev token: curl '%s/api/v1/auth/create-token?clerk_id=user_1'   (add &role=admin for an admin)\n", base)
		fmt.Fprintf(w, "             then send it as 'Authorization: Bearer <token>', e.g. to %s/api/v1/auth/me\n", base)
	}
	fmt.Fprintln(w, "Stop with Ctrl-C.")
	fmt.Fprintln(w)
}
