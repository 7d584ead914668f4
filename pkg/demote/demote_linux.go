package demote

import "syscall"

const supported = true

type thread int

func currentThread() thread { return thread(syscall.Gettid()) }

// setNice sets the nice value of this one thread (a Linux thread is its
// own scheduling entity, addressed by its thread id).
func (t thread) setNice(n int) { _ = syscall.Setpriority(syscall.PRIO_PROCESS, int(t), n) }
