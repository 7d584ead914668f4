package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/services/gateway/internal/httpapi"
)

// headerTransport sets one header on every request of the MCP client.
type headerTransport struct{ name, value string }

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(h.name, h.value)
	return http.DefaultTransport.RoundTrip(r)
}

// mcpClient connects the SDK's client to the harness's router, served on
// loopback, with token.
func mcpClient(t *testing.T, h *harness, token string) *mcp.ClientSession {
	t.Helper()
	srv := httptest.NewServer(h.handler)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:   srv.URL + "/mcp",
		HTTPClient: &http.Client{Transport: headerTransport{"Authorization", "Bearer " + token}},
		MaxRetries: -1,
	}, nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

func callQuery(t *testing.T, cs *mcp.ClientSession, sql string) (*mcp.CallToolResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return cs.CallTool(ctx, &mcp.CallToolParams{Name: "query", Arguments: map[string]any{"sql": sql}})
}

func resultText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// A tool call is one service call as the user, logged like an HTTP
// request (tool, user, outcome, request id; never the statement), counted,
// and every MCP message is one request against the user's rate limit.
func TestMCPCallsAreLoggedCountedAndLimited(t *testing.T) {
	var logs bytes.Buffer
	h := newHarness(t, allServices, func(o *httpapi.Options) {
		o.Log = newJSONLogger(&logs)
		o.RateLimiter, o.RateLimit, o.Now = httpapi.NewMemoryRateLimiter(4), 4, fixedClock()
	})
	cs := mcpClient(t, h, userToken) // initialize and its notification: 2 requests
	res, err := callQuery(t, cs, "SELECT 'secret-literal' AS n")
	if err != nil || res.IsError {
		t.Fatalf("query: %v %+v", err, res)
	}
	if got := resultText(res); got != "n:INTEGER\n1\n(1 rows)" {
		t.Fatalf("query text %q", got)
	}
	// As the user, under the request timeout (20 s here), like POST /datasets/query.
	c := h.stubs.lastCall(t, dv1.Subject(dv1.OpQuery))
	if c.Meta.UserID != userAID || c.Meta.RequestID == "" || c.Deadline.IsZero() || time.Until(c.Deadline) > 20*time.Second || !jsonEqual(t, c.Body, `{"query":"SELECT 'secret-literal' AS n"}`) {
		t.Fatalf("service call %+v", c)
	}
	// The handshake took its share; the calls go on until the limit refuses one.
	queries := 1
	for ; queries < 5; queries++ {
		if _, err := callQuery(t, cs, "SELECT 2"); err != nil {
			if !strings.Contains(err.Error(), "Too Many Requests") {
				t.Fatalf("refused call: %v", err)
			}
			break
		}
	}
	if queries == 5 || h.stubs.count(dv1.Subject(dv1.OpQuery)) != queries {
		t.Fatalf("%d queries passed, %d reached the service; the limit is 4 requests", queries, h.stubs.count(dv1.Subject(dv1.OpQuery)))
	}

	var line map[string]any
	for l := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "mcp call" && m["tool"] == "query" {
			line = m
			break
		}
	}
	if line == nil || line["method"] != "tools/call" || line["outcome"] != "ok" || line["user_id"] != userAID ||
		line["request_id"] == nil || line["duration_ms"] == nil {
		t.Fatalf("mcp call log %v in\n%s", line, logs.String())
	}
	if strings.Contains(logs.String(), "secret-literal") || strings.Contains(logs.String(), userToken) {
		t.Errorf("the log holds the statement or the token:\n%s", logs.String())
	}
	metrics := h.do(request{method: "GET", path: "/metrics"}).Body.String()
	for _, want := range []string{
		fmt.Sprintf(`mcp_calls_total{method="tools/call",outcome="ok",tool="query"} %d`, queries),
		fmt.Sprintf(`mcp_call_duration_seconds_count{method="tools/call",tool="query"} %d`, queries),
		`http_requests_total{method="POST",route="/mcp",status="200"} 4`,
		`http_requests_total{method="POST",route="/mcp",status="429"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// A service's 5xx reaches the agent as a generic tool error with an error
// id, never the cause; a 4xx keeps the service's message.
func TestMCPToolErrorsAreTheAPIErrors(t *testing.T) {
	h := newHarness(t, allServices)
	cs := mcpClient(t, h, userToken)
	h.stubs.answer(dv1.Subject(dv1.OpQuery), failWith(rpcerr.New(rpcerr.Internal, "duckdb crashed at /var/secret/path")))
	res, err := callQuery(t, cs, "SELECT 1")
	if err != nil || !res.IsError {
		t.Fatalf("5xx: %v %+v", err, res)
	}
	if got := resultText(res); !strings.HasPrefix(got, "internal: internal error (error id ") || strings.Contains(got, "secret") {
		t.Fatalf("5xx text %q", got)
	}
	h.stubs.answer(dv1.Subject(dv1.OpQuery), failWith(rpcerr.Invalid("query", "only read-only queries are allowed")))
	res, err = callQuery(t, cs, "DROP TABLE sales")
	if err != nil || !res.IsError || resultText(res) != "validation: query: only read-only queries are allowed" {
		t.Fatalf("4xx: %v %q", err, resultText(res))
	}
	// The SDK refuses arguments outside the schema before any call.
	before := h.stubs.count(dv1.Subject(dv1.OpQuery))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "query", Arguments: map[string]any{"sql": "SELECT 1", "extra": true}})
	if err != nil || !res.IsError || h.stubs.count(dv1.Subject(dv1.OpQuery)) != before {
		t.Fatalf("unknown argument: %v %+v", err, res)
	}
}
