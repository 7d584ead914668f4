package natsx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/fairshare"
	"github.com/nonefinity/backend/pkg/reqctx"
	"github.com/nonefinity/backend/pkg/telemetry"
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
	// Metadata is added to the service's micro metadata, next to the
	// "version", "instance" and "build" NewService fills in.
	Metadata map[string]string
	// Metrics, when set, receives the per-endpoint request metrics
	// (nonefinity_rpc_requests_total, nonefinity_rpc_request_duration_seconds).
	Metrics prometheus.Registerer
	// Available, when set, is asked before each request is handled: while
	// it returns an error (the service's database is known to be down,
	// mongox.Health.Err) requests are answered with it at once, instead of
	// each waiting on the dependency until it times out: an *rpcerr.Error
	// as it is, any other error as rpcerr Unavailable with the error's
	// text, which must be fit to show ("database unavailable"). Endpoints
	// registered AlwaysServed (health) are served regardless.
	Available func() error
	// Share, when set, dispatches the requests of every endpoint through
	// it, keyed by the calling user (Nf-User-Id), instead of each endpoint
	// serving its callers in arrival order: a user with many requests
	// queued does not hold another user's request behind them (NewShare).
	// Endpoints registered OutsideShare or AlwaysServed keep their own
	// WithConcurrency slots.
	Share *fairshare.Pool
	// UserRequired makes every endpoint act for a user: a request without
	// Nf-User-Id is answered rpcerr Unauthorized ("the request names no
	// user") before its handler runs, so a handler reads the owner with
	// UserID and never finds it empty. Endpoints registered WithoutUser (a
	// public list, health) serve anyone.
	UserRequired bool
}

// shareLimit is how many requests a service instance handles at once
// through its Share, whoever sends them; more wait, fewest held first.
const shareLimit = 64

// shareBacklog is how many requests may wait for the Share: past it the
// subscription's own buffer holds them (back-pressure), as with slots.
const shareBacklog = 1024

// NewShare is the Share a service runs with: a user with no request
// running is served at once; a user with some waits while the instance
// runs as many as the Go runtime has processors, and never runs more than
// half that many (at least one) at once, so the requests of one user
// cannot fill the cores between two requests of another's; shareLimit in
// all. Handlers that mostly wait for something else (a job, a provider's
// answer) belong OutsideShare, or they would hold their user's places
// while idle.
func NewShare() *fairshare.Pool {
	procs := runtime.GOMAXPROCS(0)
	return fairshare.New(procs, fairshare.PerKey(max(1, procs/2)), fairshare.Limit(shareLimit))
}

// Service is a request-reply service whose endpoints are typed Go functions.
// It speaks the NATS micro protocol (discovery, PING, INFO and STATS on
// $SRV.>), so `nats micro ls/info/stats` and micro clients see it as a micro
// service. It answers STATS itself rather than through nats.go/micro: micro
// counts a request when its handler call returns, which for an endpoint that
// hands requests to a worker pool is the hand-off (no errors, microseconds),
// and it has no way to record a request later.
type Service struct {
	nc       *nats.Conn
	cfg      ServiceConfig
	id       string
	log      *slog.Logger
	inflight *inflight
	metrics  *rpcMetrics

	mu        sync.Mutex
	started   time.Time
	endpoints []*registeredEndpoint
	verbSubs  []*nats.Subscription
	stopped   bool
	// backlog bounds the requests waiting for cfg.Share.
	backlog chan struct{}
}

// registeredEndpoint is one endpoint as discovery shows it, with its stats.
type registeredEndpoint struct {
	info  micro.EndpointInfo
	sub   *nats.Subscription
	stats micro.EndpointStats
}

var (
	serviceNameRe = regexp.MustCompile(`^[A-Za-z0-9\-_]+$`)
	// The semantic versioning regexp micro validates with (semver.org).
	semverRe = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)
)

