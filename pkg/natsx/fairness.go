package natsx

import (
	"math/rand/v2"
	"time"

	"github.com/nonefinity/backend/pkg/perkey"
)

// Fairness shares a consumer's handler slots between keys (owners): at
// most PerKey messages of one key are handled at once on an instance, and
// a further one is deferred (see Defer) so the messages of other keys
// behind it are handled first. The server counts a deferral as a delivery,
// so a fair consumer sets MaxDeliver negative and counts attempts itself.
type Fairness struct {
	// PerKey is how many messages of one key run at once; default 1.
	PerKey int
	// Retry is about how long a deferred message waits before it is
	// offered again (jittered up to twice that, so a key's deferred
	// messages do not all return at once); default 1s.
	Retry time.Duration
	// Admit, when set, is asked after the per-key limit: a message it
	// refuses is deferred like one over PerKey, and release is called
	// when the handler returns. It joins a consumer's work to a pool
	// shared with other work of the same keys (fairshare.Pool.TryAcquire).
	Admit func(key string) (release func(), ok bool)
}

// Runner returns the function a handler runs its work through: run calls
// fn unless key already has PerKey messages running, in which case it
// returns a Defer error for the handler to return.
func (f Fairness) Runner() (run func(key string, fn func() error) error) {
	gate := perkey.NewGate(f.PerKey)
	retry := f.Retry
	if retry <= 0 {
		retry = time.Second
	}
	return func(key string, fn func() error) error {
		if !gate.Enter(key) {
			return Defer(retry + rand.N(retry))
		}
		defer gate.Leave(key)
		if f.Admit != nil {
			release, ok := f.Admit(key)
			if !ok {
				return Defer(retry + rand.N(retry))
			}
			defer release()
		}
		return fn()
	}
}
