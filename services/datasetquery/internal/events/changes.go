package events

import (
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/nonefinity/backend/contracts"
)

// changesBuffer holds the dataset events received between two queries on
// an idle instance; past it events are dropped, which the epoch reports
// (every session then reads its catalog again), so it bounds memory, not
// correctness.
const changesBuffer = 4096

// Changes receives every instance's dataset events on a plain subscription
// (no JetStream consumer: a missed event only costs a catalog read, which
// the epoch forces) and implements duck.ChangeFeed.
type Changes struct {
	nc  *nats.Conn
	sub *nats.Subscription
	ch  chan *nats.Msg

	mu sync.Mutex // one drain at a time, so changes are applied in order
}

// WatchChanges subscribes to evt.dataset.v1.> on nc. The subscription is
// on the server when it returns.
func WatchChanges(nc *nats.Conn) (*Changes, error) {
	c := &Changes{nc: nc, ch: make(chan *nats.Msg, changesBuffer)}
	sub, err := nc.ChanSubscribe(contracts.DomainFilter(contracts.DomainDataset), c.ch)
	if err != nil {
		return nil, fmt.Errorf("subscribe to dataset events: %w", err)
	}
	c.sub = sub
	if err := nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("subscribe to dataset events: %w", err)
	}
	return c, nil
}

// Drain calls changed with the owner of every event received so far. The
// epoch counts reconnects and dropped events: while the subscription was
// gone or overflowing, changes may have been missed.
func (c *Changes) Drain(changed func(ownerID string)) (epoch uint64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		select {
		case msg := <-c.ch:
			if owner := contracts.UserIDFromSubject(msg.Subject); owner != "" {
				changed(owner)
			}
			continue
		default:
		}
		break
	}
	dropped, err := c.sub.Dropped()
	if err != nil || !c.sub.IsValid() || !c.nc.IsConnected() {
		return 0, false
	}
	return c.nc.Stats().Reconnects<<32 | uint64(uint32(dropped)), true
}

// Stop ends the subscription.
func (c *Changes) Stop() { _ = c.sub.Unsubscribe() }
