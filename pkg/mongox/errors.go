package mongox

import (
	"errors"
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"
)

// ErrUnavailable is Health.Err while the database is known to be down: it
// cannot be reached or cannot serve now, and a request may succeed later.
// IsUnavailable recognizes it with the driver's own such errors.
var ErrUnavailable = errors.New("database unavailable")

// IsDuplicateKey reports whether err is a unique-index violation. It is
// the one place that knows how each server reports one:
//
//   - MongoDB: a write or command error with code 11000;
//   - FerretDB v1: a violation caused by an update (not an insert) is an
//     InternalError carrying SQLite's "UNIQUE constraint failed" text, and
//     one caused by findAndModify a plain command error the driver does not
//     classify, so the message is checked too.
//
// Either way a rename onto a taken name is a conflict on both servers.
func IsDuplicateKey(err error) bool {
	if err == nil {
		return false
	}
	if mongo.IsDuplicateKeyError(err) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "E11000") || strings.Contains(msg, "duplicate key") ||
		strings.Contains(msg, "UNIQUE constraint failed")
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
// down or stepping down, and Health.Err's ErrUnavailable while the database
// is known to be down. Callers answer 503 for these.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrUnavailable) ||
		errors.As(err, new(topology.ServerSelectionError)) ||
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

// CoreErrors are the sentinels a store gives the driver errors its core
// must tell apart, declared by that core; nil leaves that kind of error as
// it is. The core never sees the driver, and its natsapi maps the sentinels
// to wire codes once.
type CoreErrors struct {
	// NotFound replaces mongo.ErrNoDocuments.
	NotFound error
	// Duplicate marks a unique-index violation (IsDuplicateKey).
	Duplicate error
	// Unavailable marks a database that cannot serve now (IsUnavailable).
	Unavailable error
}

// Map wraps err with the sentinel of its kind, keeping the driver error for
// errors.Is and for the log line (Error() includes it); any other error,
// and nil, is returned unchanged.
func (c CoreErrors) Map(err error) error {
	var sentinel error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mongo.ErrNoDocuments):
		sentinel = c.NotFound
	case IsUnavailable(err):
		sentinel = c.Unavailable
	case IsDuplicateKey(err):
		sentinel = c.Duplicate
	}
	if sentinel == nil {
		return err
	}
	return fmt.Errorf("%w: %w", sentinel, err)
}
