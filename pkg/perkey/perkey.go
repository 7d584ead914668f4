// Package perkey caps how much of a shared resource one key (a user) holds
// at once: conversion and processing workers, event streams.
package perkey

import "sync"

// Gate counts the holders per key.
type Gate struct {
	mu      sync.Mutex
	limit   int
	holders map[string]int
}

// NewGate lets limit holders of one key in at once (at least 1).
func NewGate(limit int) *Gate {
	return &Gate{limit: max(limit, 1), holders: map[string]int{}}
}

// Limit is how many holders one key may have.
func (g *Gate) Limit() int { return g.limit }

// Enter counts one more holder of key, unless key is at the limit.
func (g *Gate) Enter(key string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.holders[key] >= g.limit {
		return false
	}
	g.holders[key]++
	return true
}

// Leave ends a hold that Enter admitted.
func (g *Gate) Leave(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.holders[key]--; g.holders[key] <= 0 {
		delete(g.holders, key)
	}
}
