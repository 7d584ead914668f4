package files_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nonefinity/backend/services/fileingest/internal/files"
)

// The fakes below stand in for MongoDB, the bucket and JetStream in the
// core's tests: they keep what the ports document (owner scoping, a
// reservation released once, a ticket taken once, missing objects as
// files.ErrObjectNotFound) and nothing else.

// memFiles is files.Store in memory.
type memFiles struct {
	mu           sync.Mutex
	files        map[string]files.File
	reservations map[string]files.Reservation
	tickets      map[string]map[int64]time.Time
	lastID       int
	// beforeInsert, when set, runs as a commit stores its file: the moment
	// a sweep may release the upload's reservation.
	beforeInsert func()
}

func newMemFiles() *memFiles {
	return &memFiles{files: map[string]files.File{}, reservations: map[string]files.Reservation{}, tickets: map[string]map[int64]time.Time{}}
}

func (s *memFiles) newID() string {
	s.lastID++
	return fmt.Sprintf("%024x", s.lastID)
}

func (s *memFiles) Insert(_ context.Context, f files.File) (files.File, error) {
	if s.beforeInsert != nil {
		s.beforeInsert()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.files {
		if g.OwnerID == f.OwnerID && g.FilePath == f.FilePath {
			return files.File{}, files.ErrDuplicate
		}
	}
	f.ID = s.newID()
	s.files[f.ID] = f
	return f, nil
}

func (s *memFiles) Get(_ context.Context, owner, id string) (files.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[id]
	if !ok || f.OwnerID != owner {
		return files.File{}, files.ErrNotFound
	}
	return f, nil
}

func (s *memFiles) GetByPath(_ context.Context, owner, path string) (files.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.files {
		if f.OwnerID == owner && f.FilePath == path {
			return f, nil
		}
	}
	return files.File{}, files.ErrNotFound
}

// page lists the owner's files that keep accepts, newest first, after
// p.After, without previews.
func (s *memFiles) page(owner string, p files.Page, keep func(files.File) bool) []files.File {
	var out []files.File
	for _, f := range s.files {
		if f.OwnerID != owner || !keep(f) {
			continue
		}
		if a := p.After; a != nil && (f.CreatedAt.After(a.CreatedAt) || f.CreatedAt.Equal(a.CreatedAt) && f.ID >= a.ID) {
			continue
		}
		f.Preview = nil
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b files.File) int { return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.ID, a.ID)) })
	if p.Limit > 0 && len(out) > p.Limit {
		out = out[:p.Limit]
	}
	return out
}

func (s *memFiles) List(_ context.Context, owner string, p files.Page) ([]files.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.page(owner, p, func(files.File) bool { return true }), nil
}

func (s *memFiles) Search(_ context.Context, owner string, q files.SearchQuery) ([]files.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.page(owner, files.Page{Limit: q.Limit}, func(f files.File) bool {
		return strings.Contains(strings.ToLower(f.FileName), strings.ToLower(q.Name)) && strings.HasPrefix(f.FileType, q.TypePrefix)
	}), nil
}

func (s *memFiles) ReadyOfTypes(_ context.Context, owner string, types []string, p files.Page) ([]files.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.page(owner, p, func(f files.File) bool {
		return f.Status == files.StatusReady && slices.Contains(types, f.DetectedType)
	}), nil
}

// change applies edit to the owner's file id.
func (s *memFiles) change(owner, id string, edit func(*files.File)) (files.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[id]
	if !ok || f.OwnerID != owner {
		return files.File{}, files.ErrNotFound
	}
	edit(&f)
	s.files[id] = f
	return f, nil
}

func (s *memFiles) Rename(_ context.Context, owner, id, name string, now time.Time) (files.File, error) {
	return s.change(owner, id, func(f *files.File) { f.FileName, f.UpdatedAt = name, now })
}

func (s *memFiles) Delete(_ context.Context, owner, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.files[id]; !ok || f.OwnerID != owner {
		return files.ErrNotFound
	}
	delete(s.files, id)
	return nil
}

func (s *memFiles) DeleteOwner(_ context.Context, owner string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for id, f := range s.files {
		if f.OwnerID == owner {
			delete(s.files, id)
			n++
		}
	}
	maps.DeleteFunc(s.reservations, func(_ string, r files.Reservation) bool { return r.OwnerID == owner })
	delete(s.tickets, owner)
	return n, nil
}

func (s *memFiles) UsedBytes(_ context.Context, owner string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, f := range s.files {
		if f.OwnerID == owner {
			n += f.FileSize
		}
	}
	return n, nil
}

func (s *memFiles) Reserve(_ context.Context, r files.Reservation) (files.Reservation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.ID = s.newID()
	s.reservations[r.ID] = r
	return r, nil
}

