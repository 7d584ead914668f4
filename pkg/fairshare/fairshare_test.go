package fairshare

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func mustAcquire(t *testing.T, p *Pool, key string) func() {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	release, err := p.Acquire(ctx, key)
	if err != nil {
		t.Fatalf("acquire %s: %v", key, err)
	}
	return release
}

// acquireAsync starts an Acquire and returns a channel that yields its
// release once admitted.
func acquireAsync(ctx context.Context, p *Pool, key string) <-chan func() {
	out := make(chan func(), 1)
	go func() {
		release, err := p.Acquire(ctx, key)
		if err == nil {
			out <- release
		}
	}()
	return out
}

func waitQueued(t *testing.T, p *Pool, n int) {
	t.Helper()
	for range 5000 {
		p.mu.Lock()
		q := len(p.queue)
		p.mu.Unlock()
		if q == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("queue never reached %d waiters", n)
}

func admitted(ch <-chan func()) bool {
	select {
	case r := <-ch:
		r()
		return true
	default:
		return false
	}
}

func TestNewcomerRunsWhileAHogFillsThePool(t *testing.T) {
	p := New(2)
	hog1, hog2 := mustAcquire(t, p, "a"), mustAcquire(t, p, "a")
	defer hog1()
	defer hog2()
	// b holds nothing: it runs although a fills the capacity.
	b := mustAcquire(t, p, "b")
	if got := p.Held("b"); got != 1 {
		t.Fatalf("b holds %d units, want 1", got)
	}
	b()
	// a's third unit waits: the pool is full and a holds units.
	if _, ok := p.TryAcquire("a"); ok {
		t.Fatal("a got a third unit with the pool full")
	}
}

func TestWaiterHoldingFewestGoesFirst(t *testing.T) {
	p := New(2)
	a1 := mustAcquire(t, p, "a")
	a2 := mustAcquire(t, p, "a")
	b1 := mustAcquire(t, p, "b") // over capacity: b held nothing
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	aWaits := acquireAsync(ctx, p, "a") // a holds 2, queued first
	waitQueued(t, p, 1)
	bWaits := acquireAsync(ctx, p, "b") // b holds 1, queued second
	waitQueued(t, p, 2)

	// One of a's units ends: in use 2 of 2, nobody may run yet.
	a1()
	if admitted(aWaits) || admitted(bWaits) {
		t.Fatal("a waiter ran with the pool full")
	}
	// b's unit ends: b now holds nothing and a one, so b's waiter goes
	// first although a queued earlier; a stays queued, the pool being
	// full again.
	b1()
	select {
	case r := <-bWaits:
		defer r()
	case <-time.After(5 * time.Second):
		t.Fatal("the waiter holding fewer units was not admitted")
	}
	if admitted(aWaits) {
		t.Fatal("a ran although the pool was full again")
	}
	// a's last unit ends: a holds nothing, its waiter runs.
	a2()
	select {
	case r := <-aWaits:
		r()
	case <-time.After(5 * time.Second):
		t.Fatal("a was never admitted")
	}
}

func TestWaiterThatHoldsNothingIsAdmittedAtOnce(t *testing.T) {
	p := New(1)
	a := mustAcquire(t, p, "a")
	b1 := mustAcquire(t, p, "b")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bWaits := acquireAsync(ctx, p, "b") // b holds 1: waits
	waitQueued(t, p, 1)
	// b's first unit ends; b now holds nothing, so its waiter runs even
	// though a still fills the pool.
	b1()
	select {
	case r := <-bWaits:
		r()
	case <-time.After(5 * time.Second):
		t.Fatal("a waiter whose key holds nothing was not admitted")
	}
	a()
}

func TestCancelledWaiterLeavesTheQueue(t *testing.T) {
	p := New(1)
	a := mustAcquire(t, p, "a")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := p.Acquire(ctx, "a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's", err)
	}
	p.mu.Lock()
	q, inUse := len(p.queue), p.inUse
	p.mu.Unlock()
	if q != 0 || inUse != 1 {
		t.Fatalf("after a cancelled wait: %d queued, %d in use; want 0 and 1", q, inUse)
	}
	a()
	if got := p.Held("a"); got != 0 {
		t.Fatalf("a holds %d after releasing everything", got)
	}
}

