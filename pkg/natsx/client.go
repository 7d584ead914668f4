package natsx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/nonefinity/backend/contracts/rpcerr"
)

// DefaultClientTimeout bounds a request whose context has no deadline.
const DefaultClientTimeout = 10 * time.Second

// Client sends typed requests to micro endpoints registered with Handle. It
// implements contracts/client.Requester.
type Client struct {
	nc *nats.Conn
	// DefaultTimeout applies when the request's context has no deadline.
	DefaultTimeout time.Duration
}

// NewClient returns a client over nc with DefaultClientTimeout.
func NewClient(nc *nats.Conn) *Client {
	return &Client{nc: nc, DefaultTimeout: DefaultClientTimeout}
}

// Request sends req as JSON to subject with the metadata and deadline of ctx
// in headers, and decodes the JSON reply into resp (a nil resp ignores the
// reply body). A service's error reply is returned as the *rpcerr.Error it
// sent (use rpcerr.As to get it). No service listening, no answer before the
// deadline, and a connection that is closed or reconnecting are all rpcerr
// Unavailable (503): the caller learns at once, or at its deadline, that the
// service is not there. A cancelled ctx returns ctx's error.
func (c *Client) Request(ctx context.Context, subject string, req any, resp any) error {
	if _, ok := ctx.Deadline(); !ok {
		timeout := c.DefaultTimeout
		if timeout <= 0 {
			timeout = DefaultClientTimeout
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	msg := &nats.Msg{Subject: subject, Header: nats.Header{}}
	if req != nil {
		body, err := json.Marshal(req)
		if err != nil {
			return fmt.Errorf("encode request for %s: %w", subject, err)
		}
		msg.Data = body
	}
	InjectHeaders(ctx, msg.Header)

	// A disconnected connection would hold the request in its reconnect
	// buffer and send it once NATS is back, so the caller would wait out
	// its deadline for an outage the connection already knows about. The
	// buffer stays for JetStream publishes (see Connect); requests are
	// refused here instead.
	if !c.nc.IsConnected() {
		cause := nats.ErrDisconnected
		if c.nc.IsClosed() {
			cause = nats.ErrConnectionClosed
		}
		return requestError(ctx, subject, cause)
	}
	reply, err := c.nc.RequestMsgWithContext(ctx, msg)
	if err != nil {
		return requestError(ctx, subject, err)
	}
	if re := rpcerr.FromMicro(reply.Header, reply.Data); re != nil {
		return re
	}
	if resp == nil {
		return nil
	}
	if err := json.Unmarshal(reply.Data, resp); err != nil {
		return fmt.Errorf("decode reply from %s: %w", subject, err)
	}
	return nil
}

// Call is Request with a typed reply.
func Call[Resp any](ctx context.Context, c *Client, subject string, req any) (Resp, error) {
	var resp Resp
	err := c.Request(ctx, subject, req, &resp)
	return resp, err
}

// requestError classifies a failed request. Unavailable errors wrap both the
// *rpcerr.Error (what the caller shows, found by rpcerr.As) and the NATS
// cause (for logs and errors.Is).
func requestError(ctx context.Context, subject string, err error) error {
	service := serviceOf(subject)
	unavailable := func(message string) error {
		return fmt.Errorf("request %s: %w: %w", subject, rpcerr.New(rpcerr.Unavailable, message), err)
	}
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return unavailable(service + " service unavailable")
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return unavailable(service + " service did not answer in time")
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		// The caller went away; there is nobody to tell.
		return fmt.Errorf("request %s: %w", subject, err)
	case errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrConnectionDraining),
		errors.Is(err, nats.ErrDisconnected):
		return unavailable(service + " service unavailable")
	}
	return fmt.Errorf("request %s: %w", subject, err)
}

// serviceOf names the service a request subject belongs to:
// svc.<service>.v1.<op>.
func serviceOf(subject string) string {
	parts := strings.SplitN(subject, ".", 3)
	if len(parts) >= 2 && parts[0] == "svc" && parts[1] != "" {
		return parts[1]
	}
	return subject
}
