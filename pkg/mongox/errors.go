package mongox

import (
	"errors"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"github.com/nonefinity/backend/contracts/rpcerr"
)

// ParseID parses a hex ObjectID from a path or request field. A malformed id
// cannot name any document, so it is reported exactly like a missing one:
// rpcerr NotFound, not a validation error and never a 500.
func ParseID(s string) (bson.ObjectID, error) {
	id, err := bson.ObjectIDFromHex(s)
	if err != nil {
		return bson.NilObjectID, rpcerr.New(rpcerr.NotFound, "not found")
	}
	return id, nil
}

// IsDuplicateKey reports whether err is a unique-index violation.
//
// FerretDB v1 reports a unique violation caused by an update (not an insert)
// as an InternalError carrying SQLite's "UNIQUE constraint failed" text
// instead of code 11000; that is recognised too so a rename onto a taken name
// is a 409 on both servers.
func IsDuplicateKey(err error) bool {
	if err == nil {
		return false
	}
	if mongo.IsDuplicateKeyError(err) {
		return true
	}
	var ce mongo.CommandError
	return errors.As(err, &ce) && strings.Contains(ce.Message, "UNIQUE constraint failed")
}

// Server error codes that mean "this node cannot serve you right now"; the
// request may succeed later against a healthy primary.
var unavailableCodes = []int{
	91,    // ShutdownInProgress
	189,   // PrimarySteppedDown
	10107, // NotWritablePrimary
	11600, // InterruptedAtShutdown
	11602, // InterruptedDueToReplStateChange
	13435, // NotPrimaryNoSecondaryOk
	13436, // NotPrimaryOrSecondary
}

// IsUnavailable reports whether err means the database could not be reached
// or cannot serve now: no server selectable before the timeout, a broken
// connection, an exhausted pool, a disconnected client, or a node shutting
// down or stepping down. Callers answer 503 for these.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.As(err, new(topology.ServerSelectionError)) ||
		errors.As(err, new(topology.ConnectionError)) ||
		errors.As(err, new(topology.WaitQueueTimeoutError)) ||
		errors.Is(err, mongo.ErrClientDisconnected) ||
		mongo.IsNetworkError(err) {
		return true
	}
	var se mongo.ServerError
	if errors.As(err, &se) {
		for _, c := range unavailableCodes {
			if se.HasErrorCode(c) {
				return true
			}
		}
	}
	return false
}

// MapError turns the driver errors every store meets into rpcerr codes:
// mongo.ErrNoDocuments → NotFound (notFoundMsg, "not found" when empty), an
// unreachable database → Unavailable, a duplicate key → Conflict. Anything
// else, including an error that already carries an rpcerr code, is returned
// unchanged.
//
// A mapped error still wraps the driver error: rpcerr.As finds the code,
// errors.Is finds the cause, and Error() includes the cause for the log line
// (the rpcerr body sent to clients does not).
func MapError(err error, notFoundMsg string) error {
	if err == nil {
		return nil
	}
	if _, ok := rpcerr.As(err); ok {
		return err
	}
	if notFoundMsg == "" {
		notFoundMsg = "not found"
	}
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return &mappedError{code: rpcerr.New(rpcerr.NotFound, notFoundMsg), cause: err}
	case IsUnavailable(err):
		return &mappedError{code: rpcerr.New(rpcerr.Unavailable, "database unavailable"), cause: err}
	case IsDuplicateKey(err):
		return &mappedError{code: rpcerr.New(rpcerr.Conflict, "already exists"), cause: err}
	}
	return err
}

// mappedError pairs the code shown to the caller with the driver error kept
// for logs and errors.Is.
type mappedError struct {
	code  *rpcerr.Error
	cause error
}

func (e *mappedError) Error() string   { return e.code.Error() + ": " + e.cause.Error() }
func (e *mappedError) Unwrap() []error { return []error{e.code, e.cause} }
