package main

import (
	"context"
	"errors"
	"io"
	"net/url"
	"syscall"
)

// errorLabel names a transport error without its URL (a presigned URL
// carries a signature) and short enough for a table.
func errorLabel(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "error: client timeout"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		// How a server that refuses a body before reading it shows.
		return "error: connection closed by the server"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "error: connection closed by the server"
	}
	s := err.Error()
	if len(s) > 60 {
		s = s[:60] + "…"
	}
	return "error: " + s
}
