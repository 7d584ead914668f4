package events

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/services/credential/internal/credential"
)

// reloadTimeout bounds one reload of the catalogue after a broadcast.
const reloadTimeout = 10 * time.Second

// Broadcast tells every credential instance, this one included, that the
// catalogue was refreshed or one owner's credentials changed (core NATS,
// contracts.ProvidersRefreshedSubject and CredentialsChangedSubject).
type Broadcast struct{ NC *nats.Conn }

var _ credential.Broadcaster = Broadcast{}

// ProvidersChanged publishes the refresh. NATS keeps one connection's
// messages in order, so it reaches the server before the refresh's reply.
func (b Broadcast) ProvidersChanged(context.Context) error {
	if err := b.NC.Publish(contracts.ProvidersRefreshedSubject(), nil); err != nil {
		return fmt.Errorf("publish providers refreshed: %w", err)
	}
	return nil
}

// CredentialsChanged publishes the owner whose credentials changed, before
// the change's reply, as above.
func (b Broadcast) CredentialsChanged(_ context.Context, ownerID string) error {
	if err := b.NC.Publish(contracts.CredentialsChangedSubject(), []byte(ownerID)); err != nil {
		return fmt.Errorf("publish credentials changed: %w", err)
	}
	return nil
}

// Reloader is what the refresh's subscriber needs from the core.
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
	if err := confirm(nc, sub); err != nil {
		return nil, fmt.Errorf("subscribe to provider refreshes: %w", err)
	}
	return sub, nil
}

// confirm waits until the server has the subscription, so no broadcast
// after the service starts serving is missed.
func confirm(nc *nats.Conn, sub *nats.Subscription) error {
	if err := nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		return err
	}
	return nil
}

// Forgetter is what the changes' subscriber needs from the core.
type Forgetter interface {
	Forget(ownerID string)
	ForgetAll()
}

var _ Forgetter = (*credential.ListCache)(nil)

// changesBuffer is how many announcements wait between two catch-ups (the
// channel's size is the subscription's limit); past it NATS drops them and
// every list is forgotten.
const changesBuffer = 1 << 16

// catchUpEvery applies announcements between lists too, so the buffer
// stays short when no list is asked for.
const catchUpEvery = 100 * time.Millisecond

// CredentialChanges hears the other instances' credential changes. Its
// channel subscription is filled by the connection's reader in the order
// messages arrive, before that reader hands this instance a later request;
// CatchUp applies whatever is in it, so a list served after it has every
// change announced before its request (on one NATS server; across a
// cluster, routes may reorder by a moment, and ListsMaxAge bounds that).
type CredentialChanges struct {
	f       Forgetter
	sub     *nats.Subscription
	ch      chan *nats.Msg
	mu      sync.Mutex
	dropped int
	stop    chan struct{}
	done    chan struct{}
}

var _ credential.ChangeFeed = (*CredentialChanges)(nil)

// FollowCredentialChanges subscribes, without a queue group, to every
// instance's changes. Stop ends it.
func FollowCredentialChanges(nc *nats.Conn, f Forgetter) (*CredentialChanges, error) {
	c := &CredentialChanges{f: f, ch: make(chan *nats.Msg, changesBuffer), stop: make(chan struct{}), done: make(chan struct{})}
	sub, err := nc.ChanSubscribe(contracts.CredentialsChangedSubject(), c.ch)
	if err != nil {
		return nil, fmt.Errorf("subscribe to credential changes: %w", err)
	}
	if err := confirm(nc, sub); err != nil {
		return nil, fmt.Errorf("subscribe to credential changes: %w", err)
	}
	c.sub = sub
	go c.run()
	return c, nil
}

func (c *CredentialChanges) run() {
	defer close(c.done)
	t := time.NewTicker(catchUpEvery)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.CatchUp()
		}
	}
}

// CatchUp applies every announcement received so far.
func (c *CredentialChanges) CatchUp() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, err := c.sub.Dropped(); err == nil && n != c.dropped {
		c.dropped = n
		c.f.ForgetAll()
	}
	for {
		select {
		case m := <-c.ch:
			c.f.Forget(string(m.Data))
		default:
			return
		}
	}
}

// Stop unsubscribes and ends the catch-ups.
func (c *CredentialChanges) Stop() {
	_ = c.sub.Unsubscribe()
	close(c.stop)
	<-c.done
}
