package datasets_test

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nonefinity/backend/services/datasetquery/internal/datasets"
)

// The fakes keep what the core gives them in memory; each embeds its port,
// so a call the test did not expect panics instead of passing quietly.

// memStore keeps dataset documents, scoped by owner as the real store is.
type memStore struct {
	datasets.Store
	mu       sync.Mutex
	docs     map[string]datasets.Dataset
	attempts map[string]int
	nextID   int
}

func newMemStore(ds ...datasets.Dataset) *memStore {
	s := &memStore{docs: map[string]datasets.Dataset{}, attempts: map[string]int{}}
	for _, d := range ds {
		s.docs[d.ID] = d
	}
	return s
}

func (s *memStore) Insert(_ context.Context, d datasets.Dataset) (datasets.Dataset, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.docs {
		if o.OwnerID == d.OwnerID && (o.Name == d.Name || (d.IdempotencyKey != "" && o.IdempotencyKey == d.IdempotencyKey)) {
			return datasets.Dataset{}, datasets.ErrDuplicateName
		}
	}
	s.nextID++
	d.ID = fmt.Sprintf("ds%04d", s.nextID)
	s.docs[d.ID] = d
	return d, nil
}

// owned is the owner's document id; s.mu must be held.
func (s *memStore) owned(ownerID, id string) (datasets.Dataset, error) {
	d, ok := s.docs[id]
	if !ok || d.OwnerID != ownerID {
		return datasets.Dataset{}, datasets.ErrNotFound
	}
	return d, nil
}

func (s *memStore) Get(_ context.Context, ownerID, id string) (datasets.Dataset, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.owned(ownerID, id)
}

func (s *memStore) find(ownerID string, match func(datasets.Dataset) bool) (datasets.Dataset, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.docs {
		if d.OwnerID == ownerID && match(d) {
			return d, nil
		}
	}
	return datasets.Dataset{}, datasets.ErrNotFound
}

func (s *memStore) GetByName(_ context.Context, ownerID, name string) (datasets.Dataset, error) {
	return s.find(ownerID, func(d datasets.Dataset) bool { return d.Name == name })
}

func (s *memStore) GetByIdempotencyKey(_ context.Context, ownerID, key string) (datasets.Dataset, error) {
	return s.find(ownerID, func(d datasets.Dataset) bool { return d.IdempotencyKey == key })
}

func (s *memStore) Update(_ context.Context, ownerID, id string, c datasets.Changes) (datasets.Dataset, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.owned(ownerID, id)
	if err != nil {
		return datasets.Dataset{}, err
	}
	if c.Name != nil {
		d.Name = *c.Name
	}
	if c.Description != nil {
		d.Description = *c.Description
	}
	if c.Schema != nil {
		d.Schema = c.Schema
	}
	if c.Status != nil {
		d.Status = *c.Status
	}
	if c.Error != nil {
		d.Error = *c.Error
	}
	if c.RowCount != nil {
		d.RowCount = *c.RowCount
	}
	if c.Parts != nil {
		d.Parts = c.Parts
	}
	d.UpdatedAt = d.UpdatedAt.Add(time.Millisecond)
	s.docs[id] = d
	return d, nil
}

func (s *memStore) Delete(_ context.Context, ownerID, id string) (datasets.Dataset, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.owned(ownerID, id)
	if err == nil {
		delete(s.docs, id)
	}
	return d, err
}

func (s *memStore) CountProcessing(_ context.Context, ownerID string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, d := range s.docs {
		if d.OwnerID == ownerID && d.Status == datasets.StatusProcessing {
			n++
		}
	}
	return n, nil
}

func (s *memStore) AddAttempt(_ context.Context, ownerID, id string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.owned(ownerID, id)
	if err != nil || d.Status != datasets.StatusProcessing {
		return 0, datasets.ErrNotFound
	}
	s.attempts[id]++
	return s.attempts[id], nil
}

// doc is the stored document, for assertions.
func (s *memStore) doc(id string) (datasets.Dataset, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.docs[id]
	return d, ok
}

func (s *memStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.docs)
}

// memObjects keeps the objects' sizes by key.
type memObjects struct {
	datasets.Objects
	mu   sync.Mutex
	objs map[string]int64
}

func newMemObjects() *memObjects { return &memObjects{objs: map[string]int64{}} }

func (o *memObjects) Put(_ context.Context, key string, r io.Reader, size int64, _ string) (string, error) {
	n, err := io.Copy(io.Discard, r)
	if err != nil {
		return "", err
	}
	if n != size {
		return "", fmt.Errorf("put %s: %d bytes, %d declared", key, n, size)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.objs[key] = size
	return fmt.Sprintf("etag-%s", key), nil
}

func (o *memObjects) Delete(_ context.Context, key string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.objs, key)
	return nil
}

func (o *memObjects) DeletePrefix(_ context.Context, prefix string) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for k := range o.objs {
		if strings.HasPrefix(k, prefix) {
			delete(o.objs, k)
			n++
		}
	}
	return n, nil
}

