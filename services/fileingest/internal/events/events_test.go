package events_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/userv1"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/pkg/objstore"
	"github.com/nonefinity/backend/pkg/telemetry"
	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/fileingest/internal/events"
	"github.com/nonefinity/backend/services/fileingest/internal/files"
	"github.com/nonefinity/backend/services/fileingest/internal/objects"
	"github.com/nonefinity/backend/services/fileingest/internal/store"
)

const (
	alice = "65f2a1b3c4d5e6f708192a3b"
	bob   = "65f2a1b3c4d5e6f708192a3c"
)

// rig is the pipeline's real surroundings: NATS with the streams, a
// database and a bucket. Tests put consumers on it with the core wired to
// what they need.
type rig struct {
	t       *testing.T
	nats    *testkit.NATSServer
	nc      *nats.Conn
	js      jetstream.JetStream
	db      *mongo.Database
	store   *store.Store
	objects *objstore.Store
	// bucket is objects as the core sees it.
	bucket *objects.Bucket
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{t: t, nats: testkit.NATS(t)}
	r.nc = r.nats.Conn(t)
	var err error
	if r.js, err = jetstream.New(r.nc); err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	var specs []contracts.StreamSpec
	for _, n := range []string{contracts.StreamFiles, contracts.StreamUsers} {
		s, _ := contracts.StreamFor(n)
		specs = append(specs, s)
	}
	if err := natsx.EnsureStreams(ctx, r.js, specs, natsx.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	r.db = testkit.Mongo(t)
	r.store = store.New(r.db)
	if err := r.store.EnsureIndexes(ctx, nil); err != nil {
		t.Fatal(err)
	}
	b := testkit.S3(t)
	r.objects, err = objstore.New(objstore.Config{Endpoint: b.Endpoint, AccessKey: b.AccessKey, SecretKey: b.SecretKey, Bucket: b.Bucket})
	if err != nil {
		t.Fatal(err)
	}
	r.bucket = objects.New(r.objects)
	return r
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func testLog() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// core is the service over the rig's store and publisher, reading objects
// through objects.
func (r *rig) core(js jetstream.JetStream, objects files.ObjectStore, maxAttempts int) *files.Service {
	return files.NewService(r.store, objects, events.NewPublisher(js), files.Config{
		MaxFileSize: 1 << 30, UserQuota: 1 << 30, UploadURLTTL: time.Minute, DownloadURLTTL: time.Minute, OpenURLTTL: time.Minute,
		MaxAttempts: maxAttempts,
	}, testLog())
}

var fastRetry = natsx.ConsumerOptions{MaxDeliver: 5, AckWait: 2 * time.Second, Backoff: []time.Duration{50 * time.Millisecond}}

// startProcessing runs a processing consumer on its own connection until
// the test ends (or the returned stop is called).
func (r *rig) startProcessing(objects files.ObjectStore, o natsx.ConsumerOptions) (*nats.Conn, *natsx.Consumer) {
	r.t.Helper()
	nc := r.nats.Conn(r.t)
	js, err := jetstream.New(nc)
	if err != nil {
		r.t.Fatal(err)
	}
	o.Logger = testLog()
	// The core counts attempts (o.MaxDeliver of them); the consumer never
	// gives up by count, as the service runs it.
	core := r.core(js, objects, o.MaxDeliver)
	o.MaxDeliver = -1
	c, err := events.StartProcessing(context.Background(), js, core, o, natsx.Fairness{})
	if err != nil {
		r.t.Fatalf("StartProcessing: %v", err)
	}
	r.t.Cleanup(c.Stop)
	return nc, c
}

// addFile stores an object and its document and publishes the uploaded
// event, as a commit does.
func (r *rig) addFile(owner, name string, body []byte) files.File {
	r.t.Helper()
	ctx := testCtx(r.t)
	base, ext := files.SplitName(name)
	key := files.OwnerPrefix(owner) + "raw/" + strings.ReplaceAll(name, " ", "_")
	if _, err := r.objects.Put(ctx, key, strings.NewReader(string(body)), int64(len(body)), ""); err != nil {
		r.t.Fatal(err)
	}
	now := time.Now().UTC()
	f, err := r.store.Insert(ctx, files.File{
		OwnerID: owner, Bucket: r.objects.Bucket(), FilePath: key, FileName: base, FileExt: ext,
		FileType: files.GuessType(ext), FileSize: int64(len(body)), Status: files.StatusUploaded, CreatedAt: now, UpdatedAt: now,
	})
	if err != nil {
		r.t.Fatal(err)
	}
	if err := events.NewPublisher(r.js).Uploaded(ctx, f); err != nil {
		r.t.Fatal(err)
	}
	return f
}

// subscribe listens to one event of one user on core NATS.
func (r *rig) subscribe(event, owner string) *nats.Subscription {
	r.t.Helper()
	sub, err := r.nc.SubscribeSync(contracts.EventSubject(contracts.DomainFile, event, owner))
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.nc.Flush(); err != nil {
		r.t.Fatal(err)
	}
	return sub
}

func (r *rig) get(owner, id string) files.File {
	r.t.Helper()
	f, err := r.store.Get(testCtx(r.t), owner, id)
	if err != nil {
		r.t.Fatalf("get %s: %v", id, err)
	}
	return f
}

// count is the number of messages the stream holds on subject.
func (r *rig) count(stream, subject string) uint64 {
	r.t.Helper()
	ctx := testCtx(r.t)
	s, err := r.js.Stream(ctx, stream)
	if err != nil {
		r.t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		r.t.Fatal(err)
	}
	return info.State.Subjects[subject]
}

// waitDrained waits until the durable consumer has acknowledged every
// message of its stream.
func (r *rig) waitDrained(stream, durable string) {
	r.t.Helper()
	ctx := testCtx(r.t)
	testkit.Eventually(r.t, 30*time.Second, func() error {
		s, err := r.js.Stream(ctx, stream)
		if err != nil {
			r.t.Fatal(err)
		}
		c, err := s.Consumer(ctx, durable)
		if err != nil {
			r.t.Fatal(err)
		}
		ci, err := c.Info(ctx)
		if err != nil {
			r.t.Fatal(err)
		}
		if ci.NumPending == 0 && ci.NumAckPending == 0 && ci.Delivered.Stream == ci.AckFloor.Stream {
			return nil
		}
		return fmt.Errorf("consumer %s not drained: %+v", durable, ci)
	})
}

func waitFile(t *testing.T, sub *nats.Subscription, fileID string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		msg, err := sub.NextMsg(time.Until(deadline))
		if err != nil {
			t.Fatalf("no event on %s for file %s: %v", sub.Subject, fileID, err)
		}
		if strings.Contains(string(msg.Data), fileID) {
			return
		}
	}
}

// gatedObjects is the real object store with a hook in front of Get, to
// hold a handler at the moment it opens the object, or to fail it.
type gatedObjects struct {
	files.ObjectStore
	beforeGet func(ctx context.Context, key string) error
}

func (g gatedObjects) Get(ctx context.Context, key string) (io.ReadCloser, files.ObjectInfo, error) {
	if err := g.beforeGet(ctx, key); err != nil {
		return nil, files.ObjectInfo{}, err
	}
	return g.ObjectStore.Get(ctx, key)
}

func TestEmptyFileFails(t *testing.T) {
	r := newRig(t)
	failed := r.subscribe(contracts.EventFailed, alice)
	r.startProcessing(r.bucket, fastRetry)
	f := r.addFile(alice, "empty.csv", nil)
	waitFile(t, failed, f.ID)
	r.waitDrained(contracts.StreamFiles, contracts.DurableFileProcess)
	got := r.get(alice, f.ID)
	if got.Status != files.StatusFailed || got.Error != "the file is empty" || !got.Processing.OutcomePublished {
		t.Fatalf("empty file = %+v", got)
	}
}

// A redelivered or re-published uploaded event does not process a ready
// file again, and its processed event is published once.
func TestRedeliveryIsIdempotent(t *testing.T) {
	r := newRig(t)
	processed := r.subscribe(contracts.EventProcessed, alice)
	var gets atomic.Int32
	counting := gatedObjects{ObjectStore: r.bucket, beforeGet: func(context.Context, string) error { gets.Add(1); return nil }}
	r.startProcessing(counting, fastRetry)
	f := r.addFile(alice, "data.csv", []byte("a,b\n1,2\n"))
	waitFile(t, processed, f.ID)
	r.waitDrained(contracts.StreamFiles, contracts.DurableFileProcess)

	ctx := testCtx(t)
	uploaded := contracts.EventSubject(contracts.DomainFile, contracts.EventUploaded, alice)
	// The same event again, past de-duplication (another message id).
	if err := natsx.Publish(ctx, r.js, uploaded, "again-1", map[string]string{"file_id": f.ID, "owner_id": alice}); err != nil {
		t.Fatal(err)
	}
	r.waitDrained(contracts.StreamFiles, contracts.DurableFileProcess)
	got := r.get(alice, f.ID)
	if got.Status != files.StatusReady || got.Processing.Attempts != 1 || gets.Load() != 1 {
		t.Fatalf("after a repeated event: status %s, attempts %d, object reads %d", got.Status, got.Processing.Attempts, gets.Load())
	}
	processedSubject := contracts.EventSubject(contracts.DomainFile, contracts.EventProcessed, alice)
	if n := r.count(contracts.StreamFiles, processedSubject); n != 1 {
		t.Fatalf("processed events = %d, want 1", n)
	}

	// A crash after storing the outcome but before publishing it: the next
	// delivery publishes it (once, by its message id) and notes that.
	oid, _ := bson.ObjectIDFromHex(f.ID)
	if _, err := r.db.Collection(store.Collection).UpdateOne(ctx, bson.D{{Key: "_id", Value: oid}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "processing.outcome_published", Value: false}}}}); err != nil {
		t.Fatal(err)
	}
	if err := natsx.Publish(ctx, r.js, uploaded, "again-2", map[string]string{"file_id": f.ID, "owner_id": alice}); err != nil {
		t.Fatal(err)
	}
	r.waitDrained(contracts.StreamFiles, contracts.DurableFileProcess)
	got = r.get(alice, f.ID)
	if !got.Processing.OutcomePublished || got.Processing.Attempts != 1 || gets.Load() != 1 {
		t.Fatalf("after a lost publish: %+v (object reads %d)", got.Processing, gets.Load())
	}
	if n := r.count(contracts.StreamFiles, processedSubject); n != 1 {
		t.Fatalf("processed events = %d, want 1 (de-duplicated)", n)
	}
}

