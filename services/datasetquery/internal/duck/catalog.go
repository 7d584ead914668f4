package duck

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nonefinity/backend/services/datasetquery/internal/datasets"
)

// ChangeFeed reports which users' datasets changed, from the dataset events
// every instance publishes. Drain hands over the changes received since the
// last call, in order, and returns an epoch that stays the same as long as
// no change can have been missed (no reconnect, nothing dropped); ok is
// false while changes cannot be tracked at all.
//
// The feed is drained at the start of every query rather than in the
// background: the event of a write that finished before the query was sent
// reached this instance's connection before the query did, so draining
// first makes another instance's writes visible to the very next query.
type ChangeFeed interface {
	Drain(changed func(ownerID string)) (epoch uint64, ok bool)
}

// catalogEntry is a session's copy of the user's ready tables. A copy is
// stored only if nothing invalidated it while it was read (token).
type catalogEntry struct {
	mu     sync.Mutex
	tables []datasets.Table
	loaded bool
	epoch  uint64
	at     time.Time
	token  uint64
}

// prefetch is a catalog read started when a query finds no session, so it
// overlaps opening one, followed by the download of the parts of the
// datasets the query names. The session cannot hear of changes before it
// exists, so the answer is kept only if no change at all was applied, and
// the feed stayed the same, between the read's start and its use.
type prefetch struct {
	done    chan struct{}
	tables  []datasets.Table
	err     error
	changes uint64 // m.changes seen when the read started
	epoch   uint64
	live    bool
}

// startPrefetch drains the feed (so changes already received count as
// before the read), reads ownerID's catalog in the background and caches
// the parts of the tables among names. A failed download is left to the
// query, which fetches what is missing and reports the error.
func (m *Manager) startPrefetch(ctx context.Context, ownerID string, names []string) *prefetch {
	p := &prefetch{done: make(chan struct{})}
	p.epoch, p.live = m.drain()
	p.changes = m.changeCount.Load()
	go func() {
		defer close(p.done)
		p.tables, p.err = m.catalog.ReadyTables(ctx, ownerID)
		if p.err != nil || checkUserID(ownerID) != nil {
			return
		}
		byName := tablesByName(p.tables)
		cacheDir := filepath.Join(userDir(m.cfg.Root, ownerID), "cache")
		for _, name := range names {
			if t, ok := byName[strings.ToLower(lastIdentPart(name))]; ok && len(t.Parts) > 0 {
				_, _ = m.cacheParts(ctx, cacheDir, t)
			}
		}
	}()
	return p
}

// TrackChanges lets sessions keep the user's catalog between queries,
// invalidated by feed; without it every query reads the catalog. Call it
// before the first query.
func (m *Manager) TrackChanges(feed ChangeFeed) { m.changes = feed }

// drain applies the changes received so far.
func (m *Manager) drain() (epoch uint64, live bool) {
	if m.changes == nil {
		return 0, false
	}
	return m.changes.Drain(m.Invalidate)
}

// tables returns the user's ready tables: the session's copy when the
// change feed vouches for it, else pre (when given) or a fresh read of the
// catalog, kept for the next query when the feed is live. reload skips the
// copy and pre.
func (m *Manager) tables(ctx context.Context, s *session, reload bool, pre *prefetch) ([]datasets.Table, error) {
	epoch, live := m.drain()
	c := &s.catalog
	c.mu.Lock()
	if live && !reload && c.loaded && c.epoch == epoch && time.Since(c.at) < m.cfg.CatalogMaxAge {
		tables := c.tables
		c.mu.Unlock()
		return tables, nil
	}
	// Every load and every invalidation moves the token, so a load stores
	// its result only if nothing happened to the entry while it read.
	c.token++
	token := c.token
	c.loaded, c.tables = false, nil
	c.mu.Unlock()

	var (
		tables []datasets.Table
		err    error
		keep   = live
	)
	if pre != nil && !reload {
		select {
		case <-pre.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		tables, err = pre.tables, pre.err
		keep = keep && pre.live && pre.epoch == epoch && pre.changes == m.changeCount.Load()
	} else {
		tables, err = m.catalog.ReadyTables(ctx, s.userID)
	}
	if err != nil || !keep {
		return tables, err
	}
	c.mu.Lock()
	if c.token == token {
		c.tables, c.loaded, c.epoch, c.at = tables, true, epoch, time.Now()
	}
	c.mu.Unlock()
	return tables, nil
}

// Invalidate forgets the catalog copy of ownerID's session on this
// instance; the next query reads the catalog again.
func (m *Manager) Invalidate(ownerID string) {
	m.changeCount.Add(1)
	m.mu.Lock()
	s := m.sessions[ownerID]
	m.mu.Unlock()
	if s != nil {
		s.catalog.invalidate()
	}
}

func (c *catalogEntry) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.token++
	c.loaded, c.tables = false, nil
}
