package credential

import (
	"errors"
	"fmt"
)

// Sentinel errors; adapters map them to wire codes in one place.
var (
	// ErrNoUser: the request carries no user id.
	ErrNoUser = errors.New("the request names no user")
	// ErrNotFound: no such live credential of this user (another user's
	// credential is not found either).
	ErrNotFound = errors.New("credential not found")
	// ErrDuplicateName: the user already has a live credential of this name.
	ErrDuplicateName = errors.New("a credential with this name already exists")
	// ErrProviderNotFound: no provider of this name.
	ErrProviderNotFound = errors.New("provider not found")
	// ErrNothingToUpdate: an update that sets no field.
	ErrNothingToUpdate = errors.New("no field to update")
	// ErrInactive: the credential is switched off and is not handed out.
	ErrInactive = errors.New("credential is inactive")
	// ErrUndecryptable: a stored key no configured secret decrypts.
	ErrUndecryptable = errors.New("stored key cannot be decrypted")
	// ErrRotationLeaseLost: another instance took over the rotation.
	ErrRotationLeaseLost = errors.New("rotation lease lost to another instance")
	// ErrInvalidCatalog: the providers file does not load; its error names
	// the line.
	ErrInvalidCatalog = errors.New("invalid providers file")
	// ErrCanaryMismatch: the configured secret does not decrypt what is
	// stored; the service must not start.
	ErrCanaryMismatch = errors.New("the configured CREDENTIAL_SECRET_KEY does not decrypt the stored canary")
)

// ValidationError is bad input in one field.
type ValidationError struct {
	Field   string
	Message string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Message }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// AsValidation returns err as a *ValidationError when it is one.
func AsValidation(err error) (*ValidationError, bool) {
	var v *ValidationError
	if errors.As(err, &v) {
		return v, true
	}
	return nil, false
}
