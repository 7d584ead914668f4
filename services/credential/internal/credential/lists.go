package credential

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Lists are served from memory: on FerretDB-on-SQLite (the embedded
// default) every list query decodes every user's credentials, since only an
// exact _id filter reaches SQLite. An owner's live credentials are read
// once and kept until one of them changes.
const (
	// ListsMaxAge is how long a kept list is served before it is read
	// again (in the background, the kept one answering meanwhile). A
	// change is forgotten here at once and announced to the other
	// instances, which core NATS delivers at most once: an instance that
	// misses it serves the old list for this long and one read more.
	ListsMaxAge = 5 * time.Second
	// listKeepMax is the most credentials of one owner kept; an owner
	// with more is read from the store page by page.
	listKeepMax = 1000
	// listKeepOwners bounds the owners kept; past it every list is
	// dropped and kept again as asked for.
	listKeepOwners = 10000
	// DefaultListsMaxKept bounds the credentials kept over all owners
	// (a few hundred bytes each): 10,000 owners of 1,000 credentials
	// would otherwise be kept whole.
	DefaultListsMaxKept = 100000
)

// ChangeFeed is how an instance hears the other instances' changes.
// CatchUp applies every announcement that arrived before the request
// being served, so a list never misses a change whose reply its caller
// has already seen.
type ChangeFeed interface {
	CatchUp()
}

// ListCache keeps owners' live credentials, newest first, for one
// instance; its zero value is empty. A list read from the store is kept
// only when no change of that owner (gen) and no clear (epoch) came in
// between, so a slow read never undoes a change.
type ListCache struct {
	// MaxKept bounds the credentials kept over all owners (0:
	// DefaultListsMaxKept); a list that would pass it drops every list.
	MaxKept int

	mu    sync.Mutex
	epoch uint64
	slots map[string]*listSlot
	// kept counts the credentials in slots' lists.
	kept int
}

type listSlot struct {
	gen  uint64
	kept bool
	// tooMany says the owner has more than listKeepMax: read page by page.
	tooMany bool
	list    []Credential
	loaded  time.Time
	// loading is closed when the read in flight ends; the owner's other
	// lists wait for it rather than read the same again.
	loading chan struct{}
}

func (c *ListCache) slot(owner string) *listSlot {
	if c.slots == nil || len(c.slots) >= listKeepOwners {
		c.clear()
	}
	sl, ok := c.slots[owner]
	if !ok {
		sl = &listSlot{}
		c.slots[owner] = sl
	}
	return sl
}

// listRead is one read of an owner's list from the store, begun by lookup.
type listRead struct {
	sl    *listSlot
	gen   uint64
	epoch uint64
}

// lookup returns the owner's kept list (kept false when the owner has too
// many to keep) while it is fresh, and also once it has expired, with a
// read to make in the background when none is in flight: expiry only
// bounds a lost announcement, so the kept list answers until the read
// ends, rather than every list of the owner waiting for it. With nothing
// kept (never read, or forgotten after a change) it returns a channel to
// wait on while another read is in flight, or a read for the caller to
// make and hand to done.
func (c *ListCache) lookup(owner string, now time.Time) (list []Credential, kept, ok bool, wait <-chan struct{}, read listRead) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sl := c.slot(owner)
	if sl.kept || sl.tooMany {
		if now.Sub(sl.loaded) >= ListsMaxAge && sl.loading == nil {
			sl.loading = make(chan struct{})
			read = listRead{sl: sl, gen: sl.gen, epoch: c.epoch}
		}
		return sl.list, sl.kept, true, nil, read
	}
	if sl.loading != nil {
		return nil, false, false, sl.loading, listRead{}
	}
	sl.loading = make(chan struct{})
	return nil, false, false, nil, listRead{sl: sl, gen: sl.gen, epoch: c.epoch}
}

// done ends a read: it wakes the waiters and keeps what was read unless a
// change or a clear came in between. A failed read keeps nothing.
func (c *ListCache) done(r listRead, list []Credential, tooMany bool, loaded time.Time, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	close(r.sl.loading)
	r.sl.loading = nil
	if !ok || r.epoch != c.epoch || r.sl.gen != r.gen {
		return
	}
	maxKept := c.MaxKept
	if maxKept <= 0 {
		maxKept = DefaultListsMaxKept
	}
	if c.kept-len(r.sl.list)+len(list) > maxKept {
		c.clear()
		return
	}
	c.kept += len(list) - len(r.sl.list)
	r.sl.kept, r.sl.tooMany, r.sl.list, r.sl.loaded = !tooMany, tooMany, list, loaded
}