// The service dies while a file is being read; after a restart the file is
// processed to the end, with exactly one processed event.
func TestKillAndRestartMidProcessing(t *testing.T) {
	r := newRig(t)
	processed := r.subscribe(contracts.EventProcessed, alice)
	entered := make(chan string, 1)
	release := make(chan struct{})
	killed := errors.New("process killed")
	held := gatedObjects{ObjectStore: r.bucket, beforeGet: func(ctx context.Context, key string) error {
		entered <- key
		<-release
		return killed
	}}
	nc1, first := r.startProcessing(held, fastRetry)

	f := r.addFile(alice, "big.csv", []byte("id;name\n1;ä\n"))
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the handler never opened the object")
	}
	if got := r.get(alice, f.ID); got.Status != files.StatusProcessing || got.Processing.Attempts != 1 {
		t.Fatalf("while held: %+v", got)
	}
	// Kill: the connection goes away under the running handler, which
	// then fails without storing anything and cannot ack or nak.
	nc1.Close()
	close(release)
	first.Stop()
	if got := r.get(alice, f.ID); got.Status != files.StatusProcessing {
		t.Fatalf("after the kill: %+v", got)
	}

	r.startProcessing(r.bucket, fastRetry)
	waitFile(t, processed, f.ID)
	r.waitDrained(contracts.StreamFiles, contracts.DurableFileProcess)
	got := r.get(alice, f.ID)
	if got.Status != files.StatusReady || got.Processing.Attempts != 2 || got.Preview == nil || got.Preview.Delimiter != ";" {
		t.Fatalf("after the restart: %+v", got)
	}
	if n := r.count(contracts.StreamFiles, contracts.EventSubject(contracts.DomainFile, contracts.EventProcessed, alice)); n != 1 {
		t.Fatalf("processed events = %d, want exactly 1", n)
	}
}

