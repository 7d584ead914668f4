package testkit

import (
	"testing"

	"github.com/nonefinity/backend/contracts/rpcerr"
)

// WantCode fails t at once unless err carries code: an *rpcerr.Error
// anywhere in its chain, which is how a service's error reaches a caller
// through contracts/client. It returns that error for further checks.
func WantCode(t testing.TB, err error, code rpcerr.Code) *rpcerr.Error {
	t.Helper()
	re, ok := rpcerr.As(err)
	if !ok {
		t.Fatalf("error %v is not an rpcerr (want %s)", err, code)
	}
	if re.Code != code {
		t.Fatalf("error code %s (%s), want %s", re.Code, re.Message, code)
	}
	return re
}

// WantField is WantCode for an error that names the request field at
// fault.
func WantField(t testing.TB, err error, code rpcerr.Code, field string) *rpcerr.Error {
	t.Helper()
	re := WantCode(t, err, code)
	if re.Field != field {
		t.Fatalf("error %s names field %q (%s), want %q", re.Code, re.Field, re.Message, field)
	}
	return re
}
