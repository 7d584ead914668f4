package events

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/services/credential/internal/credential"
)

// reloadTimeout bounds one reload of the catalogue after a broadcast.
const reloadTimeout = 10 * time.Second

// ProvidersBroadcast tells every credential instance that the catalogue
// was refreshed (contracts.ProvidersRefreshedSubject, core NATS).
type ProvidersBroadcast struct{ NC *nats.Conn }

var _ credential.Broadcaster = ProvidersBroadcast{}

// ProvidersChanged publishes the broadcast. NATS keeps one connection's
// messages in order, so it reaches the server before the refresh's reply.
func (b ProvidersBroadcast) ProvidersChanged(context.Context) error {
	if err := b.NC.Publish(contracts.ProvidersRefreshedSubject(), nil); err != nil {
		return fmt.Errorf("publish providers refreshed: %w", err)
	}
	return nil
}

// Reloader is what the broadcast's subscriber needs from the core.
type Reloader interface {
	ReloadProviders(ctx context.Context) error
}

var _ Reloader = (*credential.Service)(nil)

// FollowProviderRefreshes reloads the catalogue held in memory whenever an
// instance, this one included, refreshed it. There is no queue group: every
// instance gets every broadcast. reloaded, when set, is called after each
// reload (tests).
func FollowProviderRefreshes(nc *nats.Conn, r Reloader, log *slog.Logger, reloaded func()) (*nats.Subscription, error) {
	sub, err := nc.Subscribe(contracts.ProvidersRefreshedSubject(), func(*nats.Msg) {
		ctx, cancel := context.WithTimeout(context.Background(), reloadTimeout)
		defer cancel()
		if err := r.ReloadProviders(ctx); err != nil {
			// The next request reads the store again.
			log.Warn("reload providers after a refresh", "error", err)
		}
		if reloaded != nil {
			reloaded()
		}
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe to provider refreshes: %w", err)
	}
	// Subscribed at the server before the service serves, so no refresh
	// after startup is missed.
	if err := nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("subscribe to provider refreshes: %w", err)
	}
	return sub, nil
}
