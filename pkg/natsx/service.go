package natsx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/reqctx"
)

// ServiceConfig names a service in the micro registry (nats micro ls/info).
type ServiceConfig struct {
	// Name is the micro service name, e.g. "credential".
	Name string
	// Version is a semantic version, e.g. "1.0.0".
	Version string
	// Description shows in nats micro info.
	Description string
	// QueueGroup is the queue group every endpoint subscribes in, so that
	// instances share the load; default Name.
	QueueGroup string
}

// Service is a micro service whose endpoints are typed Go functions.
type Service struct {
	nc       *nats.Conn
	micro    micro.Service
	log      *slog.Logger
	inflight *inflight
}

// NewService registers a micro service on nc. Register endpoints with Handle.
func NewService(nc *nats.Conn, cfg ServiceConfig, log *slog.Logger) (*Service, error) {
	log = loggerOrDiscard(log).With("service", cfg.Name)
	queue := cfg.QueueGroup
	if queue == "" {
		queue = cfg.Name
	}
	svc, err := micro.AddService(nc, micro.Config{
		Name:        cfg.Name,
		Version:     cfg.Version,
		Description: cfg.Description,
		QueueGroup:  queue,
		ErrorHandler: func(_ micro.Service, e *micro.NATSError) {
			log.Error("micro service error", "subject", e.Subject, "error", e.Description)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("add micro service %q: %w", cfg.Name, err)
	}
	s := &Service{nc: nc, micro: svc, log: log, inflight: newInflight()}
	s.confirmSubscribed("micro discovery")
	return s, nil
}

// Stop unsubscribes every endpoint (pending requests are still handled) and
// waits for the requests being handled to finish. Drain the connection
// afterwards.
func (s *Service) Stop() error {
	err := s.micro.Stop()
	// micro drains its subscriptions asynchronously; a round trip to the
	// server makes sure it has processed the UNSUBs, so once Stop returns no
	// new request is routed here (callers see "no responders" at once).
	if s.nc.IsConnected() {
		_ = s.nc.FlushTimeout(2 * time.Second)
	}
	s.inflight.wait()
	if err != nil {
		return fmt.Errorf("stop micro service: %w", err)
	}
	return nil
}

// Info is the service's micro info: identity and endpoints.
func (s *Service) Info() micro.Info { return s.micro.Info() }

// EndpointOption configures one endpoint registered by Handle.
type EndpointOption func(*endpointOptions)

type endpointOptions struct {
	metadata    map[string]string
	concurrency int
}

// WithDescription describes the endpoint in its micro metadata
// ("description"), shown by nats micro info.
func WithDescription(description string) EndpointOption {
	return WithMetadata("description", description)
}

// WithMetadata adds one key to the endpoint's micro metadata.
func WithMetadata(key, value string) EndpointOption {
	return func(o *endpointOptions) {
		if o.metadata == nil {
			o.metadata = map[string]string{}
		}
		o.metadata[key] = value
	}
}

// WithConcurrency lets the endpoint handle up to n requests of one instance
// at once. The default, 1, is micro's own model: one request at a time per
// endpoint, in arrival order; instances scale out through the queue group.
// Use it for slow endpoints (a SQL query) so one long request does not queue
// every other caller behind it. With n > 1, micro's per-endpoint statistics
// count requests but not errors or processing time, because the reply is
// sent after micro's handler call has returned.
func WithConcurrency(n int) EndpointOption {
	return func(o *endpointOptions) { o.concurrency = n }
}

// Handle registers fn as the endpoint on subject (the full subject, e.g.
// svc.credential.v1.create), named after the subject's last token.
//
// A request's body is decoded as JSON into Req (an empty body is the zero
// Req; malformed JSON is a bad_request) and fn's Resp is the JSON reply. An
// *rpcerr.Error from fn is sent as is; any other error, or a panic, is logged
// once with a fresh error id and answered with a generic internal error that
// carries only that id. fn's context carries the caller's metadata and
// deadline; once that deadline has passed no reply is sent, as nobody waits
// for it.
func Handle[Req, Resp any](s *Service, subject string, fn func(ctx context.Context, req Req) (Resp, error), opts ...EndpointOption) error {
	var o endpointOptions
	for _, opt := range opts {
		opt(&o)
	}
	if fn == nil {
		return fmt.Errorf("add endpoint %s: handler is nil", subject)
	}
	name := subject[strings.LastIndexByte(subject, '.')+1:]
	e := &endpoint[Req, Resp]{fn: fn, log: s.log.With("endpoint", subject), maxPayload: s.nc.MaxPayload}

	var handler micro.HandlerFunc
	if o.concurrency > 1 {
		slots := make(chan struct{}, o.concurrency)
		handler = func(req micro.Request) {
			// Blocking here when all slots are busy leaves further requests
			// in the subscription's buffer: back-pressure, not unbounded
			// goroutines.
			slots <- struct{}{}
			s.inflight.add()
			msg := &nats.Msg{Subject: req.Subject(), Reply: req.Reply(), Header: nats.Header(req.Headers()), Data: req.Data()}
			go func() {
				defer func() { <-slots }()
				defer s.inflight.done()
				e.serve(msg, publishReplier{nc: s.nc, reply: msg.Reply})
			}()
		}
	} else {
		handler = func(req micro.Request) {
			s.inflight.add()
			defer s.inflight.done()
			msg := &nats.Msg{Subject: req.Subject(), Reply: req.Reply(), Header: nats.Header(req.Headers()), Data: req.Data()}
			e.serve(msg, microReplier{req: req})
		}
	}
	microOpts := []micro.EndpointOpt{micro.WithEndpointSubject(subject)}
	if o.metadata != nil {
		microOpts = append(microOpts, micro.WithEndpointMetadata(o.metadata))
	}
	if err := s.micro.AddEndpoint(name, handler, microOpts...); err != nil {
		return fmt.Errorf("add endpoint %s: %w", subject, err)
	}
	s.confirmSubscribed(subject)
	return nil
}

// confirmSubscribed waits until the server has processed the subscriptions
// sent so far, so a registered endpoint is reachable when Handle returns;
// otherwise an early caller could get "no responders". A failure only delays
// that: the client re-sends its subscriptions on reconnect.
func (s *Service) confirmSubscribed(what string) {
	if err := s.nc.FlushTimeout(5 * time.Second); err != nil {
		s.log.Warn("server has not confirmed the subscription yet", "subscription", what, "error", err)
	}
}

type endpoint[Req, Resp any] struct {
	fn  func(context.Context, Req) (Resp, error)
	log *slog.Logger
	// maxPayload is the server's message size limit, as the connection
	// learned it.
	maxPayload func() int64
}

// replyHeadroom is kept free under the payload limit for the reply's
// headers.
const replyHeadroom = 4 << 10

// listReserve is kept free in a page of a list for the reply's headers and
// the JSON around its items.
const listReserve = 16 << 10

// PageBudget is how many bytes of items one page of a list may carry in a
// reply on a connection whose messages hold maxPayload bytes
// (nats.Conn.MaxPayload): a list answered in such pages never meets the
// too-large refusal of Handle.
func PageBudget(maxPayload int64) int {
	return int(max(maxPayload-listReserve, listReserve))
}

func (e *endpoint[Req, Resp]) serve(msg *nats.Msg, r replier) {
	ctx, cancel := ContextFromHeaders(context.Background(), msg.Header)
	defer cancel()
	if ctx.Err() != nil {
		e.log.WarnContext(ctx, "request dropped: caller's deadline passed before it was handled")
		return
	}

	var req Req
	if len(bytes.TrimSpace(msg.Data)) > 0 {
		if err := json.Unmarshal(msg.Data, &req); err != nil {
			e.log.DebugContext(ctx, "malformed request body", "error", err)
			e.replyError(ctx, r, rpcerr.New(rpcerr.BadRequest, "invalid request body"))
			return
		}
	}

	started := time.Now()
	resp, err := e.call(ctx, req)
	if ctx.Err() != nil {
		// The caller has given up (its deadline passed); a reply would go
		// to an inbox nobody reads. Log a failure anyway so it is not lost.
		attrs := []any{"elapsed", time.Since(started)}
		if err != nil {
			attrs = append(attrs, "error", err)
		}
		e.log.WarnContext(ctx, "reply dropped: caller's deadline passed while handling", attrs...)
		return
	}
	if err != nil {
		e.replyError(ctx, r, e.publicError(ctx, err))
		return
	}
	body, err := json.Marshal(resp)
	if err != nil {
		e.replyError(ctx, r, e.publicError(ctx, fmt.Errorf("encode reply: %w", err)))
		return
	}
	if limit := e.maxPayload() - replyHeadroom; int64(len(body)) > limit {
		// The server would refuse the message and the caller wait out its
		// deadline for nothing: say what happened instead, at once.
		e.log.WarnContext(ctx, "reply over the message size limit", "bytes", len(body), "limit", limit)
		e.replyError(ctx, r, rpcerr.New(rpcerr.TooLarge,
			fmt.Sprintf("the answer is %d bytes, more than one message may carry (%d); ask for less", len(body), limit)))
		return
	}
	if err := r.respond(body); err != nil {
		e.log.WarnContext(ctx, "send reply", "error", err)
	}
}

// call runs fn and turns a panic into an error, so one bad request cannot
// take the service down.
func (e *endpoint[Req, Resp]) call(ctx context.Context, req Req) (resp Resp, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in handler: %v\n%s", p, debug.Stack())
		}
	}()
	return e.fn(ctx, req)
}

