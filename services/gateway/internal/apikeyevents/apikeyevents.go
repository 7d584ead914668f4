// Package apikeyevents carries API key invalidations between gateway
// instances over core NATS: the instance that revokes, deletes, erases or
// re-scopes a key broadcasts bcast.gateway.v1.apikey_invalidated, and every
// instance (no queue group: each must hear it) drops the key from its
// cache.
package apikeyevents

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/apikeyv1"
	"github.com/nonefinity/backend/services/gateway/internal/apikeys"
)

// Publisher implements apikeys.Publisher.
type Publisher struct{ NC *nats.Conn }

var _ apikeys.Publisher = Publisher{}

// Invalidated publishes the event and waits until the server has it, so
// that a revocation answered to the client is already on its way to every
// instance.
func (p Publisher) Invalidated(ctx context.Context, k apikeys.Key, reason string, at time.Time) error {
	e := apikeyv1.KeyInvalidated{KeyID: k.ID, UserID: k.OwnerID, Reason: reason, At: at.UTC()}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := p.NC.Publish(e.Subject(), b); err != nil {
		return fmt.Errorf("publish %s: %w", e.Subject(), err)
	}
	fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return p.NC.FlushWithContext(fctx)
}

// Subscribe calls evict with the key id of every invalidation any instance
// publishes, until the subscription is drained.
func Subscribe(nc *nats.Conn, evict func(keyID string), log *slog.Logger) (*nats.Subscription, error) {
	sub, err := nc.Subscribe(contracts.APIKeyInvalidatedSubject(), func(m *nats.Msg) {
		var e apikeyv1.KeyInvalidated
		if err := json.Unmarshal(m.Data, &e); err != nil || e.KeyID == "" {
			log.Warn("ignored a malformed API key invalidation", "subject", m.Subject)
			return
		}
		evict(e.KeyID)
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe to API key invalidations: %w", err)
	}
	return sub, nil
}