// NewService registers a service on nc and answers its discovery requests.
// Register endpoints with Handle.
func NewService(nc *nats.Conn, cfg ServiceConfig, log *slog.Logger) (*Service, error) {
	if !serviceNameRe.MatchString(cfg.Name) {
		return nil, fmt.Errorf("add micro service %q: invalid name", cfg.Name)
	}
	if !semverRe.MatchString(cfg.Version) {
		return nil, fmt.Errorf("add micro service %q: version %q is not a semantic version", cfg.Name, cfg.Version)
	}
	if cfg.QueueGroup == "" {
		cfg.QueueGroup = cfg.Name
	}
	cfg.Metadata = serviceMetadata(cfg)
	metrics, err := newRPCMetrics(cfg.Metrics, cfg.Name)
	if err != nil {
		return nil, err
	}
	s := &Service{
		nc: nc, cfg: cfg, id: strings.TrimPrefix(nats.NewInbox(), nats.InboxPrefix),
		log: loggerOrDiscard(log), inflight: newInflight(), metrics: metrics, started: time.Now().UTC(),
		backlog: make(chan struct{}, shareBacklog),
	}
	if err := s.subscribeVerbs(); err != nil {
		s.unsubscribeVerbs()
		return nil, fmt.Errorf("add micro service %q: %w", cfg.Name, err)
	}
	s.confirmSubscribed("micro discovery")
	return s, nil
}

// subscribeVerbs answers PING, INFO and STATS for every service, for this
// service's name and for this instance, as micro does.
func (s *Service) subscribeVerbs() error {
	for verb, answer := range map[micro.Verb]func() any{
		micro.PingVerb:  func() any { return micro.Ping{ServiceIdentity: s.identity(), Type: micro.PingResponseType} },
		micro.InfoVerb:  func() any { return s.Info() },
		micro.StatsVerb: func() any { return s.Stats() },
	} {
		for _, scope := range [][2]string{{"", ""}, {s.cfg.Name, ""}, {s.cfg.Name, s.id}} {
			subject, err := micro.ControlSubject(verb, scope[0], scope[1])
			if err != nil {
				return err
			}
			sub, err := s.nc.Subscribe(subject, func(m *nats.Msg) {
				body, _ := json.Marshal(answer())
				if err := m.Respond(body); err != nil {
					s.log.Warn("answer micro discovery", "subject", m.Subject, "error", err)
				}
			})
			if err != nil {
				return err
			}
			s.verbSubs = append(s.verbSubs, sub)
		}
	}
	return nil
}

func (s *Service) unsubscribeVerbs() {
	for _, sub := range s.verbSubs {
		_ = sub.Unsubscribe()
	}
	s.verbSubs = nil
}

func (s *Service) identity() micro.ServiceIdentity {
	return micro.ServiceIdentity{Name: s.cfg.Name, ID: s.id, Version: s.cfg.Version, Metadata: cloneMap(s.cfg.Metadata)}
}

// Stop unsubscribes every endpoint (pending requests are still handled) and
// waits for the requests being handled to finish. Drain the connection
// afterwards.
func (s *Service) Stop() error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	var errs []error
	for _, ep := range s.endpoints {
		if err := ep.sub.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			errs = append(errs, fmt.Errorf("drain %s: %w", ep.info.Subject, err))
		}
	}
	s.unsubscribeVerbs()
	s.mu.Unlock()
	// Draining is asynchronous; a round trip to the server makes sure it
	// has processed the UNSUBs, so once Stop returns no new request is
	// routed here (callers see "no responders" at once).
	if s.nc.IsConnected() {
		_ = s.nc.FlushTimeout(2 * time.Second)
	}
	s.inflight.wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stop micro service: %w", err)
	}
	return nil
}

// Info is the service's micro info: identity and endpoints.
func (s *Service) Info() micro.Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	endpoints := make([]micro.EndpointInfo, 0, len(s.endpoints))
	for _, ep := range s.endpoints {
		info := ep.info
		info.Metadata = cloneMap(info.Metadata)
		endpoints = append(endpoints, info)
	}
	return micro.Info{ServiceIdentity: s.identity(), Type: micro.InfoResponseType, Description: s.cfg.Description, Endpoints: endpoints}
}

