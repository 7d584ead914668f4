// Package demote runs long work at a background CPU priority.
//
// A statement or a conversion cannot be preempted once it runs, and the
// per-user pools only decide who may start one. What they cannot decide is
// how the cores are shared between a statement that has been running for
// seconds and the short requests that arrive meanwhile (another user's
// lookup, a page of a list): the kernel gives both the same weight. After
// gives long work a lower one, the way a time-sharing scheduler ages
// batch jobs: fn runs on an OS thread of its own, and once it has used
// the given CPU time that thread's nice value is raised (Nice), so it
// takes only the cores that interactive work leaves idle. Short work is
// never touched, however long the load makes it wait for a core: CPU time,
// not wall time, is what tells a heavy statement from a slowed light one.
//
// Work runs on a small set of threads locked to goroutines of this
// package, reused while they keep the normal priority (a new thread for
// each statement measured 0.7 ms of a 15 ms query). A demoted thread is
// discarded when its work ends (its goroutine exits locked to it), because
// a process without CAP_SYS_NICE cannot lower the nice value again and
// the Go runtime would otherwise run other goroutines on it.
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

// After runs fn and returns its error; once fn has used d of CPU time on
// the thread it runs on (wall time where that cannot be read), the thread
// is demoted to Nice. d <= 0 runs fn as it is. A panic
// in fn is raised again in the caller's goroutine, where the caller's
// recovery sees it.
func After(d time.Duration, fn func() error) error {
	if d <= 0 || !supported {
		return fn()
	}
	var w *worker
	select {
	case w = <-idle:
	default:
		w = startWorker()
	}
	done := make(chan outcome, 1)
	w.jobs <- job{fn: fn, after: d, done: done}
	o := <-done
	if o.panicked {
		panic("demoted work panicked: " + o.panic)
	}
	return o.err
}

// maxIdle is how many threads at the normal priority wait for work:
// short work reuses them rather than paying for a new thread each time.
const maxIdle = 16

var idle = make(chan *worker, maxIdle)

// worker is a goroutine locked to its OS thread for life.
type worker struct{ jobs chan job }

type job struct {
	fn    func() error
	after time.Duration
	done  chan<- outcome
}

type outcome struct {
	err      error
	panicked bool
	panic    string
}

func startWorker() *worker {
	w := &worker{jobs: make(chan job)}
	go w.loop()
	return w
}

// loop runs jobs until one is demoted or the idle threads are enough;
// then the goroutine ends locked, which ends its thread too.
func (w *worker) loop() {
	runtime.LockOSThread()
	t := currentThread()
	for j := range w.jobs {
		if w.run(t, j) {
			return
		}
		select {
		case idle <- w:
		default:
			return
		}
	}
}

// run runs one job and reports whether its thread was demoted. The job is
// demoted once it has used j.after of CPU time on this thread: a request
// that only waits for cores others hold (its wall time stretched by the
// load, its CPU time not) keeps its priority. Where the thread's CPU time
// cannot be read, wall time counts instead.
func (w *worker) run(t thread, j job) (demoted bool) {
	var mu sync.Mutex
	finished := false
	start, measured := t.cpuTime()
	var timer *time.Timer
	mu.Lock() // the timer may fire before it is assigned
	timer = time.AfterFunc(j.after, func() {
		mu.Lock()
		defer mu.Unlock()
		// Only while the job runs is the thread id still this thread's.
		if finished {
			return
		}
		if now, ok := t.cpuTime(); measured && ok && now-start < j.after {
			timer.Reset(j.after - (now - start))
			return
		}
		t.setNice(Nice)
		demoted = true
	})
	mu.Unlock()
	var o outcome
	func() {
		defer func() {
			if p := recover(); p != nil {
				o = outcome{panicked: true, panic: fmt.Sprintf("%v\n%s", p, debug.Stack())}
			}
		}()
		o.err = j.fn()
	}()
	timer.Stop()
	mu.Lock()
	finished = true
	wasDemoted := demoted
	mu.Unlock()
	j.done <- o
	return wasDemoted
}