// clear drops every list and refuses reads begun before.
func (c *ListCache) clear() {
	c.slots = map[string]*listSlot{}
	c.epoch++
	c.kept = 0
}

// Forget drops the owner's list and refuses reads begun before: one of
// the owner's credentials changed.
func (c *ListCache) Forget(owner string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sl := c.slot(owner)
	sl.gen++
	c.kept -= len(sl.list)
	sl.kept, sl.tooMany, sl.list = false, false, nil
}

// ForgetAll drops every list: announcements of changes were lost.
func (c *ListCache) ForgetAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clear()
}

// ownerList returns the owner's live credentials newest first, from memory
// when kept; false when the owner has more than are kept.
func (s *Service) ownerList(ctx context.Context, ownerID string) ([]Credential, bool, error) {
	if s.feed != nil {
		s.feed.CatchUp()
	}
	for {
		list, kept, ok, wait, read := s.lists.lookup(ownerID, s.now())
		if ok {
			if read.sl != nil {
				s.readListLater(ownerID, read)
			}
			return list, kept, nil
		}
		if wait != nil {
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, false, ctx.Err()
			}
		}
		list, kept, err := s.readList(ctx, ownerID, read)
		return list, kept, err
	}
}

// listReadTimeout bounds a read of an expired list in the background.
const listReadTimeout = 30 * time.Second

// readList reads the owner's list from the store and hands it to the cache.
func (s *Service) readList(ctx context.Context, ownerID string, read listRead) ([]Credential, bool, error) {
	loaded := s.now()
	list, total, err := s.store.ListCredentials(ctx, ownerID, 0, listKeepMax)
	tooMany := err == nil && total > int64(len(list))
	s.lists.done(read, list, tooMany, loaded, err == nil)
	if err != nil {
		return nil, false, err
	}
	return list, !tooMany, nil
}

// readListLater reads an expired list again without keeping a request
// waiting; Close waits for it.
func (s *Service) readListLater(ownerID string, read listRead) {
	s.jobsWG.Add(1)
	go func() {
		defer s.jobsWG.Done()
		ctx, cancel := context.WithTimeout(s.jobs, listReadTimeout)
		defer cancel()
		if _, _, err := s.readList(ctx, ownerID, read); err != nil {
			// The next list tries again; until then the kept one answers.
			s.log.Warn("read an expired credential list again", "error", err)
		}
	}()
}

// changed forgets the owner's list here and tells the other instances.
func (s *Service) changed(ctx context.Context, ownerID string) {
	s.lists.Forget(ownerID)
	if s.broadcast == nil {
		return
	}
	if err := s.broadcast.CredentialsChanged(ctx, ownerID); err != nil {
		// They serve their list until it expires (ListsMaxAge).
		s.log.Warn("tell the other instances about a credential change", "error", err)
	}
}

// listingStore is the store with every write that changes what a list
// shows followed by changed, so no write path can leave a list behind.
// ReplaceKey changes only key material, which no list shows.
type listingStore struct {
	Store
	s *Service
}

func (l listingStore) InsertCredential(ctx context.Context, c Credential, key KeyMaterial) error {
	defer l.s.changed(ctx, c.OwnerID)
	return l.Store.InsertCredential(ctx, c, key)
}

func (l listingStore) UpdateCredential(ctx context.Context, ownerID, id string, u Update) (Credential, error) {
	defer l.s.changed(ctx, ownerID)
	return l.Store.UpdateCredential(ctx, ownerID, id, u)
}

func (l listingStore) DeleteCredential(ctx context.Context, ownerID, id string, at time.Time) error {
	defer l.s.changed(ctx, ownerID)
	return l.Store.DeleteCredential(ctx, ownerID, id, at)
}

func (l listingStore) RecordTest(ctx context.Context, ownerID, id string, ok bool, at time.Time) error {
	defer l.s.changed(ctx, ownerID)
	return l.Store.RecordTest(ctx, ownerID, id, ok, at)
}

func (l listingStore) RecordUse(ctx context.Context, ownerID, id string, at time.Time) error {
	defer l.s.changed(ctx, ownerID)
	return l.Store.RecordUse(ctx, ownerID, id, at)
}

func (l listingStore) DeleteOwner(ctx context.Context, ownerID string) (int64, error) {
	defer l.s.changed(ctx, ownerID)
	return l.Store.DeleteOwner(ctx, ownerID)
}

// page is one window of a list, copied so callers cannot touch the kept one.
func page(list []Credential, skip, limit int) []Credential {
	from := min(skip, len(list))
	return slices.Clone(list[from:min(from+limit, len(list))])
}
