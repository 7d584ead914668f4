//go:build !linux

package demote

// Elsewhere long work keeps its priority.
const supported = false

type thread struct{}

func currentThread() thread { return thread{} }

func (thread) setNice(int) {}