// publicError is what the caller may see of err: an *rpcerr.Error as is,
// anything else as a generic internal error whose id ties it to the one log
// line that holds the real cause.
func (e *endpoint[Req, Resp]) publicError(ctx context.Context, err error) *rpcerr.Error {
	if re, ok := rpcerr.As(err); ok {
		if re != err && re.HTTPStatus() >= http.StatusInternalServerError {
			// A dependency failed (e.g. the event stream is unavailable):
			// the caller gets the typed error, the log gets the cause.
			e.log.WarnContext(ctx, "request failed", "error", err, "code", re.Code)
		}
		return re
	}
	pub := rpcerr.InternalWithID()
	e.log.ErrorContext(ctx, "request failed", "error", err, "error_id", pub.ErrorID, "request_id", reqctx.From(ctx).RequestID)
	return pub
}

func (e *endpoint[Req, Resp]) replyError(ctx context.Context, r replier, re *rpcerr.Error) {
	description := re.Message
	if description == "" {
		description = http.StatusText(re.HTTPStatus())
	}
	// A header value cannot hold a line break; the body keeps the message
	// intact.
	description = strings.NewReplacer("\r", " ", "\n", " ").Replace(description)
	if err := r.respondError(re.MicroCode(), description, re.Body()); err != nil {
		e.log.WarnContext(ctx, "send error reply", "error", err)
	}
}

