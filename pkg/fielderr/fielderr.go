// Package fielderr is the one shape of "this input field breaks a rule",
// shared by every service's core: the field as the caller named it, a
// message fit to show, and the kind of rule (a sentinel the core declares,
// such as its ErrInvalid or ErrTooLarge) that its natsapi maps to a wire
// code. It knows nothing of the wire.
package fielderr

import "errors"

// Error is a rule broken by one input field. It wraps its Kind, so
// errors.Is(err, core.ErrInvalid) finds it.
type Error struct {
	Field   string
	Message string
	Kind    error
}

// New is the error of field breaking a rule of kind.
func New(kind error, field, message string) *Error {
	return &Error{Field: field, Message: message, Kind: kind}
}

func (e *Error) Error() string { return e.Field + ": " + e.Message }
func (e *Error) Unwrap() error { return e.Kind }

// As returns err as an *Error when it is one (or wraps one).
func As(err error) (*Error, bool) {
	var fe *Error
	if errors.As(err, &fe) {
		return fe, true
	}
	return nil, false
}
