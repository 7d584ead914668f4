package users_test

import (
	"sync/atomic"
	"testing"

	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/gateway/internal/users"
)

// While Options.Available reports the database down, a user not cached is
// answered with that error without asking MongoDB, a cached one is still
// resolved, and reads and writes are refused; once it reports up again
// the user is created as usual.
func TestUnavailableDatabaseIsRefusedAtOnce(t *testing.T) {
	ctx := testCtx(t)
	var down atomic.Bool
	s := newService(t, testkit.Mongo(t), users.Options{Available: func() error {
		if down.Load() {
			return rpcerr.New(rpcerr.Unavailable, "database unavailable")
		}
		return nil
	}})
	cached, err := s.Resolve(ctx, "user_cached")
	if err != nil {
		t.Fatal(err)
	}

	down.Store(true)
	unavailable := func(what string, err error) {
		t.Helper()
		if re, ok := rpcerr.As(err); !ok || re.Code != rpcerr.Unavailable {
			t.Errorf("%s while down: %v, want unavailable", what, err)
		}
	}
	_, err = s.Resolve(ctx, "user_new")
	unavailable("Resolve of a new user", err)
	_, err = s.Get(ctx, cached.UserID)
	unavailable("Get", err)
	_, err = s.Lookup(ctx, "user_cached")
	unavailable("Lookup", err)
	_, err = s.ApplyProfile(ctx, users.Profile{ClerkID: "user_new"})
	unavailable("ApplyProfile", err)
	_, err = s.Delete(ctx, "user_cached")
	unavailable("Delete", err)
	if id, err := s.Resolve(ctx, "user_cached"); err != nil || id != cached {
		t.Fatalf("cached identity while down: %+v %v", id, err)
	}

	down.Store(false)
	if _, err := s.Resolve(ctx, "user_new"); err != nil {
		t.Fatalf("Resolve once up: %v", err)
	}
}
