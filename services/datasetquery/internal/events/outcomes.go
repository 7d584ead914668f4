package events

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/services/datasetquery/internal/datasets"
)

// Outcomes implements datasets.Outcomes with plain subscriptions to the
// owner's converted and failed events: a waiting request needs only the
// outcomes that happen while it waits.
type Outcomes struct {
	nc *nats.Conn
}

// NewOutcomes watches outcomes on nc.
func NewOutcomes(nc *nats.Conn) *Outcomes { return &Outcomes{nc: nc} }

// Watch delivers the dataset ids of the owner's conversion outcome events
// until stop is called. The subscriptions are on the server when it
// returns.
func (o *Outcomes) Watch(ctx context.Context, ownerID string) (<-chan string, func(), error) {
	ch := make(chan string, 64)
	handler := func(m *nats.Msg) {
		var e struct {
			DatasetID string `json:"dataset_id"`
		}
		if json.Unmarshal(m.Data, &e) != nil {
			return
		}
		select {
		case ch <- e.DatasetID:
		default: // a busy user's other outcomes; the recheck covers ours
		}
	}
	var subs []*nats.Subscription
	stop := func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
	}
	for _, ev := range []string{contracts.EventConverted, contracts.EventFailed} {
		s, err := o.nc.Subscribe(contracts.EventSubject(contracts.DomainDataset, ev, ownerID), handler)
		if err != nil {
			stop()
			return nil, nil, fmt.Errorf("watch conversion outcome: %w", err)
		}
		subs = append(subs, s)
	}
	// The subscriptions must be live at the server before the job exists.
	if err := o.nc.FlushWithContext(ctx); err != nil {
		stop()
		return nil, nil, fmt.Errorf("%w: %w", datasets.ErrBusUnavailable, err)
	}
	return ch, stop, nil
}
