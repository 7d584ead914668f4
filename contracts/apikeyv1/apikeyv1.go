// Package apikeyv1 is the event the gateway publishes when a personal API
// key stops working as it did (revoked, deleted, erased with its user, or
// its scopes changed), so that every gateway instance drops it from its key
// cache at once.
package apikeyv1

import (
	"time"

	"github.com/nonefinity/backend/contracts"
)

// Reasons a key was invalidated.
const (
	ReasonRevoked = "revoked"
	ReasonDeleted = "deleted"
	ReasonUpdated = "updated"
	ReasonErased  = "erased"
)

// KeyInvalidated is broadcast on bcast.gateway.v1.apikey_invalidated
// (contracts.APIKeyInvalidatedSubject, core NATS, no stream keeps it): every
// gateway instance subscribes without a queue group, and one that misses it
// still drops the key when its cache entry expires.
type KeyInvalidated struct {
	KeyID  string    `json:"key_id"`
	UserID string    `json:"user_id"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// Subject is the subject this event is published on.
func (KeyInvalidated) Subject() string { return contracts.APIKeyInvalidatedSubject() }
