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
//     first (first come, first served among equals).
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
	inUse    int
	held     map[string]int
	queue    []*waiter
}

type waiter struct {
	key      string
	ready    chan struct{} // closed once admitted
	admitted bool
}

// New returns a pool that runs capacity units at once (at least 1) before
// a key that already holds one must wait.
func New(capacity int) *Pool {
	return &Pool{capacity: max(capacity, 1), held: map[string]int{}}
}

// Capacity is the number of units the pool runs before holders wait.
func (p *Pool) Capacity() int { return p.capacity }

// Acquire waits until key may run one more unit, or ctx ends (its error
// is returned). release must be called once the unit's work is over.
func (p *Pool) Acquire(ctx context.Context, key string) (release func(), err error) {
	p.mu.Lock()
	if p.held[key] == 0 || (p.inUse < p.capacity && len(p.queue) == 0) {
		p.grant(key)
		p.mu.Unlock()
		return p.releaser(key), nil
	}
	w := &waiter{key: key, ready: make(chan struct{})}
	p.queue = append(p.queue, w)
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
		p.mu.Unlock()
		return nil, ctx.Err()
	}
}

// TryAcquire admits key now by the same rules as Acquire, or reports
// false (for work that can be offered again later rather than wait).
func (p *Pool) TryAcquire(key string) (release func(), ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held[key] > 0 && (p.inUse >= p.capacity || len(p.queue) > 0) {
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

// dispatch admits waiters, fewest units held first, while they may run.
func (p *Pool) dispatch() {
	for len(p.queue) > 0 {
		best := 0
		for i, w := range p.queue {
			if p.held[w.key] < p.held[p.queue[best].key] {
				best = i
			}
		}
		w := p.queue[best]
		if p.held[w.key] > 0 && p.inUse >= p.capacity {
			return
		}
		p.queue = append(p.queue[:best], p.queue[best+1:]...)
		p.grant(w.key)
		w.admitted = true
		close(w.ready)
	}
}
