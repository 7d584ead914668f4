package sseticket_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/gateway/internal/sseticket"
)

// stores are the two Store implementations, each with an issuer factory:
// two issuers over one store are two gateway instances.
func stores(t *testing.T, c *testkit.Clock) map[string]func() *sseticket.Issuer {
	mem := sseticket.NewMemoryStore(c.Now)
	rk := testkit.Redis(t)
	rs := sseticket.NewRedisStore(rk.Client, rk.Prefix)
	return map[string]func() *sseticket.Issuer{
		"memory": func() *sseticket.Issuer { return sseticket.New(sseticket.Options{Store: mem, Now: c.Now}) },
		"redis":  func() *sseticket.Issuer { return sseticket.New(sseticket.Options{Store: rs, Now: c.Now}) },
	}
}

func TestTicketIsSingleUseShortLivedAndItsUsers(t *testing.T) {
	ctx := context.Background()
	c := testkit.NewClock(time.Now())
	for name, newIssuer := range stores(t, c) {
		t.Run(name, func(t *testing.T) {
			issuing, redeeming := newIssuer(), newIssuer()
			a, err := issuing.Issue(ctx, "user-a")
			if err != nil {
				t.Fatal(err)
			}
			b, err := issuing.Issue(ctx, "user-b")
			if err != nil {
				t.Fatal(err)
			}
			if a.Ticket == b.Ticket || len(a.Ticket) < 40 || !a.ExpiresAt.Equal(c.Now().Add(sseticket.DefaultTTL).UTC().Truncate(time.Millisecond)) {
				t.Fatalf("tickets %+v %+v", a, b)
			}
			// Another instance redeems what this one issued, each for its own user.
			if u, err := redeeming.Redeem(ctx, b.Ticket); err != nil || u != "user-b" {
				t.Fatalf("redeem B = %q, %v", u, err)
			}
			if u, err := redeeming.Redeem(ctx, a.Ticket); err != nil || u != "user-a" {
				t.Fatalf("redeem A = %q, %v", u, err)
			}
			if _, err := issuing.Redeem(ctx, a.Ticket); !errors.Is(err, sseticket.ErrInvalid) {
				t.Fatalf("second redemption: %v, want ErrInvalid", err)
			}

			late, _ := issuing.Issue(ctx, "user-a")
			c.Advance(sseticket.DefaultTTL)
			if _, err := redeeming.Redeem(ctx, late.Ticket); !errors.Is(err, sseticket.ErrInvalid) {
				t.Fatalf("expired ticket: %v, want ErrInvalid", err)
			}
			for _, v := range []string{"", "unknown", string(make([]byte, 200))} {
				if _, err := redeeming.Redeem(ctx, v); !errors.Is(err, sseticket.ErrInvalid) {
					t.Errorf("ticket %q: %v, want ErrInvalid", v, err)
				}
			}
			if _, err := issuing.Issue(ctx, ""); err == nil {
				t.Error("a ticket without a user was issued")
			}
		})
	}
}

// Racing redemptions of one ticket, as from two gateway instances at once:
// exactly one opens a stream.
func TestTicketRedeemedOnceUnderRace(t *testing.T) {
	ctx := context.Background()
	c := testkit.NewClock(time.Now())
	for name, newIssuer := range stores(t, c) {
		t.Run(name, func(t *testing.T) {
			tk, err := newIssuer().Issue(ctx, "user-a")
			if err != nil {
				t.Fatal(err)
			}
			var wins atomic.Int32
			var wg sync.WaitGroup
			for range 16 {
				in := newIssuer()
				wg.Go(func() {
					if _, err := in.Redeem(ctx, tk.Ticket); err == nil {
						wins.Add(1)
					} else if !errors.Is(err, sseticket.ErrInvalid) {
						t.Errorf("redeem: %v", err)
					}
				})
			}
			wg.Wait()
			if n := wins.Load(); n != 1 {
				t.Fatalf("%d redemptions succeeded, want 1", n)
			}
		})
	}
}

// Redis keeps the ticket's hash, not the ticket, and only for about its
// lifetime.
func TestRedisStoreKeepsNoUsableTicket(t *testing.T) {
	ctx := context.Background()
	rk := testkit.Redis(t)
	in := sseticket.New(sseticket.Options{Store: sseticket.NewRedisStore(rk.Client, rk.Prefix)})
	tk, err := in.Issue(ctx, "user-a")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := rk.Client.Keys(ctx, rk.Prefix+"*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys %v, %v", keys, err)
	}
	val, _ := rk.Client.Get(ctx, keys[0]).Result()
	ttl, _ := rk.Client.PTTL(ctx, keys[0]).Result()
	for _, s := range []string{keys[0], val} {
		if strings.Contains(s, tk.Ticket) {
			t.Fatalf("redis holds the ticket itself: %q", s)
		}
	}
	if ttl <= 0 || ttl > sseticket.DefaultTTL+10*time.Second {
		t.Fatalf("key TTL %s", ttl)
	}
}
