package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/getsentry/sentry-go"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/cors"

	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/logx"
	"github.com/nonefinity/backend/pkg/reqctx"
	"github.com/nonefinity/backend/pkg/telemetry"
)

// HeaderRequestID is the HTTP header that carries the request id both ways.
const HeaderRequestID = "X-Request-ID"

// maxRequestIDLen bounds a client-chosen request id: it lands in every log
// line and NATS header of the request.
const maxRequestIDLen = 128

// saneRequestID accepts ids of [A-Za-z0-9._-], at most maxRequestIDLen
// long, so a client cannot inject log syntax or huge values.
func saneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// validTraceparent checks the W3C form 00-<32 hex>-<16 hex>-<2 hex> with
// non-zero ids.
func validTraceparent(tp string) bool {
	if len(tp) != 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' || tp[:2] != "00" {
		return false
	}
	traceID, spanID := tp[3:35], tp[36:52]
	for _, part := range []string{traceID, spanID, tp[53:]} {
		if _, err := hex.DecodeString(part); err != nil {
			return false
		}
	}
	return traceID != "00000000000000000000000000000000" && spanID != "0000000000000000"
}

// requestMeta gives every request its id (the client's X-Request-ID when
// sane, else a fresh one), echoes it, and starts the request's reqctx.Meta
// with it and a traceparent (the caller's, or a new trace), which natsx
// forwards to the services.
func requestMeta(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(HeaderRequestID)
		if !saneRequestID(id) {
			id = randomHex(16)
		}
		w.Header().Set(HeaderRequestID, id)
		tp := r.Header.Get("traceparent")
		if !validTraceparent(tp) {
			tp = "00-" + randomHex(16) + "-" + randomHex(8) + "-01"
		}
		ctx := reqctx.With(r.Context(), reqctx.Meta{RequestID: id, Traceparent: tp})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// requestState is filled while a request is handled and read by the access
// log once it is done: who the caller turned out to be.
type requestState struct {
	userID string
	// reported is set once the request's failure went to Sentry (or the
	// service that failed reported it), so observe does not report it
	// again.
	reported bool
}

// markReported notes on the request's state that its failure is reported.
func markReported(ctx context.Context) {
	if st := stateFrom(ctx); st != nil {
		st.reported = true
	}
}

type stateKey struct{}

func stateFrom(ctx context.Context) *requestState {
	st, _ := ctx.Value(stateKey{}).(*requestState)
	return st
}

// statusRecorder remembers the status and size of a response. It keeps
// Flush working for Server-Sent Events and exposes the original writer to
// http.ResponseController.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

func (s *statusRecorder) Flush() {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	_ = http.NewResponseController(s.ResponseWriter).Flush()
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) wroteHeader() bool { return s.status != 0 }

// knownMethods keeps the method label of metrics bounded.
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

// observe writes the access log line and the request metrics of every
// request, labelled by route pattern (never the raw path, which holds ids,
// nor the query, which may hold a token), and names the Sentry transaction
// after the route.
func (a *API) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started := time.Now()
		st := &requestState{}
		ctx := context.WithValue(r.Context(), stateKey{}, st)
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(ctx))
		elapsed := time.Since(started)

		route := "unmatched"
		if rc := chi.RouteContext(ctx); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
		}
		method := r.Method
		if !knownMethods[method] {
			method = "OTHER"
		}
		status := rec.status
		if status == 0 {
			// Nothing written: the client left before an answer (or the
			// handler wrote nothing, which net/http sends as 200).
			status = http.StatusOK
			if r.Context().Err() != nil {
				status = 499
			}
		}
		var extra []any
		if status >= http.StatusInternalServerError && !st.reported && !telemetry.IsHealthPath(r.URL.Path) {
			// A 5xx written past fail (a dependency check of the route,
			// an event stream, a webhook): reported with the route, and
			// an id that the access log line below carries too.
			errorID := rpcerr.NewErrorID()
			telemetry.CaptureFailure(r.Context(), telemetry.Failure{
				Err: fmt.Errorf("%s %s answered %d", r.Method, route, status), ErrorID: errorID,
				Service: "gateway", Route: r.Method + " " + route,
			})
			extra = append(extra, "error_id", errorID)
		}
		a.metrics.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
		a.metrics.duration.WithLabelValues(route, method).Observe(elapsed.Seconds())
		if tx := sentry.TransactionFromContext(r.Context()); tx != nil && route != "unmatched" {
			tx.Name = r.Method + " " + route
			tx.Source = sentry.SourceRoute
		}

		level := slog.LevelInfo
		if telemetry.IsHealthPath(r.URL.Path) {
			level = slog.LevelDebug
		}
		attrs := append([]any{"method", r.Method, "route", route, "status", status, "bytes", rec.bytes,
			"duration_ms", float64(elapsed.Microseconds()) / 1000, "user_id", st.userID}, extra...)
		a.log.Log(r.Context(), level, "http request", attrs...)
	})
}

// recoverPanics turns a panic in a handler into a 500 envelope with an
// error id, logs it once with the stack and reports it to Sentry with the
// same id. http.ErrAbortHandler is net/http's own way to abort and passes.
func (a *API) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler {
				panic(p)
			}
			ctx := r.Context()
			pub := rpcerr.InternalWithID()
			a.log.ErrorContext(ctx, "panic serving request", "panic", logx.Redact(fmt.Sprint(p)),
				"error_id", pub.ErrorID, "stack", string(debug.Stack()))
			// Captured here, inside the deferred call, so the event's stack
			// still holds the panicking frames.
			a.report(r, fmt.Errorf("panic: %v", p), pub.ErrorID)
			markReported(ctx)
			if rec, ok := w.(*statusRecorder); ok && rec.wroteHeader() {
				return // too late for an envelope; the client sees a cut response
			}
			writeError(w, a.log, "", pub)
		}()
		next.ServeHTTP(w, r)
	})
}

// Content security policies: API answers are JSON and never render; the
// docs page loads its own scripts and styles only (Swagger UI sets inline
// style attributes, hence 'unsafe-inline' for styles alone).
const (
	apiCSP  = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
	docsCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
		"connect-src 'self'; font-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)

// securityHeaders sets the headers every response carries; HSTS only in
// prod, where the gateway is behind TLS (in dev it would pin localhost to
// https in the browser).
func securityHeaders(hsts bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("X-Frame-Options", "DENY")
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("Content-Security-Policy", apiCSP)
			if hsts {
				h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
			}
			next.ServeHTTP(w, r)
		})
	}
}

// corsPolicy admits the configured origins with credentials; preflight
// requests are answered here, before authentication.
func corsPolicy(origins []string) func(http.Handler) http.Handler {
	return cors.Handler(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions},
		AllowedHeaders: []string{"Authorization", "Content-Type", "Accept", HeaderRequestID, "Last-Event-ID"},
		ExposedHeaders: []string{HeaderRequestID, "Retry-After", "Content-Disposition",
			"X-RateLimit-Limit", "X-RateLimit-Remaining"},
		AllowCredentials: true,
		MaxAge:           600,
	})
}
