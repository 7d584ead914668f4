// Package demote runs long work at a background CPU priority.
//
// A statement or a conversion cannot be preempted once it runs, and the
// per-user pools only decide who may start one. What they cannot decide is
// how the cores are shared between a statement that has been running for
// seconds and the short requests that arrive meanwhile (another user's
// lookup, a page of a list): the kernel gives both the same weight. After
// gives long work a lower one, the way a time-sharing scheduler ages
// batch jobs: fn runs on an OS thread of its own, and once it has run for
// the given time that thread's nice value is raised (Nice), so it takes
// only the cores that interactive work leaves idle. Short work is never
// touched.
//
// The thread is discarded when fn returns (its goroutine exits locked to
// it), because a process without CAP_SYS_NICE cannot lower the nice value
// again and the Go runtime would otherwise run other goroutines on it.
// Work that fn hands to threads of its own (a DuckDB with more than one
// thread) keeps their priority; with one thread a DuckDB statement runs on
// the calling thread.
package demote

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"time"
)

// Nice is the nice value long work is moved to: a weight of about a
// tenth of a normal thread's under Linux's scheduler.
const Nice = 10

// After runs fn and returns its error; if fn is still running after d, the
// thread it runs on is demoted to Nice. d <= 0 runs fn as it is. A panic
// in fn is raised again in the caller's goroutine, where the caller's
// recovery sees it.
func After(d time.Duration, fn func() error) error {
	if d <= 0 || !supported {
		return fn()
	}
	done := make(chan outcome, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- outcome{panicked: true, panic: fmt.Sprintf("%v\n%s", p, debug.Stack())}
			}
		}()
		// Never unlocked: the goroutine's end takes the (perhaps demoted)
		// thread with it.
		runtime.LockOSThread()
		t := currentThread()
		var mu sync.Mutex
		finished := false
		timer := time.AfterFunc(d, func() {
			mu.Lock()
			defer mu.Unlock()
			// Only while fn runs is the thread id still this thread's.
			if !finished {
				t.setNice(Nice)
			}
		})
		err := fn()
		mu.Lock()
		finished = true
		mu.Unlock()
		timer.Stop()
		done <- outcome{err: err}
	}()
	o := <-done
	if o.panicked {
		panic("demoted work panicked: " + o.panic)
	}
	return o.err
}

type outcome struct {
	err      error
	panicked bool
	panic    string
}