// replier sends the one reply of a request.
type replier interface {
	respond(body []byte) error
	respondError(code, description string, body []byte) error
}

// microReplier replies through micro, which counts errors in its stats. It
// may only be used on micro's handler goroutine.
type microReplier struct{ req micro.Request }

func (r microReplier) respond(body []byte) error { return r.req.Respond(body) }
func (r microReplier) respondError(code, description string, body []byte) error {
	return r.req.Error(code, description, body)
}

// publishReplier replies with a plain publish, for handlers that run after
// micro's handler call returned (micro's request is not safe to use then).
type publishReplier struct {
	nc    *nats.Conn
	reply string
}

func (r publishReplier) respond(body []byte) error {
	return r.publish(&nats.Msg{Data: body})
}

func (r publishReplier) respondError(code, description string, body []byte) error {
	return r.publish(&nats.Msg{
		Header: nats.Header{micro.ErrorHeader: {description}, micro.ErrorCodeHeader: {code}},
		Data:   body,
	})
}

func (r publishReplier) publish(m *nats.Msg) error {
	if r.reply == "" {
		return errors.New("request has no reply subject")
	}
	m.Subject = r.reply
	return r.nc.PublishMsg(m)
}

// inflight counts requests being handled so Stop can wait for them.
type inflight struct {
	mu   sync.Mutex
	n    int
	idle *sync.Cond
}

func newInflight() *inflight {
	f := &inflight{}
	f.idle = sync.NewCond(&f.mu)
	return f
}

func (f *inflight) add() {
	f.mu.Lock()
	f.n++
	f.mu.Unlock()
}

func (f *inflight) done() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n--
	if f.n == 0 {
		f.idle.Broadcast()
	}
}

// wait returns once no request is being handled. Requests that micro's
// draining Stop still delivers afterwards are counted and answered too; the
// connection's Drain waits for those.
func (f *inflight) wait() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for f.n > 0 {
		f.idle.Wait()
	}
}
