package webhook

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/nonefinity/backend/contracts/rpcerr"
)

// envelope is API.md's response body. It mirrors httpapi's envelope; this
// package cannot import httpapi (httpapi mounts this handler).
type envelope struct {
	Success bool            `json:"success"`
	Message string          `json:"message,omitempty"`
	Data    any             `json:"data,omitempty"`
	Errors  []*rpcerr.Error `json:"errors,omitempty"`
}

func writeEnvelope(w http.ResponseWriter, log *slog.Logger, status int, v envelope) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		log.Warn("write webhook response", "err", err)
	}
}

// writeError answers with err's rpcerr code. An error without one is a bug:
// it is logged with a fresh error id and shown only as that id. 5xx causes
// are logged here, once; the body keeps only the generic message.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	re, ok := rpcerr.As(err)
	switch {
	case !ok:
		re = rpcerr.InternalWithID()
		h.log.ErrorContext(r.Context(), "clerk webhook failed", "err", err, "error_id", re.ErrorID)
	case re.HTTPStatus() >= 500:
		h.log.WarnContext(r.Context(), "clerk webhook not handled", "err", err)
	}
	writeEnvelope(w, h.log, re.HTTPStatus(), envelope{Success: false, Message: re.Message, Errors: []*rpcerr.Error{re}})
}
