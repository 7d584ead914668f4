package demote

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const supported = true

type thread int

func currentThread() thread { return thread(syscall.Gettid()) }

// setNice sets the nice value of this one thread (a Linux thread is its
// own scheduling entity, addressed by its thread id).
func (t thread) setNice(n int) { _ = syscall.Setpriority(syscall.PRIO_PROCESS, int(t), n) }

// cpuTime is the CPU time this thread has used, read from another thread
// of the process through the thread's CPU clock (the kernel's
// MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED)); false if it cannot be read.
func (t thread) cpuTime() (time.Duration, bool) {
	const perThread, sched = 4, 2
	clock := int32(^uint32(t)<<3) | perThread | sched
	var ts unix.Timespec
	if err := unix.ClockGettime(clock, &ts); err != nil {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}