func (s *memFiles) ReservationFor(_ context.Context, owner, key string) (files.Reservation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.reservations {
		if r.OwnerID == owner && r.ObjectKey == key {
			return r, nil
		}
	}
	return files.Reservation{}, files.ErrNotFound
}

func (s *memFiles) ReservedBytes(_ context.Context, owner string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, r := range s.reservations {
		if r.OwnerID == owner {
			n += r.Size
		}
	}
	return n, nil
}

func (s *memFiles) Release(_ context.Context, owner, id string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.reservations[id]; !ok || r.OwnerID != owner {
		return false, nil
	}
	delete(s.reservations, id)
	return true, nil
}

func (s *memFiles) DueReservations(_ context.Context, now time.Time, limit int) ([]files.Reservation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var due []files.Reservation
	for _, r := range s.reservations {
		if r.SweepAfter.Before(now) {
			due = append(due, r)
		}
	}
	slices.SortFunc(due, func(a, b files.Reservation) int { return a.SweepAfter.Compare(b.SweepAfter) })
	return due[:min(limit, len(due))], nil
}

func (s *memFiles) QuotaTicket(_ context.Context, owner string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Max(append(slices.Collect(maps.Keys(s.tickets[owner])), 0)), nil
}

func (s *memFiles) TakeQuotaTicket(_ context.Context, owner string, n int64) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, taken := s.tickets[owner][n]; taken {
		return false, nil
	}
	if s.tickets[owner] == nil {
		s.tickets[owner] = map[int64]time.Time{}
	}
	s.tickets[owner][n] = time.Now()
	return true, nil
}

func (s *memFiles) DropTickets(_ context.Context, before time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, ts := range s.tickets {
		latest := slices.Max(slices.Collect(maps.Keys(ts)))
		for k, at := range ts {
			if k != latest && at.Before(before) {
				delete(ts, k)
				n++
			}
		}
	}
	return n, nil
}

func (s *memFiles) TypeSizes(_ context.Context, owner string) ([]files.TypeSize, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sizes := map[string]int64{}
	for _, f := range s.files {
		if f.OwnerID == owner {
			sizes[f.FileType] += f.FileSize
		}
	}
	var out []files.TypeSize
	for _, t := range slices.Sorted(maps.Keys(sizes)) {
		out = append(out, files.TypeSize{Type: t, Size: sizes[t]})
	}
	return out, nil
}

func (s *memFiles) Types(ctx context.Context, owner string) ([]string, error) {
	sizes, err := s.TypeSizes(ctx, owner)
	var out []string
	for _, ts := range sizes {
		out = append(out, ts.Type)
	}
	return out, err
}

func (s *memFiles) StartProcessing(_ context.Context, owner, id string, now time.Time) (files.File, bool, error) {
	started := false
	f, err := s.change(owner, id, func(f *files.File) {
		if f.Status == files.StatusUploaded || f.Status == files.StatusProcessing {
			f.Status, started = files.StatusProcessing, true
			f.Processing.Attempts++
			f.Processing.StartedAt = now
		}
	})
	return f, started, err
}

func (s *memFiles) FinishProcessing(_ context.Context, owner, id string, o files.Outcome, now time.Time) (files.File, bool, error) {
	applied := false
	f, err := s.change(owner, id, func(f *files.File) {
		if f.Status == files.StatusProcessing || f.Status == files.StatusUploaded && o.Status == files.StatusFailed {
			f.Status, f.Category, f.DetectedType, f.SHA256, f.Error, f.Preview = o.Status, o.Category, o.DetectedType, o.SHA256, o.Error, o.Preview
			f.Processing.FinishedAt, f.UpdatedAt, applied = now, now, true
		}
	})
	return f, applied, err
}

func (s *memFiles) MarkOutcomePublished(_ context.Context, owner, id string) error {
	_, err := s.change(owner, id, func(f *files.File) { f.Processing.OutcomePublished = true })
	return err
}

// memObjects is files.ObjectStore in memory: objects by key and the
// multipart uploads begun. down makes every call fail as an unreachable
// server does.
type memObjects struct {
	mu      sync.Mutex
	objects map[string]files.ObjectInfo
	uploads map[string]string // upload id -> key
	lastID  int
	down    bool
}

func newMemObjects() *memObjects {
	return &memObjects{objects: map[string]files.ObjectInfo{}, uploads: map[string]string{}}
}

var errDown = fmt.Errorf("fake bucket: %w", files.ErrStorageUnavailable)

// put stores an object as a client's PUT to a presigned URL would.
func (o *memObjects) put(key string, size int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lastID++
	o.objects[key] = files.ObjectInfo{Size: size, ETag: fmt.Sprintf("etag-%d", o.lastID)}
}