// Stats are the service's micro stats: per endpoint the requests answered,
// the errors among them and the time from receipt to reply.
func (s *Service) Stats() micro.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := micro.Stats{ServiceIdentity: s.identity(), Type: micro.StatsResponseType, Started: s.started,
		Endpoints: make([]*micro.EndpointStats, 0, len(s.endpoints))}
	for _, ep := range s.endpoints {
		st := ep.stats
		out.Endpoints = append(out.Endpoints, &st)
	}
	return out
}

// record counts one handled request of ep: errText is "" when it succeeded.
func (s *Service) record(ep *registeredEndpoint, elapsed time.Duration, errText string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &ep.stats
	st.NumRequests++
	st.ProcessingTime += elapsed
	st.AverageProcessingTime = st.ProcessingTime / time.Duration(st.NumRequests)
	if errText != "" {
		st.NumErrors++
		st.LastError = errText
	}
}

// EndpointOption configures one endpoint registered by Handle.
type EndpointOption func(*endpointOptions)

type endpointOptions struct {
	metadata     map[string]string
	concurrency  int
	alwaysServed bool
	outsideShare bool
	withoutUser  bool
	adminOnly    bool
}

// WithDescription describes the endpoint in its micro metadata
// ("description"), shown by nats micro info. Every endpoint needs one.
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
// every other caller behind it. Under a ServiceConfig.Share it applies only
// to endpoints OutsideShare or AlwaysServed; the Share bounds the others.
func WithConcurrency(n int) EndpointOption {
	return func(o *endpointOptions) { o.concurrency = n }
}

// OutsideShare keeps the endpoint's requests out of ServiceConfig.Share:
// for a handler that mostly waits (for a job's outcome, for a provider's
// answer) rather than works, and for one whose work goes through a pool of
// its own (DuckDB statements). WithConcurrency bounds it as without a Share.
func OutsideShare() EndpointOption {
	return func(o *endpointOptions) { o.outsideShare = true }
}

// Options is several endpoint options as one, for a set that several
// endpoints share.
func Options(opts ...EndpointOption) EndpointOption {
	return func(o *endpointOptions) {
		for _, opt := range opts {
			opt(o)
		}
	}
}

// AlwaysServed keeps the endpoint out of ServiceConfig.Available's check:
// the health endpoint reports a dependency that is down, it is not refused
// because of it.
func AlwaysServed() EndpointOption {
	return func(o *endpointOptions) { o.alwaysServed = true }
}

// WithoutUser serves the endpoint to requests that name no user, on a
// service whose ServiceConfig.UserRequired refuses them elsewhere.
func WithoutUser() EndpointOption {
	return func(o *endpointOptions) { o.withoutUser = true }
}

// AdminOnly serves the endpoint to callers with the admin role
// (Nf-User-Role) only: anyone else is answered rpcerr Forbidden ("admin role
// required") before the handler runs, after the user check.
func AdminOnly() EndpointOption {
	return func(o *endpointOptions) { o.adminOnly = true }
}

// UserID is the user a request acts for: the Nf-User-Id the gateway put on
// it (NATS permissions let nothing else send requests). It is the one
// owner of everything a handler reads or writes; see
// ServiceConfig.UserRequired.
func UserID(ctx context.Context) string { return reqctx.From(ctx).UserID }