func TestReleaseIsIdempotent(t *testing.T) {
	p := New(1)
	r := mustAcquire(t, p, "a")
	r()
	r()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.inUse != 0 || len(p.held) != 0 {
		t.Fatalf("double release: in use %d, held %v", p.inUse, p.held)
	}
}

// Under contention no key holding units runs past capacity, every unit is
// returned, and every waiter is eventually served.
func TestUnderContention(t *testing.T) {
	p := New(2)
	var mu sync.Mutex
	perKey := map[string]int{}
	over := 0
	var wg sync.WaitGroup
	for _, key := range []string{"a", "a", "a", "a", "b", "b", "c"} {
		wg.Go(func() {
			for range 300 {
				release := mustAcquire(t, p, key)
				mu.Lock()
				perKey[key]++
				// Running units beyond capacity are only allowed for keys
				// that held nothing when admitted, so at most one unit per
				// key above capacity.
				total, keys := 0, 0
				for _, n := range perKey {
					total += n
					if n > 0 {
						keys++
					}
				}
				if total > max(p.Capacity(), keys) {
					over++
				}
				mu.Unlock()
				mu.Lock()
				perKey[key]--
				mu.Unlock()
				release()
			}
		})
	}
	wg.Wait()
	if over > 0 {
		t.Fatalf("%d times more units ran than max(capacity, keys running)", over)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.inUse != 0 || len(p.queue) != 0 || len(p.held) != 0 {
		t.Fatalf("after all work: in use %d, queue %d, held %v", p.inUse, len(p.queue), p.held)
	}
}

func TestPerKeyCapHoldsAKeyBackWithCapacitySpare(t *testing.T) {
	p := New(4, PerKey(1))
	a := mustAcquire(t, p, "a")
	if _, ok := p.TryAcquire("a"); ok {
		t.Fatal("a took a second unit past its cap of 1 with 3 spare")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	aWaits := acquireAsync(ctx, p, "a")
	waitQueued(t, p, 1)
	// a's waiter, held back by its own cap, holds nobody else back: b runs,
	// and so does c.
	b, ok := p.TryAcquire("b")
	if !ok {
		t.Fatal("b was refused while only a's capped waiter queued")
	}
	c := mustAcquire(t, p, "c")
	if admitted(aWaits) {
		t.Fatal("a's second unit ran while its first still runs")
	}
	a()
	select {
	case r := <-aWaits:
		r()
	case <-time.After(5 * time.Second):
		t.Fatal("a's waiter was not admitted when its first unit ended")
	}
	b()
	c()
}

func TestLimitHoldsNewcomersBackFewestHeldFirst(t *testing.T) {
	p := New(1, Limit(2))
	a1 := mustAcquire(t, p, "a")
	b1 := mustAcquire(t, p, "b") // holds nothing: past the capacity, under the limit
	if _, ok := p.TryAcquire("c"); ok {
		t.Fatal("c ran past the hard limit")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	aMore := acquireAsync(ctx, p, "a") // a holds 1
	waitQueued(t, p, 1)
	cWaits := acquireAsync(ctx, p, "c") // c holds nothing: ahead of a
	waitQueued(t, p, 2)
	b1()
	select {
	case r := <-cWaits:
		if admitted(aMore) {
			t.Fatal("a's second unit ran together with c at the limit")
		}
		r()
	case <-time.After(5 * time.Second):
		t.Fatal("c was not admitted when a unit ended")
	}
	a1()
	select {
	case r := <-aMore:
		r()
	case <-time.After(5 * time.Second):
		t.Fatal("a's waiter was never admitted")
	}
}
