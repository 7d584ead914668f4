package credential

import (
	"testing"
	"time"
)

// The credentials kept over all owners stay within MaxKept: a list that
// would pass it drops every list, and reads begun before are not kept.
func TestListCacheKeepsAtMostMaxKept(t *testing.T) {
	c := &ListCache{MaxKept: 3}
	now := time.Now()
	keep := func(owner string, n int) {
		t.Helper()
		if _, _, ok, _, r := c.lookup(owner, now); ok || r.sl == nil {
			t.Fatalf("%s's list answered from memory before it was read", owner)
		} else {
			c.done(r, make([]Credential, n), false, now, true)
		}
	}
	isKept := func(owner string) bool {
		_, kept, ok, _, _ := c.lookup(owner, now)
		return ok && kept
	}
	keep("alice", 2)
	if !isKept("alice") || c.kept != 2 {
		t.Fatalf("alice's 2 credentials not kept (kept %d)", c.kept)
	}
	_, _, _, _, stale := c.lookup("carol", now) // a read begun before the drop
	keep("bob", 2)
	if isKept("alice") || isKept("bob") || c.kept != 0 {
		t.Fatalf("4 credentials over a budget of 3 left lists kept (kept %d)", c.kept)
	}
	c.done(stale, make([]Credential, 1), false, now, true)
	if isKept("carol") {
		t.Fatal("a read begun before the drop was kept")
	}
	c.ForgetAll()
	keep("bob", 2)
	c.Forget("bob")
	if c.kept != 0 {
		t.Fatalf("kept %d after bob's list was forgotten", c.kept)
	}
}
