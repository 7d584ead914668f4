// Package httpapi is the gateway's HTTP surface: the chi router, the response
// envelope of API.md and the translation of rpcerr errors into it.
package httpapi

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/nonefinity/backend/contracts/rpcerr"
)

// Envelope is the body of every API response.
type Envelope struct {
	Success bool            `json:"success"`
	Message string          `json:"message,omitempty"`
	Data    any             `json:"data,omitempty"`
	Meta    *PageMeta       `json:"meta,omitempty"`
	Errors  []*rpcerr.Error `json:"errors,omitempty"`
}

// PageMeta describes one page of a paged list.
type PageMeta struct {
	Total    int64 `json:"total"`
	Page     int64 `json:"page"`
	PageSize int64 `json:"page_size"`
	Pages    int64 `json:"pages"`
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

// writeError writes the error envelope with the status of the first error.
// 5xx messages stay generic; the cause was logged where it happened.
func writeError(w http.ResponseWriter, log *slog.Logger, message string, errs ...*rpcerr.Error) {
	status := http.StatusInternalServerError
	if len(errs) > 0 {
		status = errs[0].HTTPStatus()
	}
	writeJSON(w, log, status, Envelope{Success: false, Message: message, Errors: errs})
}
