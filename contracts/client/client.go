// Package client is the typed way to call the services: one method per
// operation, taking and returning the contract types, so a caller (the
// gateway, a component test) never spells a subject or decodes a body.
package client

import (
	"context"
	"fmt"
)

// Requester sends one request and decodes its reply into resp. The NATS
// implementation (pkg/natsx) puts the context's metadata into headers,
// applies its deadline, and returns a service's error as *rpcerr.Error.
type Requester interface {
	Request(ctx context.Context, subject string, req any, resp any) error
}

// noParams is the body of operations that take no input: "{}" leaves room
// to add fields later.
type noParams struct{}

// call sends req to subject and returns the decoded reply. The error keeps
// the Requester's (an *rpcerr.Error stays reachable with rpcerr.As) and
// names the subject.
func call[Resp any](ctx context.Context, r Requester, subject string, req any) (Resp, error) {
	var resp Resp
	if err := r.Request(ctx, subject, req, &resp); err != nil {
		var zero Resp
		return zero, fmt.Errorf("%s: %w", subject, err)
	}
	return resp, nil
}
