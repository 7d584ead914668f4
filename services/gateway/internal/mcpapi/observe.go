package mcpapi

import (
	"context"
	"slices"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/services/gateway/internal/access"
)

// metrics count MCP calls as the HTTP metrics count requests.
type metrics struct {
	calls    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcp_calls_total",
			Help: "MCP requests answered, by method, tool (tools/call) and outcome (ok, tool_error:<code>, or the protocol error).",
		}, []string{"method", "tool", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mcp_call_duration_seconds",
			Help:    "Time to answer an MCP request, by method and tool (tools/call).",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "tool"}),
	}
	reg.MustRegister(m.calls, m.duration)
	return m
}

// observe logs and counts every MCP request like the HTTP access log: the
// method, the tool, the user, the API key, the time and the outcome; never
// the arguments (a statement's literals are the user's data).
func (s *Server) observe(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		started := time.Now()
		res, err := next(ctx, method, req)
		elapsed := time.Since(started)
		tool := ""
		if call, ok := req.(*mcp.CallToolRequest); ok && call.Params != nil {
			tool = knownTool(call.Params.Name)
		}
		outcome := outcomeOf(res, err)
		s.metrics.calls.WithLabelValues(method, tool, outcome).Inc()
		s.metrics.duration.WithLabelValues(method, tool).Observe(elapsed.Seconds())
		attrs := []any{"method", method, "outcome", outcome, "duration_ms", float64(elapsed.Microseconds()) / 1000,
			"user_id", userID(ctx)}
		if tool != "" {
			attrs = append(attrs, "tool", tool)
		}
		if key := access.From(ctx).KeyID; key != "" {
			attrs = append(attrs, "api_key_id", key)
		}
		s.log.InfoContext(ctx, "mcp call", attrs...)
		return res, err
	}
}

// knownTool keeps the tool label bounded: a name the server does not have
// is "unknown".
func knownTool(name string) string {
	if slices.Contains(toolNames, name) {
		return name
	}
	return "unknown"
}

// outcomeOf is "ok", "tool_error:<code>" for a tool that answered with an
// error (its rpcerr code, or invalid_arguments when the SDK refused the
// arguments), or "error" for a protocol error.
func outcomeOf(res mcp.Result, err error) string {
	if err != nil {
		return "error"
	}
	call, ok := res.(*mcp.CallToolResult)
	if !ok || !call.IsError {
		return "ok"
	}
	if re, ok := rpcerr.As(call.GetError()); ok {
		return "tool_error:" + string(re.Code)
	}
	return "tool_error:invalid_arguments"
}
