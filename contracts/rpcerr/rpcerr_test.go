package rpcerr_test

import (
	"errors"
	"flag"
	"fmt"
	"net/http"
	"regexp"
	"testing"

	"github.com/nonefinity/backend/contracts/internal/golden"
	"github.com/nonefinity/backend/contracts/rpcerr"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the current types")

// statuses is the table of API.md's error section; every code is listed.
var statuses = map[rpcerr.Code]int{
	rpcerr.BadRequest:           400,
	rpcerr.Unauthorized:         401,
	rpcerr.Forbidden:            403,
	rpcerr.NotFound:             404,
	rpcerr.Conflict:             409,
	rpcerr.TooLarge:             413,
	rpcerr.UnsupportedMediaType: 415,
	rpcerr.Validation:           422,
	rpcerr.RateLimited:          429,
	rpcerr.Internal:             500,
	rpcerr.Unavailable:          503,
	rpcerr.Timeout:              504,
}

func TestHTTPStatusOfEveryCode(t *testing.T) {
	for code, want := range statuses {
		if got := code.HTTPStatus(); got != want {
			t.Errorf("%s.HTTPStatus() = %d, want %d", code, got, want)
		}
		e := rpcerr.New(code, "m")
		if e.HTTPStatus() != want || e.MicroCode() != fmt.Sprint(want) {
			t.Errorf("%s: error status %d, micro code %q", code, e.HTTPStatus(), e.MicroCode())
		}
	}
	if got := rpcerr.Code("made_up").HTTPStatus(); got != 500 {
		t.Errorf("unknown code maps to %d, want 500", got)
	}
}

// Status -> code -> status is the identity for every code (so the mapping
// is one-to-one), and unknown statuses fall back by class.
func TestCodeForStatus(t *testing.T) {
	for code, status := range statuses {
		if got := rpcerr.CodeForStatus(status); got != code {
			t.Errorf("CodeForStatus(%d) = %s, want %s", status, got, code)
		}
	}
	for status, want := range map[int]rpcerr.Code{
		http.StatusTeapot:        rpcerr.BadRequest,
		http.StatusGone:          rpcerr.BadRequest,
		http.StatusBadGateway:    rpcerr.Internal,
		http.StatusNotAcceptable: rpcerr.BadRequest,
		http.StatusOK:            rpcerr.Internal,
	} {
		if got := rpcerr.CodeForStatus(status); got != want {
			t.Errorf("CodeForStatus(%d) = %s, want %s", status, got, want)
		}
	}
}

func TestWireFormat(t *testing.T) {
	golden.CheckAll(t, []golden.Case{
		{Name: "error_full", Value: rpcerr.Error{
			Code: rpcerr.Internal, Message: "internal error", Field: "query", ErrorID: "3f2a9c0d1b4e5f60",
		}},
		{Name: "error_field", Value: *rpcerr.Invalid("dataset_name", "must match [A-Za-z_][A-Za-z0-9_]*")},
		{Name: "error_minimal", Value: *rpcerr.NotFoundf("credential not found")},
	}, *update)
}

func microHeader(code, msg string) map[string][]string {
	h := map[string][]string{rpcerr.HeaderErrorCode: {code}}
	if msg != "" {
		h[rpcerr.HeaderError] = []string{msg}
	}
	return h
}

func TestFromMicro(t *testing.T) {
	conflict := rpcerr.Field(rpcerr.Conflict, "name", "a credential named \"k\" exists")
	for _, tc := range []struct {
		name   string
		header map[string][]string
		body   []byte
		want   *rpcerr.Error
	}{
		{"body wins", microHeader("409", "Conflict"), conflict.Body(), conflict},
		{"body keeps error id", microHeader("500", "x"), []byte(`{"code":"internal","message":"internal error","error_id":"ab12"}`),
			&rpcerr.Error{Code: rpcerr.Internal, Message: "internal error", ErrorID: "ab12"}},
		{"headers only", microHeader("404", "file not found"), nil,
			&rpcerr.Error{Code: rpcerr.NotFound, Message: "file not found"}},
		{"headers only, no message", microHeader("503", ""), nil,
			&rpcerr.Error{Code: rpcerr.Unavailable, Message: "Service Unavailable"}},
		{"body not ours", microHeader("429", "slow down"), []byte(`{"detail":"x"}`),
			&rpcerr.Error{Code: rpcerr.RateLimited, Message: "slow down"}},
		{"body not json", microHeader("400", "bad"), []byte("oops"),
			&rpcerr.Error{Code: rpcerr.BadRequest, Message: "bad"}},
		{"code not numeric", microHeader("boom", "broken"), nil,
			&rpcerr.Error{Code: rpcerr.Internal, Message: "broken"}},
		{"no error headers", map[string][]string{"Other": {"1"}}, []byte(`{"code":"not_found","message":"x"}`), nil},
		{"nil headers", nil, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := rpcerr.FromMicro(tc.header, tc.body)
			switch {
			case tc.want == nil && got != nil:
				t.Errorf("got %+v, want nil", got)
			case tc.want != nil && (got == nil || *got != *tc.want):
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// What a service sends (MicroCode header, Body) is what FromMicro rebuilds.
func TestMicroRoundTrip(t *testing.T) {
	for code := range statuses {
		sent := &rpcerr.Error{Code: code, Message: "msg for " + string(code), Field: "f", ErrorID: "0011223344556677"}
		header := microHeader(sent.MicroCode(), sent.Message)
		if got := rpcerr.FromMicro(header, sent.Body()); got == nil || *got != *sent {
			t.Errorf("%s: body round trip gave %+v", code, got)
		}
		got := rpcerr.FromMicro(header, nil)
		if got == nil || got.Code != code || got.Message != sent.Message {
			t.Errorf("%s: header-only round trip gave %+v", code, got)
		}
	}
}

func TestErrorString(t *testing.T) {
	if got := rpcerr.New(rpcerr.Conflict, "duplicate name").Error(); got != "conflict: duplicate name" {
		t.Errorf("Error() = %q", got)
	}
	if got := rpcerr.Invalid("limit", "must be 1..100").Error(); got != "validation: limit: must be 1..100" {
		t.Errorf("Error() = %q", got)
	}
}

func TestAsFindsWrappedErrors(t *testing.T) {
	base := rpcerr.New(rpcerr.Forbidden, "admin only")
	e, ok := rpcerr.As(fmt.Errorf("svc.dataset.v1.duckdb_cleanup: %w", base))
	if !ok || e != base {
		t.Fatalf("As(wrapped) = %v, %v", e, ok)
	}
	if _, ok := rpcerr.As(errors.New("plain")); ok {
		t.Error("As(plain error) reported an rpcerr.Error")
	}
	if _, ok := rpcerr.As(nil); ok {
		t.Error("As(nil) reported an rpcerr.Error")
	}
}

func TestInternalWithID(t *testing.T) {
	a, b := rpcerr.InternalWithID(), rpcerr.InternalWithID()
	hex16 := regexp.MustCompile(`^[0-9a-f]{16}$`)
	if a.Code != rpcerr.Internal || a.Message != "internal error" || !hex16.MatchString(a.ErrorID) {
		t.Errorf("InternalWithID() = %+v", a)
	}
	if a.ErrorID == b.ErrorID {
		t.Errorf("two error ids are equal: %s", a.ErrorID)
	}
}
