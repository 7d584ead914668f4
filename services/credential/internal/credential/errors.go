package credential

import (
	"errors"
	"fmt"

	"github.com/nonefinity/backend/pkg/fielderr"
)

// Sentinel errors; adapters map them to wire codes in one place.
var (
	// ErrNoUser: the request carries no user id.
	ErrNoUser = errors.New("the request names no user")
	// ErrInvalid: an input field breaks a rule; see fielderr.Error.
	ErrInvalid = errors.New("invalid input")
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
	// ErrDatabaseUnavailable: the store cannot serve now; a retry later
	// may succeed.
	ErrDatabaseUnavailable = errors.New("database unavailable")
	// ErrCanaryMismatch: the configured secret does not decrypt what is
	// stored; the service must not start.
	ErrCanaryMismatch = errors.New("the configured CREDENTIAL_SECRET_KEY does not decrypt the stored canary")
)

func invalid(field, format string, args ...any) error {
	return fielderr.New(ErrInvalid, field, fmt.Sprintf(format, args...))
}
