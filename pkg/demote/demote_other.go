//go:build !linux

package demote

import "time"

// Elsewhere long work keeps its priority.
const supported = false

type thread struct{}

func currentThread() thread { return thread{} }

func (thread) setNice(int) {}

func (thread) cpuTime() (time.Duration, bool) { return 0, false }