// A file whose processing keeps failing ends failed after MaxDeliver
// attempts, with a failed event and one Sentry error event, and the files
// after it are processed.
func TestPoisonFileEndsFailed(t *testing.T) {
	ingest, flush := testkit.Sentry(t, telemetry.SentryOptions{})
	r := newRig(t)
	failed := r.subscribe(contracts.EventFailed, alice)
	processed := r.subscribe(contracts.EventProcessed, alice)
	var poisonGets atomic.Int32
	sick := gatedObjects{ObjectStore: r.bucket, beforeGet: func(_ context.Context, key string) error {
		if strings.HasSuffix(key, "poison.csv") {
			poisonGets.Add(1)
			return fmt.Errorf("objstore: get %q: %w", key, files.ErrStorageUnavailable)
		}
		return nil
	}}
	o := fastRetry
	o.MaxDeliver = 3
	r.startProcessing(sick, o)

	bad := r.addFile(alice, "poison.csv", []byte("a\n1\n"))
	good := r.addFile(alice, "fine.csv", []byte("a\n1\n"))
	waitFile(t, processed, good.ID)
	waitFile(t, failed, bad.ID)
	got := r.get(alice, bad.ID)
	if got.Status != files.StatusFailed || got.Error != files.GaveUpReason || got.Processing.Attempts != 3 || poisonGets.Load() != 3 {
		t.Fatalf("poison file = %+v (reads %d)", got, poisonGets.Load())
	}
	if n := r.count(contracts.StreamFiles, contracts.EventSubject(contracts.DomainFile, contracts.EventFailed, alice)); n != 1 {
		t.Fatalf("failed events = %d, want 1", n)
	}
	// Giving up is reported like a poison message: an error event with
	// its error id, the owner hashed.
	if !flush(5 * time.Second) {
		t.Fatal("sentry flush timed out")
	}
	ingest.WaitPoisonEvent(t, 10*time.Second, contracts.DurableFileProcess, "processing gave up", alice)
}

