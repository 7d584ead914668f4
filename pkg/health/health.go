// Package health answers a service's health operation by running its
// dependency checks (a MongoDB ping, a bucket stat…) under a short deadline.
package health

import (
	"context"
	"sort"
	"time"

	"github.com/nonefinity/backend/contracts/healthv1"
)

// Description is the health endpoint's description in nats micro info.
const Description = "dependency checks, asked by the gateway's /ready"

// Check reports whether one dependency is usable.
type Check func(ctx context.Context) error

// checkTimeout bounds each check so /ready answers within its own deadline
// even when a dependency hangs.
const checkTimeout = 800 * time.Millisecond

// Handler returns the health endpoint of a service. A failing check makes the
// reply "degraded" and names the check; it never fails the request itself, so
// the caller can tell "service down" (no reply) from "dependency down".
func Handler(service, version string, checks map[string]Check) func(context.Context, healthv1.Request) (healthv1.Reply, error) {
	names := make([]string, 0, len(checks))
	for n := range checks {
		names = append(names, n)
	}
	sort.Strings(names)
	return func(ctx context.Context, _ healthv1.Request) (healthv1.Reply, error) {
		reply := healthv1.Reply{Service: service, Version: version, Status: healthv1.StatusOK}
		for _, n := range names {
			cctx, cancel := context.WithTimeout(ctx, checkTimeout)
			err := checks[n](cctx)
			cancel()
			if reply.Checks == nil {
				reply.Checks = make(map[string]string, len(names))
			}
			if err != nil {
				reply.Status = healthv1.StatusDegraded
				reply.Checks[n] = "unavailable"
				continue
			}
			reply.Checks[n] = "ok"
		}
		return reply, nil
	}
}
