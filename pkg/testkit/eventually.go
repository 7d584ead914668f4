package testkit

import (
	"testing"
	"time"
)

// pollInterval is how often Eventually asks again: short beside the
// seconds a test waits, long enough not to busy the machine's other tests.
const pollInterval = 10 * time.Millisecond

// Eventually asks cond until it returns nil and fails t at once with cond's
// last error when it still has not after within. It is for states nothing
// announces (a registration, a sweep, a count on a server); where an event
// or a message says so, wait on that instead. cond runs on the test's
// goroutine, so it may itself fail t.
func Eventually(t testing.TB, within time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %v", within, err)
		}
		time.Sleep(pollInterval)
	}
}
