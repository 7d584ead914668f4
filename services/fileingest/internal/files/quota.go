package files

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// The quota counts what a user stores and what they may still upload:
// the sizes of their files plus their reservations (upload URLs granted,
// objects being committed). A reservation is taken with a quota ticket,
// because checking the quota and storing the reservation are two steps and
// MongoDB-wire stores without transactions (FerretDB v1 reads a
// conditional update's match and writes the document in two steps too)
// cannot make them one:
//
//  1. read the number n of the owner's latest ticket;
//  2. sum reservations, then files;
//  3. refuse if the new size does not fit;
//  4. store the reservation;
//  5. take ticket n+1: an insert under a unique index, which exactly one
//     caller wins. The loser deletes its reservation and starts over.
//
// Ticket n+1 can only be taken after ticket n existed, so the winners'
// tickets are ordered in time. Of two winners, the later one read its
// number after the earlier one took its ticket, which was after the
// earlier one stored its reservation: the later one's sum includes it.
// So no two reservations are ever both granted on the same free bytes.
// Sums read reservations before files because a commit stores the file
// before it releases the reservation: either way the bytes count once at
// least. A reservation that lost its ticket counts until it is deleted,
// which can only refuse too much, never too little.

// maxReserveAttempts bounds the rounds one reservation races: each round
// has a winner, so this many concurrent uploads of one owner all pass.
const maxReserveAttempts = 64

// Tickets are kept for ticketKeep after they were taken, and always the
// latest of each owner: if number n could be taken again after it was
// dropped, a caller who read n-1 long ago would win it without having
// seen the reservations taken since. A round slower than maxRound gives
// up its ticket, so no caller's read is ever that old.
const (
	ticketKeep = time.Hour
	maxRound   = ticketKeep / 4
)

// reserve holds size bytes of owner's quota for key and returns the
// reservation and what the owner used before it. A size that does not fit
// is a quota error.
func (s *Service) reserve(ctx context.Context, owner, key string, size int64, expiresAt time.Time) (Reservation, int64, error) {
	for attempt := 0; attempt < maxReserveAttempts; attempt++ {
		if attempt > 0 {
			if err := backoff(ctx, attempt); err != nil {
				return Reservation{}, 0, err
			}
		}
		read := time.Now()
		n, err := s.store.QuotaTicket(ctx, owner)
		if err != nil {
			return Reservation{}, 0, err
		}
		used, err := s.usedBytes(ctx, owner)
		if err != nil {
			return Reservation{}, 0, err
		}
		if size > s.cfg.UserQuota-used {
			return Reservation{}, used, quotaError(used, s.cfg.UserQuota)
		}
		r, err := s.store.Reserve(ctx, Reservation{
			OwnerID: owner, ObjectKey: key, Size: size, ExpiresAt: expiresAt,
			SweepAfter: expiresAt.Add(s.uploadGrace()), CreatedAt: s.now(),
		})
		if err != nil {
			return Reservation{}, 0, err
		}
		won := false
		if time.Since(read) < maxRound {
			won, err = s.store.TakeQuotaTicket(ctx, owner, n+1)
		}
		if err == nil && won {
			return r, used, nil
		}
		// Lost (or failed): the reservation goes, or the sweep takes it
		// once it is due; no URL was handed out for it.
		if _, rerr := s.store.Release(context.WithoutCancel(ctx), owner, r.ID); rerr != nil {
			s.log.WarnContext(ctx, "release a reservation that lost its ticket", "object", key, "error", rerr)
		}
		if err != nil {
			return Reservation{}, 0, err
		}
	}
	return Reservation{}, 0, fmt.Errorf("reserve %d bytes for %s: %w", size, key, ErrBusy)
}

// backoff waits a little before the next round, at random so that the
// losers of a round do not meet again.
func backoff(ctx context.Context, attempt int) error {
	select {
	case <-time.After(time.Duration(1+rand.IntN(min(attempt, 10)*2)) * time.Millisecond):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// usedBytes is what counts against the owner's quota: reservations, then
// files (the order matters, see above).
func (s *Service) usedBytes(ctx context.Context, owner string) (int64, error) {
	reserved, err := s.store.ReservedBytes(ctx, owner)
	if err != nil {
		return 0, err
	}
	stored, err := s.store.UsedBytes(ctx, owner)
	if err != nil {
		return 0, err
	}
	return reserved + stored, nil
}

// uploadGrace is how long after its URL expired an uncommitted upload is
// kept: a PUT that began just before the expiry may still be running, and
// its commit may follow it.
func (s *Service) uploadGrace() time.Duration { return s.cfg.UploadURLTTL }

// sweepBatch is how many due reservations one sweep reads at a time.
const sweepBatch = 100

// SweepUncommitted releases the reservations that are due (their URL
// expired a grace period ago) and removes their objects where no file was
// committed for them, and drops old quota tickets. It returns how many
// reservations it released. Several instances may sweep at once:
// releasing decides which one handles a reservation, and a commit racing
// the sweep is decided the same way (see Commit).
func (s *Service) SweepUncommitted(ctx context.Context) (int, error) {
	if _, err := s.store.DropTickets(ctx, s.now().Add(-ticketKeep)); err != nil {
		return 0, fmt.Errorf("drop old quota tickets: %w", err)
	}
	released := 0
	for {
		due, err := s.store.DueReservations(ctx, s.now(), sweepBatch)
		if err != nil {
			return released, fmt.Errorf("list due reservations: %w", err)
		}
		for _, r := range due {
			ok, err := s.sweepReservation(ctx, r)
			if err != nil {
				return released, err
			}
			if ok {
				released++
			}
		}
		if len(due) < sweepBatch {
			return released, nil
		}
	}
}

// sweepReservation releases one due reservation and, if it was this call's
// to release and no file records the object, removes the object. An object
// that a file records is a commit that released late (or was cut off
// before releasing): it stays. When the object cannot be looked at or
// removed now, the reservation is stored again, due at once, so the next
// sweep tries again and the bytes keep counting meanwhile.
func (s *Service) sweepReservation(ctx context.Context, r Reservation) (bool, error) {
	ok, err := s.store.Release(ctx, r.OwnerID, r.ID)
	if err != nil || !ok {
		return false, err
	}
	_, err = s.store.GetByPath(ctx, r.OwnerID, r.ObjectKey)
	switch {
	case err == nil:
		return true, nil
	case !errors.Is(err, ErrNotFound):
		return true, s.sweepAgain(ctx, r, fmt.Errorf("look up the file of %s: %w", r.ObjectKey, err))
	}
	if err := s.objects.Delete(ctx, r.ObjectKey); err != nil {
		return true, s.sweepAgain(ctx, r, storageError("remove uncommitted upload", err))
	}
	s.log.DebugContext(ctx, "removed an uncommitted upload", "object", r.ObjectKey, "expired", r.ExpiresAt)
	return true, nil
}

// sweepAgain stores a released reservation again, due now, and returns
// cause.
func (s *Service) sweepAgain(ctx context.Context, r Reservation, cause error) error {
	r.ID, r.SweepAfter = "", s.now()
	if _, err := s.store.Reserve(context.WithoutCancel(ctx), r); err != nil {
		s.log.ErrorContext(ctx, "an uncommitted upload is left without a reservation", "object", r.ObjectKey, "error", err)
	}
	return cause
}