// Handle registers fn as the endpoint on subject (the full subject, e.g.
// svc.credential.v1.create), named after the subject's last token. Its
// micro metadata carries the description (WithDescription, required) and
// the Go names of the request and reply types ("request_schema",
// "response_schema"), e.g. credentialv1.CreateRequest.
//
// A request's body is decoded as JSON into Req (an empty body is the zero
// Req; malformed JSON is a bad_request) and fn's Resp is the JSON reply. An
// *rpcerr.Error from fn is sent as is; any other error, or a panic, is logged
// once with a fresh error id and answered with a generic internal error that
// carries only that id. Every 5xx answer carries an error id and is reported
// to Sentry with it. fn's context carries the caller's metadata and
// deadline; once that deadline has passed no reply is sent, as nobody waits
// for it. An error that is a context.DeadlineExceeded from earlier, the end
// of a Budget the handler gave its work, is answered as rpcerr.Timeout.
func Handle[Req, Resp any](s *Service, subject string, fn func(ctx context.Context, req Req) (Resp, error), opts ...EndpointOption) error {
	var o endpointOptions
	for _, opt := range opts {
		opt(&o)
	}
	if fn == nil {
		return fmt.Errorf("add endpoint %s: handler is nil", subject)
	}
	if strings.TrimSpace(o.metadata["description"]) == "" {
		return fmt.Errorf("add endpoint %s: no description (WithDescription)", subject)
	}
	metadata := cloneMap(o.metadata)
	metadata["request_schema"] = schemaName[Req]()
	metadata["response_schema"] = schemaName[Resp]()
	name := subject[strings.LastIndexByte(subject, '.')+1:]
	e := &endpoint[Req, Resp]{
		fn: fn, log: s.log.With("endpoint", subject), maxPayload: s.nc.MaxPayload,
		service: s.cfg.Name, subject: subject,
	}
	if !o.alwaysServed {
		e.available = s.cfg.Available
	}
	e.userRequired = s.cfg.UserRequired && !o.withoutUser
	e.adminOnly = o.adminOnly
	ep := &registeredEndpoint{
		info:  micro.EndpointInfo{Name: name, Subject: subject, QueueGroup: s.cfg.QueueGroup, Metadata: metadata},
		stats: micro.EndpointStats{Name: name, Subject: subject, QueueGroup: s.cfg.QueueGroup},
	}
	// leave, when set, gives the request's place in the Share back early
	// (LeaveShare); it is also called when the request ends.
	handle := func(msg *nats.Msg, received time.Time, leave func()) {
		defer s.inflight.done()
		res := e.serve(msg, leave)
		elapsed := time.Since(received)
		s.record(ep, elapsed, res.stat())
		s.metrics.observe(name, res.metricCode(), elapsed)
	}

	var cb nats.MsgHandler
	if share := s.cfg.Share; share != nil && !o.outsideShare && !o.alwaysServed {
		cb = func(msg *nats.Msg) {
			received := time.Now()
			// Blocking here when the backlog is full leaves further requests
			// in the subscription's buffer, as the slots below do.
			s.backlog <- struct{}{}
			s.inflight.add()
			go func() {
				defer func() { <-s.backlog }()
				release, err := acquireShare(share, msg)
				if err == nil {
					defer release()
				}
				// On err the caller's deadline has passed: serve drops the
				// request.
				handle(msg, received, release)
			}()
		}
	} else if o.concurrency > 1 {
		slots := make(chan struct{}, o.concurrency)
		cb = func(msg *nats.Msg) {
			received := time.Now()
			// Blocking here when all slots are busy leaves further requests
			// in the subscription's buffer: back-pressure, not unbounded
			// goroutines.
			slots <- struct{}{}
			s.inflight.add()
			go func() {
				defer func() { <-slots }()
				handle(msg, received, nil)
			}()
		}
	} else {
		cb = func(msg *nats.Msg) {
			s.inflight.add()
			handle(msg, time.Now(), nil)
		}
	}

	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return fmt.Errorf("add endpoint %s: service stopped", subject)
	}
	sub, err := s.nc.QueueSubscribe(subject, s.cfg.QueueGroup, cb)
	if err != nil {
		s.mu.Unlock()
		return fmt.Errorf("add endpoint %s: %w", subject, err)
	}
	ep.sub = sub
	s.endpoints = append(s.endpoints, ep)
	s.mu.Unlock()
	s.confirmSubscribed(subject)
	return nil
}

