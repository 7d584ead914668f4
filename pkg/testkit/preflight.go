package testkit

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Preflight is what a browser's CORS preflight got back.
type Preflight struct {
	Status int
	// AllowOrigin is Access-Control-Allow-Origin; empty means the browser
	// refuses the request that was to follow.
	AllowOrigin  string
	AllowMethods string
	AllowHeaders string
	Header       http.Header
}

// SendPreflight sends the OPTIONS request a browser sends before a
// cross-origin request of method to rawURL from origin with the given
// request headers, as Chromium does (lower-case, comma-separated header
// names), and returns the answer.
func SendPreflight(t testing.TB, rawURL, origin, method string, headers ...string) Preflight {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodOptions, rawURL, nil)
	if err != nil {
		t.Fatalf("testkit: preflight %s: %v", rawURL, err)
	}
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", method)
	if len(headers) > 0 {
		req.Header.Set("Access-Control-Request-Headers", strings.ToLower(strings.Join(headers, ",")))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("testkit: preflight %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return Preflight{
		Status:       resp.StatusCode,
		AllowOrigin:  resp.Header.Get("Access-Control-Allow-Origin"),
		AllowMethods: resp.Header.Get("Access-Control-Allow-Methods"),
		AllowHeaders: resp.Header.Get("Access-Control-Allow-Headers"),
		Header:       resp.Header,
	}
}
