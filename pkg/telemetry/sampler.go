package telemetry

import (
	"strings"

	"github.com/getsentry/sentry-go"
)

// healthPaths are polled by load balancers and Prometheus every few
// seconds; tracing them would drown real traffic and spend the quota.
var healthPaths = map[string]bool{"/health": true, "/ready": true, "/metrics": true}

// IsHealthPath reports whether an HTTP path is a health, readiness or
// metrics route (a trailing "/" and a query string are ignored).
func IsHealthPath(path string) bool {
	path, _, _ = strings.Cut(path, "?")
	if len(path) > 1 {
		path = strings.TrimSuffix(path, "/")
	}
	return healthPaths[path]
}

// TracesSampler samples transactions at rate, except health routes (never)
// and transactions continuing an upstream trace, which keep the upstream
// decision so a trace is either whole or absent.
func TracesSampler(rate float64) sentry.TracesSampler {
	return func(ctx sentry.SamplingContext) float64 {
		if ctx.Span != nil && IsHealthPath(routeOf(ctx.Span.Name)) {
			return 0
		}
		switch ctx.ParentSampled {
		case sentry.SampledTrue:
			return 1
		case sentry.SampledFalse:
			return 0
		}
		return rate
	}
}

// routeOf extracts the path from a transaction name such as "GET /health"
// (sentryhttp's form) or "/health".
func routeOf(name string) string {
	if i := strings.LastIndexByte(name, ' '); i >= 0 {
		name = name[i+1:]
	}
	return name
}