type leaveShareKey struct{}

// LeaveShare gives the request's place in its service's Share to the next
// request, for a handler whose work is done and that only waits now (for a
// job's outcome): a place held while idle would keep its user's other
// requests waiting for nothing. Outside a Share, or called again, it does
// nothing; the handler goes on as before.
func LeaveShare(ctx context.Context) {
	if leave, ok := ctx.Value(leaveShareKey{}).(func()); ok {
		leave()
	}
}

// acquireShare waits for the caller's place in share, within the caller's
// deadline.
func acquireShare(share *fairshare.Pool, msg *nats.Msg) (release func(), err error) {
	ctx, cancel := context.WithDeadline(context.Background(), deadlineFromHeaders(msg.Header, time.Now()))
	defer cancel()
	return share.Acquire(ctx, msg.Header.Get(contracts.HeaderUserID))
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
	// service and subject name the failures reported to Sentry.
	service, subject string
	// available is ServiceConfig.Available, unless AlwaysServed.
	available func() error
	// userRequired refuses requests without a user id, adminOnly those
	// without the admin role.
	userRequired, adminOnly bool
}

// served is how one request ended, for the stats.
type served struct {
	// failure is the error answer sent; nil for a reply.
	failure *rpcerr.Error
	// dropped says no answer was sent: the caller's deadline had passed.
	dropped bool
}

// stat is micro's last_error form of the outcome ("code:description"), ""
// for a reply.
func (r served) stat() string {
	switch {
	case r.dropped:
		return "504:caller's deadline passed, no reply sent"
	case r.failure != nil:
		return r.failure.MicroCode() + ":" + r.failure.Message
	}
	return ""
}