func (o *memObjects) PresignGet(_ context.Context, key string, _ time.Duration, _ string) (*url.URL, error) {
	return &url.URL{Scheme: "https", Host: "bucket.test", Path: "/" + key}, nil
}

func (o *memObjects) keys() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for k := range o.objs {
		out = append(out, k)
	}
	return out
}

// memEngine answers queries with one column named after the limit it was
// given, and writes empty Parquet files as empty files.
type memEngine struct {
	datasets.Engine
	mu        sync.Mutex
	calls     []string
	writeFail error
}

func (e *memEngine) called(what string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, what)
}

func (e *memEngine) callList() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.calls...)
}

func (e *memEngine) Query(_ context.Context, _, query string, limit int) (datasets.Result, error) {
	e.called("query")
	return datasets.Result{Columns: []datasets.ResultColumn{{Name: fmt.Sprint(limit), Type: "INTEGER"}}}, nil
}

func (e *memEngine) WriteEmptyParquet(_ context.Context, path string, cols []datasets.ColumnDef) error {
	e.called("empty parquet")
	if e.writeFail != nil {
		return e.writeFail
	}
	var names []string
	for _, c := range cols {
		names = append(names, c.Name+" "+c.Type)
	}
	return os.WriteFile(path, []byte(strings.Join(names, ",")), 0o600)
}

func (e *memEngine) ForgetDataset(_, datasetID string) { e.called("forget " + datasetID) }

// memPublisher records the events as "<event> <dataset id>".
type memPublisher struct {
	mu     sync.Mutex
	events []string
}

func (p *memPublisher) record(event string, d datasets.Dataset) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, event+" "+d.ID)
	return nil
}

func (p *memPublisher) Created(_ context.Context, d datasets.Dataset) error {
	return p.record("created", d)
}

func (p *memPublisher) Updated(_ context.Context, d datasets.Dataset, _ string) error {
	return p.record("updated", d)
}

func (p *memPublisher) Deleted(_ context.Context, d datasets.Dataset) error {
	return p.record("deleted", d)
}

func (p *memPublisher) Converted(_ context.Context, d datasets.Dataset) error {
	return p.record("converted", d)
}

func (p *memPublisher) Failed(_ context.Context, d datasets.Dataset) error {
	return p.record("failed", d)
}

func (p *memPublisher) list() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.events...)
}

// memFiles serves the files by id; another owner's is not found.
type memFiles struct {
	owner string
	files map[string]datasets.SourceFile
	opens int
}

func (f *memFiles) Open(_ context.Context, ownerID, fileID string) (datasets.SourceFile, error) {
	f.opens++
	sf, ok := f.files[fileID]
	if !ok || ownerID != f.owner {
		return datasets.SourceFile{}, datasets.ErrFileNotFound
	}
	return sf, nil
}

// memJobs calls enqueued with every job queued.
type memJobs struct {
	enqueued func(j datasets.ConvertJob)
}

func (j memJobs) EnqueueConvert(_ context.Context, job datasets.ConvertJob) error {
	if j.enqueued != nil {
		j.enqueued(job)
	}
	return nil
}

// memOutcomes hands out one channel of outcomes per watch.
type memOutcomes struct {
	mu      sync.Mutex
	watches map[string]chan string
	watched int
	err     error
}

func (o *memOutcomes) Watch(_ context.Context, ownerID string) (<-chan string, func(), error) {
	o.watched++
	if o.err != nil {
		return nil, nil, o.err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	ch := make(chan string, 8)
	o.watches[ownerID] = ch
	return ch, func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		delete(o.watches, ownerID)
	}, nil
}

// send delivers an outcome to the owner's watch, if one is open.
func (o *memOutcomes) send(ownerID, datasetID string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if ch, ok := o.watches[ownerID]; ok {
		ch <- datasetID
	}
}

// rig is a core over the fakes.
type rig struct {
	core     *datasets.Service
	store    *memStore
	objects  *memObjects
	engine   *memEngine
	pub      *memPublisher
	files    *memFiles
	outcomes *memOutcomes
}

const (
	alice = "65f2a1b3c4d5e6f708192a3b"
	bob   = "65f2a1b3c4d5e6f708192a3c"
)

func newRig(t *testing.T, jobs memJobs, ds ...datasets.Dataset) *rig {
	t.Helper()
	r := &rig{
		store: newMemStore(ds...), objects: newMemObjects(), engine: &memEngine{}, pub: &memPublisher{},
		files: &memFiles{owner: alice, files: map[string]datasets.SourceFile{}}, outcomes: &memOutcomes{watches: map[string]chan string{}},
	}
	r.core = datasets.NewService(datasets.Deps{
		Store: r.store, Objects: r.objects, Engine: r.engine, Pub: r.pub, Files: r.files, Jobs: jobs, Outcomes: r.outcomes,
		Scratch: t.TempDir(),
	})
	return r
}
