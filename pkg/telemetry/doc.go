// Package telemetry sets up error reporting and metrics for a service:
// Sentry (a no-op without a DSN) with every event scrubbed of credentials
// before it leaves the process and health routes kept out of traces, and a
// Prometheus registry with the Go and process collectors plus its handler.
package telemetry
