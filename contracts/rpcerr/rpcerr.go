// Package rpcerr is the one error model of the system: a service returns an
// *Error, micro carries it as headers plus a JSON body, and the gateway turns
// it into the HTTP error envelope with the same status.
package rpcerr

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
)

// Code is a stable, machine-readable error code.
type Code string

const (
	BadRequest           Code = "bad_request"
	Unauthorized         Code = "unauthorized"
	Forbidden            Code = "forbidden"
	NotFound             Code = "not_found"
	MethodNotAllowed     Code = "method_not_allowed"
	Conflict             Code = "conflict"
	TooLarge             Code = "too_large"
	UnsupportedMediaType Code = "unsupported_media_type"
	Validation           Code = "validation"
	RateLimited          Code = "rate_limited"
	Unavailable          Code = "unavailable"
	Timeout              Code = "timeout"
	Internal             Code = "internal"
)

var statusOf = map[Code]int{
	BadRequest:           http.StatusBadRequest,
	Unauthorized:         http.StatusUnauthorized,
	Forbidden:            http.StatusForbidden,
	NotFound:             http.StatusNotFound,
	MethodNotAllowed:     http.StatusMethodNotAllowed,
	Conflict:             http.StatusConflict,
	TooLarge:             http.StatusRequestEntityTooLarge,
	UnsupportedMediaType: http.StatusUnsupportedMediaType,
	Validation:           http.StatusUnprocessableEntity,
	RateLimited:          http.StatusTooManyRequests,
	Unavailable:          http.StatusServiceUnavailable,
	Timeout:              http.StatusGatewayTimeout,
	Internal:             http.StatusInternalServerError,
}

// HTTPStatus is the HTTP status the gateway answers with for this code.
func (c Code) HTTPStatus() int {
	if s, ok := statusOf[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// CodeForStatus maps an HTTP status back to a code; unknown 4xx become
// bad_request and unknown 5xx internal.
func CodeForStatus(status int) Code {
	for c, s := range statusOf {
		if s == status {
			return c
		}
	}
	if status >= 400 && status < 500 {
		return BadRequest
	}
	return Internal
}

// Error is the wire form of a failed request: the JSON body of a micro error
// reply and, unchanged, one entry of the HTTP envelope's "errors".
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	ErrorID string `json:"error_id,omitempty"`
}

func (e *Error) Error() string {
	if e.Field != "" {
		return string(e.Code) + ": " + e.Field + ": " + e.Message
	}
	return string(e.Code) + ": " + e.Message
}

// HTTPStatus is the status of the error's code.
func (e *Error) HTTPStatus() int { return e.Code.HTTPStatus() }

// New builds an error with a code and a message safe to show to the caller.
func New(code Code, message string) *Error { return &Error{Code: code, Message: message} }

// Field builds an error about one input field.
func Field(code Code, field, message string) *Error {
	return &Error{Code: code, Message: message, Field: field}
}

// Newf-style helpers for the common cases.
func NotFoundf(message string) *Error      { return New(NotFound, message) }
func Invalid(field, message string) *Error { return Field(Validation, field, message) }

// InternalWithID returns a generic internal error carrying a fresh error id;
// the caller logs the real cause once, with that id, and shows only this.
func InternalWithID() *Error {
	return &Error{Code: Internal, Message: "internal error", ErrorID: NewErrorID()}
}

// NewErrorID returns a random id that ties a generic message to a log line.
func NewErrorID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// As returns err as an *Error when it is one (or wraps one).
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// Micro error headers, as set by nats.go/micro's Request.Error.
const (
	HeaderErrorCode = "Nats-Service-Error-Code"
	HeaderError     = "Nats-Service-Error"
)

// MicroCode is the value of Nats-Service-Error-Code: the HTTP status.
func (e *Error) MicroCode() string { return strconv.Itoa(e.HTTPStatus()) }

// Body is the JSON body of a micro error reply.
func (e *Error) Body() []byte {
	b, _ := json.Marshal(e)
	return b
}

// FromMicro rebuilds an error from a micro error reply's headers and body. It
// returns nil when the headers carry no error.
func FromMicro(header map[string][]string, body []byte) *Error {
	codeHdr := first(header, HeaderErrorCode)
	if codeHdr == "" {
		return nil
	}
	var e Error
	if len(body) > 0 && json.Unmarshal(body, &e) == nil && e.Code != "" {
		return &e
	}
	status, err := strconv.Atoi(codeHdr)
	if err != nil {
		status = http.StatusInternalServerError
	}
	msg := first(header, HeaderError)
	if msg == "" {
		msg = http.StatusText(status)
	}
	return &Error{Code: CodeForStatus(status), Message: msg}
}

func first(h map[string][]string, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}
