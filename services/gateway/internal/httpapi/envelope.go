// Package httpapi is the gateway's HTTP surface: the chi router with every
// route of API.md, the response envelope and the translation of rpcerr errors
// into it, request binding, authentication, rate limiting, metrics, the
// OpenAPI document and the interactive docs page.
//
// Every API route is the same short pipeline: bind the request, make one
// call through contracts/client over NATS, write the envelope.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/nonefinity/backend/contracts/paging"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/telemetry"
)

// Envelope is the body of every API response (API.md "Envelope"): Data and
// Meta on success, Errors on failure; null fields are omitted.
type Envelope struct {
	Success bool            `json:"success"`
	Message string          `json:"message,omitempty"`
	Data    any             `json:"data,omitempty"`
	Meta    *PageMeta       `json:"meta,omitempty"`
	Errors  []*rpcerr.Error `json:"errors,omitempty"`
}

// PageMeta describes one page of a paged list.
type PageMeta struct {
	Total    int `json:"total"`
	Page     int `json:"page"`
	PageSize int `json:"page_size"`
	Pages    int `json:"pages"`
}

// pageMeta is the meta of the window p over total items.
func pageMeta(p paging.Page, total int) *PageMeta {
	return &PageMeta{Total: total, Page: p.Number(), PageSize: p.Limit, Pages: p.Pages(total)}
}

// writeJSON writes v with status; encoding errors can only be logged, the
// status line is already out.
func writeJSON(w http.ResponseWriter, log *slog.Logger, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		log.Warn("write response", "err", err)
	}
}

// writeOK writes a success envelope.
func writeOK(w http.ResponseWriter, log *slog.Logger, status int, message string, data any) {
	writeJSON(w, log, status, Envelope{Success: true, Message: message, Data: data})
}

// writePage writes a success envelope of a paged list.
func writePage(w http.ResponseWriter, log *slog.Logger, message string, data any, meta *PageMeta) {
	writeJSON(w, log, http.StatusOK, Envelope{Success: true, Message: message, Data: data, Meta: meta})
}

// writeError writes the error envelope with the status of the first error.
// An empty message takes the first error's.
func writeError(w http.ResponseWriter, log *slog.Logger, message string, errs ...*rpcerr.Error) {
	status := http.StatusInternalServerError
	if len(errs) > 0 {
		status = errs[0].HTTPStatus()
		if message == "" {
			message = errs[0].Message
		}
	}
	writeJSON(w, log, status, Envelope{Success: false, Message: message, Errors: errs})
}

// fail answers a request that failed with err with publicError's error.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	ctx := r.Context()
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		// The client went away; nobody reads an answer.
		a.log.DebugContext(ctx, "request abandoned by the client", "err", err)
		return
	}
	writeError(w, a.log, "", a.publicError(ctx, routeName(r), err))
}

// publicError is what the caller of route may learn of err. A service's
// *rpcerr.Error is passed on with its code (503 naming the service when
// nobody answered); anything else is a bug on our side and becomes a
// generic internal error whose error id ties it to the one log line with
// the cause. 5xx messages never carry details. Every 5xx carries an error
// id and reaches Sentry once: one a service answered with its id was
// reported there; the others are reported here. The HTTP routes and the
// MCP tools both answer with it.
func (a *API) publicError(ctx context.Context, route string, err error) *rpcerr.Error {
	if re, ok := rpcerr.As(err); ok {
		if re.HTTPStatus() < http.StatusInternalServerError {
			return re
		}
		pub := *re
		if pub.Code == rpcerr.Internal {
			pub.Message = "internal error"
		}
		reportedByService := pub.ErrorID != ""
		if !reportedByService {
			pub.ErrorID = rpcerr.NewErrorID()
		}
		a.log.WarnContext(ctx, "request failed", "err", err, "code", pub.Code, "error_id", pub.ErrorID)
		if !reportedByService {
			a.reportAt(ctx, route, err, pub.ErrorID)
		}
		markReported(ctx)
		return &pub
	}
	pub := rpcerr.InternalWithID()
	a.log.ErrorContext(ctx, "request failed", "err", err, "error_id", pub.ErrorID)
	a.reportAt(ctx, route, err, pub.ErrorID)
	markReported(ctx)
	return pub
}

// report sends a 5xx of the gateway's own to Sentry, named by its route.
func (a *API) report(r *http.Request, err error, errorID string) {
	a.reportAt(r.Context(), routeName(r), err, errorID)
}

func (a *API) reportAt(ctx context.Context, route string, err error, errorID string) {
	telemetry.CaptureFailure(ctx, telemetry.Failure{Err: err, ErrorID: errorID, Service: "gateway", Route: route})
}

// routeName is "METHOD /route/{pattern}", or the method alone before
// routing.
func routeName(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
		return r.Method + " " + rc.RoutePattern()
	}
	return r.Method
}
