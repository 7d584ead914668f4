package datasets

import (
	"context"
	"errors"
	"time"
)

// Outcomes tells a waiting conversion that one of the owner's conversions
// ended (package events implements it over the DATASETS events).
type Outcomes interface {
	// Watch delivers the ids of the owner's datasets whose conversion
	// ended, from its return until stop is called. It may drop ids while
	// the receiver is busy. A bus that cannot be reached is
	// ErrBusUnavailable.
	Watch(ctx context.Context, ownerID string) (ids <-chan string, stop func(), err error)
}

// ErrBusUnavailable: the message bus that carries conversion outcomes
// cannot be reached.
var ErrBusUnavailable = errors.New("message bus unavailable")

// convertRecheck is how often a waiting conversion reads its dataset
// again: the safety net for an outcome event that was lost.
const convertRecheck = 2 * time.Second

// Convert starts a conversion (see StartConvert) and waits up to wait for
// its outcome; the caller fits wait into its own deadline. It returns the
// dataset ready or failed, or still processing when the wait or ctx ended
// first (the job goes on); wait <= 0 returns at once. The outcome is
// watched before the job is queued, so it cannot slip by. idle, when set,
// is called once only the wait is left: the caller's work is done and it
// may give its place to others' (natsx.LeaveShare).
func (s *Service) Convert(ctx context.Context, ownerID string, r ConvertRequest, wait time.Duration, idle func()) (d Dataset, existing bool, err error) {
	var outcome <-chan string
	if wait > 0 && s.outcomes != nil {
		ids, stop, err := s.outcomes.Watch(ctx, ownerID)
		if err != nil {
			return Dataset{}, false, err
		}
		defer stop()
		outcome = ids
	}
	d, existing, err = s.StartConvert(ctx, ownerID, r)
	// A repeated request may find its conversion over already.
	if err != nil || d.Status != StatusProcessing || wait <= 0 {
		return d, existing, err
	}
	if idle != nil {
		idle()
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	recheck := time.NewTicker(convertRecheck)
	defer recheck.Stop()
	for {
		select {
		case <-ctx.Done():
			return d, existing, nil
		case <-timer.C:
			return d, existing, nil
		case id := <-outcome:
			if id != d.ID {
				continue
			}
		case <-recheck.C:
		}
		cur, err := s.store.Get(ctx, ownerID, d.ID)
		if err != nil {
			return Dataset{}, false, err
		}
		if cur.Status != StatusProcessing {
			return cur, existing, nil
		}
	}
}