// flakyPrefixDelete fails the first erase of each prefix, as an outage
// would, so the erase must resume on redelivery.
type flakyPrefixDelete struct {
	files.ObjectStore
	raw   *objstore.Store
	mu    sync.Mutex
	tried map[string]bool
}

func (f *flakyPrefixDelete) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	f.mu.Lock()
	first := !f.tried[prefix]
	f.tried[prefix] = true
	f.mu.Unlock()
	if first {
		// Half the work, then the failure.
		for oi, err := range f.raw.List(ctx, prefix) {
			if err != nil {
				return 0, err
			}
			if err := f.ObjectStore.Delete(ctx, oi.Key); err != nil {
				return 0, err
			}
			break
		}
		return 1, fmt.Errorf("objstore: delete prefix %q: %w", prefix, files.ErrStorageUnavailable)
	}
	return f.ObjectStore.DeletePrefix(ctx, prefix)
}

func TestEraseDeletedUser(t *testing.T) {
	r := newRig(t)
	ctx := testCtx(t)
	a1 := r.addFile(alice, "one.csv", []byte("a\n1\n"))
	a2 := r.addFile(alice, "two.txt", []byte("hello"))
	b1 := r.addFile(bob, "bob.csv", []byte("b\n2\n"))
	if _, err := r.objects.Put(ctx, files.OwnerPrefix(alice)+"datasets/d1/part.parquet", strings.NewReader("x"), 1, ""); err != nil {
		t.Fatal(err)
	}

	flaky := &flakyPrefixDelete{ObjectStore: r.bucket, raw: r.objects, tried: map[string]bool{}}
	c, err := events.StartErasure(context.Background(), r.js, r.core(r.js, flaky, 0), natsx.ErasureOptions{
		RetryBase: 50 * time.Millisecond, Logger: testLog(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	// An event for bob whose body names alice is applied to neither.
	forged := userv1.UserDeleted{UserID: alice, DeletedAt: time.Now().UTC()}
	if err := natsx.Publish(ctx, r.js, contracts.EventSubject(contracts.DomainUser, contracts.EventDeleted, bob), "forged", forged); err != nil {
		t.Fatal(err)
	}
	e := userv1.UserDeleted{UserID: alice, ClerkID: "user_x", DeletedAt: time.Now().UTC()}
	if err := natsx.Publish(ctx, r.js, e.Subject(), "user.deleted."+alice, e); err != nil {
		t.Fatal(err)
	}
	r.waitDrained(contracts.StreamUsers, contracts.DurableFileUserErase)
	flaky.mu.Lock()
	forgedApplied := flaky.tried[files.OwnerPrefix(bob)]
	flaky.mu.Unlock()
	if forgedApplied {
		t.Fatal("the forged event erased bob")
	}

	for oi, err := range r.objects.List(ctx, files.OwnerPrefix(alice)) {
		t.Errorf("alice's object left: %s %v", oi.Key, err)
	}
	if left, err := r.store.List(ctx, alice, files.Page{Limit: 10}); err != nil || len(left) != 0 {
		t.Fatalf("alice's files left: %+v, %v", left, err)
	}
	for _, f := range []files.File{a1, a2} {
		if _, err := r.store.Get(ctx, alice, f.ID); !errors.Is(err, files.ErrNotFound) {
			t.Errorf("file %s: %v", f.ID, err)
		}
	}
	if got := r.get(bob, b1.ID); got.ID != b1.ID {
		t.Fatal("bob's file is gone")
	}
	if _, err := r.objects.Stat(ctx, b1.FilePath); err != nil {
		t.Fatalf("bob's object: %v", err)
	}
	if !flaky.tried[files.OwnerPrefix(alice)] {
		t.Fatal("the erase never ran")
	}
}

// One user's uploads cannot hold every processing slot: while alice's
// first file is stuck, her second waits (deferred) and bob's file, queued
// after both, is processed at once on the other slot.
func TestProcessingIsFairBetweenUsers(t *testing.T) {
	r := newRig(t)
	processedA := r.subscribe(contracts.EventProcessed, alice)
	processedB := r.subscribe(contracts.EventProcessed, bob)
	release := make(chan struct{})
	var aliceGets atomic.Int32
	held := gatedObjects{ObjectStore: r.bucket, beforeGet: func(ctx context.Context, key string) error {
		if strings.Contains(key, "/"+alice+"/") {
			aliceGets.Add(1)
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}}
	o := fastRetry
	o.Concurrency = 2
	r.startProcessing(held, o)

	a1 := r.addFile(alice, "a1.csv", []byte("a\n1\n"))
	a2 := r.addFile(alice, "a2.csv", []byte("a\n2\n"))
	b1 := r.addFile(bob, "b1.csv", []byte("b\n1\n"))
	waitFile(t, processedB, b1.ID)
	if n := aliceGets.Load(); n != 1 {
		t.Fatalf("alice has %d files in processing while one is stuck; a user gets one slot", n)
	}
	close(release)
	waitFile(t, processedA, a1.ID)
	waitFile(t, processedA, a2.ID)
}
