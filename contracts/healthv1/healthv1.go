// Package healthv1 is the reply of every service's health operation
// (svc.<service>.v1.health), the one the gateway's /ready asks each service.
package healthv1

import "github.com/nonefinity/backend/contracts"

// Op is the health operation's name in every service's subject space.
const Op = "health"

// Subject is the health subject of a service (contracts.Service*).
func Subject(service string) string { return contracts.RequestSubject(service, Op) }

// Request asks a service whether it can serve.
type Request struct{}

// Status values.
const (
	StatusOK       = "ok"
	StatusDegraded = "degraded"
)

// Reply says which service answered, in which version, and how it is.
type Reply struct {
	Service string `json:"service"`
	Version string `json:"version"`
	Status  string `json:"status"`
	// Checks names each dependency the service checked and its state
	// ("ok" or "unavailable"), never the underlying error.
	Checks map[string]string `json:"checks,omitempty"`
}
