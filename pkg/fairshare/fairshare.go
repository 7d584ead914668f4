// Package fairshare shares a machine's cores between users rather than
// between requests.
//
// A statement or a conversion holds its cores until it ends; DuckDB cannot
// be preempted. So a user who keeps several statements running holds the
// machine, and per-request queues only decide which of that user's
// statements runs next. A Pool counts units of work (one statement or
// conversion, each with its configured threads) per key (the user) and
// admits by these rules:
//
//   - a key that holds nothing runs at once, whatever the others hold: a
//     newcomer never waits behind another user's long statement;
//   - a key that already holds units runs another only while the pool has
//     spare capacity and nobody is waiting;
//   - when a unit ends, the waiting key that holds the fewest units goes
//     first (first come, first served among equals);
//   - optionally, a key never holds more than PerKey units (so one user
//     cannot take every core between two requests of another's), and no
//     more than Limit units run at all (newcomers wait past it).
//
// Capacity is what the cores can run at once without slowing each other
// (cores / threads per statement), so one busy user fills the machine
// when alone and shrinks towards a single unit as others arrive.
package fairshare

import (
	"context"
	"sync"
)

// Pool admits units of work per key; the zero value is not usable, use New.
type Pool struct {
	mu       sync.Mutex
	capacity int
	perKey   int // 0: no cap of its own
	limit    int // 0: no hard limit
	inUse    int
	held     map[string]int
	queue    []*waiter
}

type waiter struct {
	key      string
	ready    chan struct{} // closed once admitted
	admitted bool
}

// Option tunes a Pool.
type Option func(*Pool)

// PerKey caps the units one key holds at once at n, even while the pool
// has spare capacity: a key's further work waits for its own units. It is
// what keeps one user from taking every core of an instance between two
// requests of another's, since running work cannot be taken back.
func PerKey(n int) Option { return func(p *Pool) { p.perKey = max(n, 0) } }

// Limit caps the units held by all keys together at n, newcomers
// included: past it, even a key that holds nothing waits (fewest held
// first). It bounds how much runs at once when many keys arrive together.
func Limit(n int) Option { return func(p *Pool) { p.limit = max(n, 0) } }

// New returns a pool that runs capacity units at once (at least 1) before
// a key that already holds one must wait.
func New(capacity int, opts ...Option) *Pool {
	p := &Pool{capacity: max(capacity, 1), held: map[string]int{}}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Capacity is the number of units the pool runs before holders wait.
func (p *Pool) Capacity() int { return p.capacity }

// PerKeyLimit is the most units one key holds at once (0: no cap of its
// own beyond the capacity).
func (p *Pool) PerKeyLimit() int { return p.perKey }

// Acquire waits until key may run one more unit, or ctx ends (its error
// is returned). release must be called once the unit's work is over.
func (p *Pool) Acquire(ctx context.Context, key string) (release func(), err error) {
	p.mu.Lock()
	if p.mayRun(key) && !p.runnableWaiter() {
		p.grant(key)
		p.mu.Unlock()
		return p.releaser(key), nil
	}
	w := &waiter{key: key, ready: make(chan struct{})}
	p.queue = append(p.queue, w)
	// A newcomer may run at once even with others queued (they hold units
	// and wait for capacity); dispatch decides by the same order.
	p.dispatch()
	p.mu.Unlock()

	select {
	case <-w.ready:
		return p.releaser(key), nil
	case <-ctx.Done():
		p.mu.Lock()
		if w.admitted {
			// Admitted as ctx ended: hand the unit on.
			p.mu.Unlock()
			p.release(key)
			return nil, ctx.Err()
		}
		for i, q := range p.queue {
			if q == w {
				p.queue = append(p.queue[:i], p.queue[i+1:]...)
				break
			}
		}
		// Our place may have blocked nobody, but a waiter skipped for
		// fairness could run now.
		p.dispatch()
		p.mu.Unlock()
		return nil, ctx.Err()
	}
}

// TryAcquire admits key now by the same rules as Acquire, or reports
// false (for work that can be offered again later rather than wait).
func (p *Pool) TryAcquire(key string) (release func(), ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.mayRun(key) || (p.held[key] > 0 && p.runnableWaiter()) {
		return nil, false
	}
	p.grant(key)
	return p.releaser(key), true
}

// Held is how many units key runs now.
func (p *Pool) Held(key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held[key]
}

func (p *Pool) grant(key string) {
	p.held[key]++
	p.inUse++
}

func (p *Pool) releaser(key string) func() {
	var once sync.Once
	return func() { once.Do(func() { p.release(key) }) }
}

func (p *Pool) release(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inUse--
	if p.held[key]--; p.held[key] <= 0 {
		delete(p.held, key)
	}
	p.dispatch()
}

// mayRun says whether key could take one more unit now, ignoring the
// queue: the hard limit binds everyone, a key holding nothing runs past
// the capacity, a holder needs spare capacity and room under its own cap.
func (p *Pool) mayRun(key string) bool {
	if p.limit > 0 && p.inUse >= p.limit {
		return false
	}
	h := p.held[key]
	if h == 0 {
		return true
	}
	if p.perKey > 0 && h >= p.perKey {
		return false
	}
	return p.inUse < p.capacity
}

// runnableWaiter says whether some queued waiter could run now: a holder
// does not pass it. A waiter held back only by its own key's cap does not
// hold others back.
func (p *Pool) runnableWaiter() bool {
	for _, w := range p.queue {
		if p.mayRun(w.key) {
			return true
		}
	}
	return false
}

// dispatch admits waiters that may run, fewest units held first (first
// come, first served among equals), until none may.
func (p *Pool) dispatch() {
	for {
		best := -1
		for i, w := range p.queue {
			if !p.mayRun(w.key) {
				continue
			}
			if best < 0 || p.held[w.key] < p.held[p.queue[best].key] {
				best = i
			}
		}
		if best < 0 {
			return
		}
		w := p.queue[best]
		p.queue = append(p.queue[:best], p.queue[best+1:]...)
		p.grant(w.key)
		w.admitted = true
		close(w.ready)
	}
}