func (o *memObjects) has(key string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, ok := o.objects[key]
	return ok
}

func (o *memObjects) Bucket() string { return "test-bucket" }

func (o *memObjects) Stat(_ context.Context, key string) (files.ObjectInfo, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.down {
		return files.ObjectInfo{}, errDown
	}
	info, ok := o.objects[key]
	if !ok {
		return files.ObjectInfo{}, fmt.Errorf("stat %s: %w", key, files.ErrObjectNotFound)
	}
	return info, nil
}

func (o *memObjects) Get(ctx context.Context, key string) (io.ReadCloser, files.ObjectInfo, error) {
	info, err := o.Stat(ctx, key)
	if err != nil {
		return nil, info, err
	}
	return io.NopCloser(strings.NewReader(strings.Repeat("x", int(info.Size)))), info, nil
}

func (o *memObjects) GetVersion(ctx context.Context, key, etag string) (io.ReadCloser, error) {
	r, info, err := o.Get(ctx, key)
	if err == nil && info.ETag != etag {
		return nil, fmt.Errorf("%s is no longer version %s: %w", key, etag, files.ErrObjectChanged)
	}
	return r, err
}

func (o *memObjects) Delete(_ context.Context, key string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.down {
		return errDown
	}
	delete(o.objects, key)
	return nil
}

func (o *memObjects) DeletePrefix(_ context.Context, prefix string) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.down {
		return 0, errDown
	}
	n := 0
	for key := range o.objects {
		if strings.HasPrefix(key, prefix) {
			delete(o.objects, key)
			n++
		}
	}
	return n, nil
}

func (o *memObjects) presign(op, key string) (*url.URL, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.down {
		return nil, errDown
	}
	return &url.URL{Scheme: "https", Host: "bucket.test", Path: "/" + key, RawQuery: "op=" + op}, nil
}

func (o *memObjects) PresignPut(_ context.Context, key string, _ int64, _ time.Duration) (*url.URL, error) {
	return o.presign("put", key)
}

func (o *memObjects) PresignGet(_ context.Context, key string, _ time.Duration, _ string) (*url.URL, error) {
	return o.presign("get", key)
}

func (o *memObjects) NewMultipartUpload(_ context.Context, key, _ string) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.down {
		return "", errDown
	}
	o.lastID++
	id := fmt.Sprintf("upload-%d", o.lastID)
	o.uploads[id] = key
	return id, nil
}

func (o *memObjects) PresignUploadPart(_ context.Context, key, uploadID string, number int, _ time.Duration) (*url.URL, error) {
	return o.presign(fmt.Sprintf("part&upload=%s&n=%d", uploadID, number), key)
}

// CompleteMultipartUpload makes an object of one byte per part.
func (o *memObjects) CompleteMultipartUpload(ctx context.Context, key, uploadID string, parts []files.Part) (files.ObjectInfo, error) {
	o.mu.Lock()
	if o.down {
		o.mu.Unlock()
		return files.ObjectInfo{}, errDown
	}
	if o.uploads[uploadID] != key {
		o.mu.Unlock()
		return files.ObjectInfo{}, fmt.Errorf("upload %s of %s: %w", uploadID, key, files.ErrObjectNotFound)
	}
	delete(o.uploads, uploadID)
	o.mu.Unlock()
	o.put(key, int64(len(parts)))
	return o.Stat(ctx, key)
}

// AbortMultipartUpload drops an upload; one already gone is no error.
func (o *memObjects) AbortMultipartUpload(_ context.Context, key, uploadID string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.down {
		return errDown
	}
	if o.uploads[uploadID] == key {
		delete(o.uploads, uploadID)
	}
	return nil
}

// published records the events the core announces; fail makes Uploaded
// fail, as a JetStream outage would.
type published struct {
	mu       sync.Mutex
	uploaded []string
	other    []string
	fail     bool
}

var errPublish = errors.New("fake stream: no responders")

func (p *published) Uploaded(_ context.Context, f files.File) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail {
		return errPublish
	}
	p.uploaded = append(p.uploaded, f.ID)
	return nil
}

func (p *published) record(kind string, f files.File) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.other = append(p.other, kind+" "+f.ID)
	return nil
}

func (p *published) Processed(_ context.Context, f files.File) error { return p.record("processed", f) }
func (p *published) Failed(_ context.Context, f files.File) error    { return p.record("failed", f) }
func (p *published) Deleted(_ context.Context, f files.File) error   { return p.record("deleted", f) }

// uploads returns how many uploaded events named each file.
func (p *published) uploads() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := map[string]int{}
	for _, id := range p.uploaded {
		n[id]++
	}
	return n
}
