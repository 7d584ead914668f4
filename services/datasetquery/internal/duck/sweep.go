package duck

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Run closes expired sessions every CleanupInterval until ctx is done.
func (m *Manager) Run(ctx context.Context) {
	t := time.NewTicker(m.cfg.CleanupInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n := m.CloseExpired(); n > 0 {
				m.log.Info("closed expired DuckDB sessions", "count", n)
			}
			if n := m.RemoveIdleCaches(); n > 0 {
				m.log.Info("removed Parquet caches of idle users", "count", n)
			}
		}
	}
}

// CloseExpired closes the sessions past their TTL that run nothing and
// returns how many it closed.
func (m *Manager) CloseExpired() int {
	now := time.Now()
	var victims []*session
	m.mu.Lock()
	for id, s := range m.sessions {
		if s.running.Load() == 0 && s.expired(now, m.cfg.InstanceTTL) {
			victims = append(victims, s)
			delete(m.sessions, id)
		}
	}
	m.mu.Unlock()
	for _, s := range victims {
		if err := s.close(false); err != nil {
			m.log.Warn("close expired DuckDB session", "user_id", s.userID, "error", err)
		}
	}
	return len(victims)
}

// RemoveIdleCaches removes the directories (Parquet cache) of users who
// have had no session on this instance for CacheTTL and returns how many it
// removed. A closing session sets its directory's modification time to the
// moment it closed.
func (m *Manager) RemoveIdleCaches() int {
	entries, err := os.ReadDir(m.cfg.Root)
	if err != nil {
		m.log.Warn("list DuckDB session directories", "error", err)
		return 0
	}
	cutoff := time.Now().Add(-m.cfg.CacheTTL)
	var idle []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, "_removing-") { // left by a crash mid-removal
			_ = os.RemoveAll(filepath.Join(m.cfg.Root, name))
			continue
		}
		if !e.IsDir() || checkUserID(name) != nil || name[0] == '_' {
			continue // _scratch and other service directories
		}
		if info, err := e.Info(); err == nil && !info.ModTime().After(cutoff) {
			idle = append(idle, name)
		}
	}
	// Moved aside under the lock, so a session opening now starts from an
	// empty directory rather than one being deleted under it.
	var trash []string
	m.mu.Lock()
	open := make(map[string]bool, len(m.sessions))
	for _, s := range m.sessions {
		open[filepath.Base(s.dir)] = true
	}
	for userID := range m.opening {
		open[filepath.Base(userDir(m.cfg.Root, userID))] = true
	}
	for _, name := range idle {
		if open[name] {
			continue
		}
		t := filepath.Join(m.cfg.Root, "_removing-"+name)
		if err := os.Rename(filepath.Join(m.cfg.Root, name), t); err != nil {
			m.log.Warn("remove idle Parquet cache", "directory", name, "error", err)
			continue
		}
		trash = append(trash, t)
	}
	m.mu.Unlock()
	removed := 0
	for _, t := range trash {
		if err := os.RemoveAll(t); err != nil {
			m.log.Warn("remove idle Parquet cache", "directory", filepath.Base(t), "error", err)
			continue
		}
		removed++
	}
	return removed
}
