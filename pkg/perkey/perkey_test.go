package perkey

import (
	"sync"
	"testing"
)

func TestGateCapsEachKey(t *testing.T) {
	g := NewGate(2)
	for i := range 2 {
		if !g.Enter("a") {
			t.Fatalf("holder %d of 2 was refused", i+1)
		}
	}
	if g.Enter("a") {
		t.Fatal("a third holder of one key got in")
	}
	if !g.Enter("b") {
		t.Fatal("another key was refused")
	}
	g.Leave("a")
	if !g.Enter("a") {
		t.Fatal("a key below its limit was refused")
	}
	if NewGate(0).Limit() != 1 {
		t.Fatal("a limit below 1 must be 1")
	}
}

// Under contention no key ever has more holders than the limit.
func TestGateUnderContention(t *testing.T) {
	g := NewGate(3)
	var mu sync.Mutex
	inside, most := 0, 0
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			for range 200 {
				if !g.Enter("k") {
					continue
				}
				mu.Lock()
				inside++
				most = max(most, inside)
				mu.Unlock()
				mu.Lock()
				inside--
				mu.Unlock()
				g.Leave("k")
			}
		})
	}
	wg.Wait()
	if most > 3 {
		t.Fatalf("%d holders at once, limit 3", most)
	}
}