// metricCode labels the outcome in the request metrics.
func (r served) metricCode() string {
	switch {
	case r.dropped:
		return "deadline_passed"
	case r.failure != nil:
		return string(r.failure.Code)
	}
	return "ok"
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

func (e *endpoint[Req, Resp]) serve(msg *nats.Msg, leave func()) served {
	ctx, cancel := ContextFromHeaders(context.Background(), msg.Header)
	if leave != nil {
		ctx = context.WithValue(ctx, leaveShareKey{}, leave)
	}
	defer cancel()
	if ctx.Err() != nil {
		e.log.WarnContext(ctx, "request dropped: caller's deadline passed before it was handled")
		return served{dropped: true}
	}
	if e.available != nil {
		if err := e.available(); err != nil {
			// Not through publicError: the outage was logged once when it
			// began, and is not an error of this request worth a report.
			re, ok := rpcerr.As(err)
			if !ok {
				re = rpcerr.New(rpcerr.Unavailable, err.Error())
			}
			return e.replyError(ctx, msg, re)
		}
	}

	var req Req
	if len(bytes.TrimSpace(msg.Data)) > 0 {
		if err := json.Unmarshal(msg.Data, &req); err != nil {
			e.log.DebugContext(ctx, "malformed request body", "error", err)
			return e.replyError(ctx, msg, rpcerr.New(rpcerr.BadRequest, "invalid request body"))
		}
	}
	if e.userRequired && UserID(ctx) == "" {
		return e.replyError(ctx, msg, rpcerr.New(rpcerr.Unauthorized, "the request names no user"))
	}
	if e.adminOnly && reqctx.From(ctx).Role != contracts.RoleAdmin {
		return e.replyError(ctx, msg, rpcerr.New(rpcerr.Forbidden, "admin role required"))
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
		return served{dropped: true}
	}
	if err != nil {
		return e.replyError(ctx, msg, e.publicError(ctx, timedOut(err)))
	}
	body, err := json.Marshal(resp)
	if err != nil {
		return e.replyError(ctx, msg, e.publicError(ctx, fmt.Errorf("encode reply: %w", err)))
	}
	if limit := e.maxPayload() - replyHeadroom; int64(len(body)) > limit {
		// The server would refuse the message and the caller wait out its
		// deadline for nothing: say what happened instead, at once.
		e.log.WarnContext(ctx, "reply over the message size limit", "bytes", len(body), "limit", limit)
		return e.replyError(ctx, msg, rpcerr.New(rpcerr.TooLarge,
			fmt.Sprintf("the answer is %d bytes, more than one message may carry (%d); ask for less", len(body), limit)))
	}
	if err := msg.Respond(body); err != nil {
		e.log.WarnContext(ctx, "send reply", "error", err)
	}
	return served{}
}

// timedOut gives work that ran out of its Budget while the caller still
// waits the timeout code: the service is there and answered, the work was
// too slow, so the caller must not report the service down (503).
func timedOut(err error) error {
	if _, ok := rpcerr.As(err); ok || !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: %w", rpcerr.New(rpcerr.Timeout, "the request took longer than the time it had"), err)
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
// line that holds the real cause. A 5xx is logged and reported to Sentry
// once, here, with its error id.
func (e *endpoint[Req, Resp]) publicError(ctx context.Context, err error) *rpcerr.Error {
	re, ok := rpcerr.As(err)
	if ok && re.HTTPStatus() < http.StatusInternalServerError {
		return re
	}
	var pub *rpcerr.Error
	if ok {
		// A dependency failed (e.g. the event stream is unavailable): the
		// caller gets the typed error, the log and Sentry the cause.
		copied := *re
		pub = &copied
		if pub.ErrorID == "" {
			pub.ErrorID = rpcerr.NewErrorID()
		}
		e.log.WarnContext(ctx, "request failed", "error", err, "code", pub.Code, "error_id", pub.ErrorID)
	} else {
		pub = rpcerr.InternalWithID()
		e.log.ErrorContext(ctx, "request failed", "error", err, "error_id", pub.ErrorID)
	}
	telemetry.CaptureFailure(ctx, telemetry.Failure{
		Err: err, ErrorID: pub.ErrorID, Service: e.service, Subject: e.subject,
		Tags: map[string]string{"code": string(pub.Code)},
	})
	return pub
}

func (e *endpoint[Req, Resp]) replyError(ctx context.Context, msg *nats.Msg, re *rpcerr.Error) served {
	description := re.Message
	if description == "" {
		description = http.StatusText(re.HTTPStatus())
	}
	// A header value cannot hold a line break; the body keeps the message
	// intact.
	description = strings.NewReplacer("\r", " ", "\n", " ").Replace(description)
	reply := &nats.Msg{
		Header: nats.Header{micro.ErrorHeader: {description}, micro.ErrorCodeHeader: {re.MicroCode()}},
		Data:   re.Body(),
	}
	if err := msg.RespondMsg(reply); err != nil {
		e.log.WarnContext(ctx, "send error reply", "error", err)
	}
	return served{failure: re}
}

// schemaName is the Go name of a request or reply type as its package
// spells it (credentialv1.CreateRequest, []datasetv1.Dataset).
func schemaName[T any]() string {
	t := reflect.TypeFor[T]()
	if name := t.String(); name != "" {
		return name
	}
	return t.Kind().String()
}

// serviceMetadata is the service's micro metadata: cfg's own plus the
// version, which instance (host and process) answers and which build runs.
func serviceMetadata(cfg ServiceConfig) map[string]string {
	md := cloneMap(cfg.Metadata)
	md["version"] = cfg.Version
	if _, ok := md["instance"]; !ok {
		md["instance"] = instanceName()
	}
	if _, ok := md["build"]; !ok {
		md["build"] = buildName()
	}
	return md
}

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+3)
	for k, v := range m {
		out[k] = v
	}
	return out
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

// wait returns once no request is being handled. Requests that the draining
// subscriptions still deliver afterwards are counted and answered too; the
// connection's Drain waits for those.
func (f *inflight) wait() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for f.n > 0 {
		f.idle.Wait()
	}
}
