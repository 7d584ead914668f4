package store_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nonefinity/backend/services/fileingest/internal/files"
)

// The quota's two atomic steps: a ticket number is taken by exactly one
// of the callers racing for it, and a reservation released by exactly one.
func TestQuotaTicketsAndReleasesHaveOneWinner(t *testing.T) {
	s, ctx := newStore(t)
	if n, err := s.QuotaTicket(ctx, alice); err != nil || n != 0 {
		t.Fatalf("QuotaTicket before any = %d, %v", n, err)
	}
	r, err := s.Reserve(ctx, files.Reservation{OwnerID: alice, ObjectKey: "k", Size: 10, ExpiresAt: t0, SweepAfter: t0, CreatedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	// Another owner's release deletes nothing.
	if ok, err := s.Release(ctx, bob, r.ID); err != nil || ok {
		t.Fatalf("bob's Release = %v, %v", ok, err)
	}
	if got, err := s.ReservationFor(ctx, alice, "k"); err != nil || got.ID != r.ID {
		t.Fatalf("alice's reservation after bob's release: %+v, %v", got, err)
	}
	var tickets, releases atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if won, err := s.TakeQuotaTicket(ctx, alice, 1); err != nil {
				t.Error(err)
			} else if won {
				tickets.Add(1)
			}
			if ok, err := s.Release(ctx, alice, r.ID); err != nil {
				t.Error(err)
			} else if ok {
				releases.Add(1)
			}
		})
	}
	wg.Wait()
	if tickets.Load() != 1 || releases.Load() != 1 {
		t.Fatalf("ticket 1 taken %d times, reservation released %d times; want once each", tickets.Load(), releases.Load())
	}
	if won, err := s.TakeQuotaTicket(ctx, bob, 1); err != nil || !won {
		t.Fatalf("bob's ticket 1: %v, %v", won, err)
	}
	if n, err := s.QuotaTicket(ctx, alice); err != nil || n != 1 {
		t.Fatalf("QuotaTicket = %d, %v", n, err)
	}
}

// Old tickets go, but never an owner's latest: a dropped number could be
// taken a second time.
func TestDropTicketsKeepsTheLatest(t *testing.T) {
	s, ctx := newStore(t)
	for n := int64(1); n <= 3; n++ {
		if won, err := s.TakeQuotaTicket(ctx, alice, n); err != nil || !won {
			t.Fatal(won, err)
		}
	}
	if won, err := s.TakeQuotaTicket(ctx, bob, 1); err != nil || !won {
		t.Fatal(won, err)
	}
	dropped, err := s.DropTickets(ctx, time.Now().Add(time.Minute))
	if err != nil || dropped != 2 {
		t.Fatalf("DropTickets = %d, %v; want alice's 1 and 2", dropped, err)
	}
	for owner, latest := range map[string]int64{alice: 3, bob: 1} {
		if n, err := s.QuotaTicket(ctx, owner); err != nil || n != latest {
			t.Fatalf("latest ticket of %s = %d, %v", owner, n, err)
		}
		if won, err := s.TakeQuotaTicket(ctx, owner, latest); err != nil || won {
			t.Fatalf("ticket %d of %s taken again: %v, %v", latest, owner, won, err)
		}
	}
	if dropped, err := s.DropTickets(ctx, time.Now().Add(-time.Hour)); err != nil || dropped != 0 {
		t.Fatalf("DropTickets of younger tickets = %d, %v", dropped, err)
	}
}

// Reservations sum per owner and come due by SweepAfter.
func TestReservationsSumAndComeDue(t *testing.T) {
	s, ctx := newStore(t)
	for i, r := range []files.Reservation{
		{OwnerID: alice, ObjectKey: "a1", Size: 10, SweepAfter: t0},
		{OwnerID: alice, ObjectKey: "a2", Size: 20, SweepAfter: t0.Add(time.Hour)},
		{OwnerID: bob, ObjectKey: "b1", Size: 5, SweepAfter: t0.Add(time.Minute)},
	} {
		if _, err := s.Reserve(ctx, r); err != nil {
			t.Fatal(i, err)
		}
	}
	if n, err := s.ReservedBytes(ctx, alice); err != nil || n != 30 {
		t.Fatalf("ReservedBytes = %d, %v", n, err)
	}
	due, err := s.DueReservations(ctx, t0.Add(2*time.Minute), 10)
	if err != nil || len(due) != 2 || due[0].ObjectKey != "a1" || due[1].ObjectKey != "b1" {
		t.Fatalf("DueReservations = %+v, %v", due, err)
	}
	if r, err := s.ReservationFor(ctx, alice, "a2"); err != nil || r.Size != 20 {
		t.Fatalf("ReservationFor = %+v, %v", r, err)
	}
	if _, err := s.ReservationFor(ctx, bob, "a2"); err == nil {
		t.Fatal("bob finds alice's reservation")
	}
	if n, err := s.DeleteOwner(ctx, alice); err != nil || n != 0 {
		t.Fatalf("DeleteOwner = %d, %v", n, err)
	}
	if n, _ := s.ReservedBytes(ctx, alice); n != 0 {
		t.Fatalf("erased owner still reserves %d bytes", n)
	}
}
