package all_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nonefinity/backend/contracts"
	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	fv1 "github.com/nonefinity/backend/contracts/filev1"
	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/all/internal/splitrun"
)

// splitSystem is make run-split's system under a fault test: every part its
// own process, the tests' shortcuts set as the services' settings.
type splitSystem struct {
	*splitrun.System
	api *e2eStack // only its base URL: the helpers that mint users
	db  *mongo.Database
	ops jetstream.JetStream // the deploy "ops" user: stream state only
	// timings collects what the closing note reports.
	timings []string
}

// startSplit builds the programs and starts the split system on free
// loopback ports, with the real nats-server of make nats-server.
func startSplit(t *testing.T) *splitSystem {
	t.Helper()
	root := testkit.RepoRoot(t)
	testkit.FindNATSBinary(t)
	bin := t.TempDir()
	started := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := splitrun.Build(ctx, root, bin); err != nil {
		t.Fatal(err)
	}
	built := time.Now()
	sys, err := splitrun.Start(ctx, splitrun.Options{
		RepoRoot: root, BinDir: bin, DataDir: t.TempDir(),
		Environ: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "LOG_LEVEL=info"},
		ServiceEnv: map[string][]string{
			// The polling below would meet the per-user limit.
			splitrun.Gateway: {"RATE_LIMIT_PER_MINUTE=0", "RATE_LIMIT_IP_PER_MINUTE=0"},
			// A killed instance's job comes back after the ack wait.
			splitrun.Fileingest:   {"FILE_PROCESS_ACK_WAIT=2s"},
			splitrun.Datasetquery: {"DATASET_CONVERT_ACK_WAIT=2s"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("split system: built in %s, started in %s (data in %s)", built.Sub(started).Round(time.Millisecond),
		time.Since(built).Round(time.Millisecond), sys.DataDir())
	t.Cleanup(func() {
		if t.Failed() {
			for _, name := range append([]string{splitrun.NATS, splitrun.FerretDB, splitrun.S3}, splitrun.Services...) {
				t.Logf("--- %s, last lines:\n%s", name, sys.Process(name).Tail())
			}
		}
		sys.Close()
	})

	client, err := mongo.Connect(options.Client().ApplyURI(sys.MongoURI()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	// Replies to ops arrive on its own inbox prefix only (deploy/nats).
	nc, err := nats.Connect(sys.NATSURL("ops"), nats.CustomInboxPrefix("_INBOX_ops"), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return &splitSystem{System: sys, api: &e2eStack{base: sys.GatewayURL() + "/api/v1"}, db: client.Database("nonefinity"), ops: js}
}

// note logs one measured time and keeps it for the summary.
func (s *splitSystem) note(t *testing.T, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf(format, args...)
	s.timings = append(s.timings, line)
	t.Log(line)
}

// restart starts a killed or stopped process again and notes how long it
// took until it served and until the API served again.
func (s *splitSystem) restart(t *testing.T, name string, u apiUser) {
	t.Helper()
	started := time.Now()
	if err := s.Process(name).Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	up := since(started)
	s.waitServed(t, u)
	s.note(t, "%s restarted: serving in %s, the API served again %s after the start", name, up, since(started))
}

// waitServed waits until a route of each service answers 200 again.
func (s *splitSystem) waitServed(t *testing.T, u apiUser) {
	t.Helper()
	for _, path := range []string{"/credentials", "/file/list", "/datasets/list"} {
		waitStatus(t, u, path, http.StatusOK, 10*time.Second)
	}
}

// pids are the services' process ids: a dependency's outage must heal with
// none of them restarted.
func (s *splitSystem) pids() map[string]int {
	out := map[string]int{}
	for _, name := range splitrun.Services {
		out[name] = s.Process(name).Pid()
	}
	return out
}

// noneExited fails the test when a process exited that no one stopped.
func (s *splitSystem) noneExited(t *testing.T) {
	t.Helper()
	select {
	case err := <-s.Exited():
		t.Fatal(err)
	default:
	}
}

// subjectCount is how many messages a stream holds on subject: a processed
// file or a converted dataset is announced exactly once.
func (s *splitSystem) subjectCount(t *testing.T, stream, subject string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := s.ops.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatalf("stream %s info: %v", stream, err)
	}
	return info.State.Subjects[subject]
}

// docStatus reads a document's status straight from the database, which
// answers while the service owning it is down.
func (s *splitSystem) docStatus(t *testing.T, collection, id string) string {
	t.Helper()
	oid, err := bson.ObjectIDFromHex(id)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Status string `bson:"status"`
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.db.Collection(collection).FindOne(ctx, bson.D{{Key: "_id", Value: oid}}).Decode(&doc); err != nil {
		t.Fatalf("%s %s: %v", collection, id, err)
	}
	return doc.Status
}

// assertNoScratchLeft checks the scratch roots of fileingest and
// datasetquery: one instance directory each (the running process's, the
// killed one's removed at the restart), holding nothing but its lock.
func (s *splitSystem) assertNoScratchLeft(t *testing.T) {
	t.Helper()
	for _, root := range []string{s.FileTmpDir(), filepath.Join(s.DuckDBDir(), "_scratch")} {
		var left []string
		instances := 0
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			switch {
			case d.IsDir() && strings.HasPrefix(d.Name(), "instance-"):
				instances++
			case !d.IsDir() && d.Name() != ".lock":
				left = append(left, path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(left) > 0 || instances > 1 {
			t.Errorf("scratch under %s: %d instance directories, files left %v", root, instances, left)
		}
	}
}

// waitForEntry polls root until an entry whose name starts with prefix
// appears, and returns its path: the sign that a job is at work.
func waitForEntry(t *testing.T, root, prefix string) string {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		var found string
		_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasPrefix(d.Name(), prefix) {
				found = path
				return filepath.SkipAll
			}
			return nil
		})
		if found != "" {
			return found
		}
		// Another process's work; nothing to wait on but the disk.
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("no %s* under %s within a minute", prefix, root)
	return ""
}

// waitUntil polls GET path as u until its data is done, for at most two
// minutes, and returns it.
func waitUntil[T any](t *testing.T, u apiUser, path string, done func(T) bool) T {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); ; {
		var v T
		if r := u.get(t, path); r.status == http.StatusOK {
			if err := json.Unmarshal(decodeEnvelope(t, r).Data, &v); err != nil {
				t.Fatal(err)
			}
			if done(v) {
				return v
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s not done within 2m", path)
		}
		// The work happens in another process; poll.
		time.Sleep(50 * time.Millisecond)
	}
}

// waitFileStatus waits until processing has an outcome.
func waitFileStatus(t *testing.T, u apiUser, id string) fv1.File {
	t.Helper()
	return waitUntil(t, u, "/file/"+id, func(f fv1.File) bool {
		return f.Status == fv1.StatusReady || f.Status == fv1.StatusFailed
	})
}

// waitDatasetReady waits until the conversion ended, and fails on a
// failed one.
func waitDatasetReady(t *testing.T, u apiUser, id string) dv1.Dataset {
	t.Helper()
	d := waitUntil(t, u, "/datasets/"+id, func(d dv1.Dataset) bool { return d.Status != dv1.StatusProcessing })
	if d.Status != dv1.StatusReady {
		t.Fatalf("dataset %s: %+v", id, d)
	}
	return d
}

// wait503 polls path until it answers 503 within fastAnswer and notes how
// long after the fault that was, then checks the next answers are fast
// 503s too.
func (s *splitSystem) wait503(t *testing.T, u apiUser, path string, fault time.Time, what string) {
	t.Helper()
	took := waitStatus(t, u, path, http.StatusServiceUnavailable, fastAnswer)
	s.note(t, "%s: GET %s answered 503 %s after the fault (that answer took %s)", what, path, since(fault), took.Round(time.Microsecond))
	assertFast503s(t, u, path, 3, what)
}

// checkFlow is the whole pipeline for u: upload, processing, conversion and
// a query, all on the services that lived through a fault.
func checkFlow(t *testing.T, u apiUser, name string, rows int) {
	t.Helper()
	f := uploadFile(t, u, name+".csv", "text/csv", salesCSV(saleRows(1, rows)))
	if got := waitFileStatus(t, u, f.ID); got.Status != fv1.StatusReady {
		t.Fatalf("%s: file %+v", name, got)
	}
	var d dv1.Dataset
	expect(t, u.form(t, http.MethodPost, "/datasets/convert", url.Values{"file_id": {f.ID}, "dataset_name": {name}}), http.StatusCreated, &d)
	if q := query(t, u, "SELECT count(*) AS n FROM "+name); q.Data[0].Get("n") != float64(rows) {
		t.Fatalf("%s: count = %v, want %d", name, q.Data[0].Get("n"), rows)
	}
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }

// paddedWorkbook is a small valid workbook made large by an entry nothing
// reads, stored uncompressed: fileingest spools the whole file to disk
// before it opens it, which takes long enough to be caught at it.
func paddedWorkbook(t *testing.T, padding int) []byte {
	t.Helper()
	small := stockWorkbook(t)
	zr, err := zip.NewReader(bytes.NewReader(small), int64(len(small)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		if err := zw.Copy(f); err != nil {
			t.Fatal(err)
		}
	}
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "xl/media/padding.bin", Method: zip.Store})
	if err != nil {
		t.Fatal(err)
	}
	noise := rand.NewChaCha8([32]byte{1})
	if _, err := io.CopyN(w, noise, int64(padding)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// numbersCSV is rows lines of id,label,amount: several MB, so that its
// conversion takes long enough to be caught at it.
func numbersCSV(rows int) []byte {
	var b bytes.Buffer
	b.WriteString("id,label,amount\n")
	for i := 1; i <= rows; i++ {
		fmt.Fprintf(&b, "%d,label number %d,%d.%02d\n", i, i, i%1000, i%100)
	}
	return b.Bytes()
}

const xlsxType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

// TestSplitSystemFaults runs issue #11's fault scenarios against the system
// as an operator runs it (make run-split: nats-server with deploy/nats,
// FerretDB, Versity S3 and the four service binaries, each its own
// process): each service killed with SIGKILL, fileingest while it processes
// a file and datasetquery while it converts one, and NATS, the MongoDB-wire
// server and S3 stopped and started again. While a part is down an
// affected route answers 503 within a second; the system heals without a
// service restarted; work that was cut off finishes exactly once; no
// scratch is left. The times are logged for the closing note.
func TestSplitSystemFaults(t *testing.T) {
	s := startSplit(t)
	ctx := context.Background()

	t.Run("credential killed", func(t *testing.T) {
		u := s.api.user(t, "split_credential", "")
		expect(t, u.get(t, "/credentials"), http.StatusOK, nil)
		s.Process(splitrun.Credential).Kill()
		s.wait503(t, u, "/credentials", time.Now(), "credential killed")
		s.restart(t, splitrun.Credential, u)
	})

	t.Run("gateway killed", func(t *testing.T) {
		u := s.api.user(t, "split_gateway", "")
		expect(t, u.get(t, "/auth/me"), http.StatusOK, nil)
		s.Process(splitrun.Gateway).Kill()
		if _, err := http.Get(s.GatewayURL() + "/health"); err == nil {
			t.Fatal("the killed gateway still answers")
		}
		s.restart(t, splitrun.Gateway, u)
		// The dev signing key is kept under DATA_DIR: sessions survive.
		expect(t, u.get(t, "/auth/me"), http.StatusOK, nil)
	})

	t.Run("fileingest killed while processing", func(t *testing.T) {
		u := s.api.user(t, "split_files", "")
		f := uploadFile(t, u, "padded.xlsx", xlsxType, paddedWorkbook(t, 64<<20))
		spool := waitForEntry(t, s.FileTmpDir(), "fileingest-spool-")
		s.Process(splitrun.Fileingest).Kill()
		killed := time.Now()
		if st := s.docStatus(t, "files", f.ID); st != string(fv1.StatusProcessing) {
			t.Fatalf("killed after processing ended (status %s): the spool %s was caught too late", st, spool)
		}
		s.wait503(t, u, "/file/list", killed, "fileingest killed")
		s.restart(t, splitrun.Fileingest, u)
		done := waitFileStatus(t, u, f.ID)
		s.note(t, "fileingest killed while processing: file ready %s after the kill", since(killed))
		if done.Status != fv1.StatusReady {
			t.Fatalf("file after the restart: %+v", done)
		}
		var files []fv1.File
		expect(t, u.get(t, "/file/list"), http.StatusOK, &files)
		if len(files) != 1 {
			t.Fatalf("files after the restart: %v", fileIDs(files))
		}
		for _, ev := range []string{contracts.EventUploaded, contracts.EventProcessed} {
			if n := s.subjectCount(t, contracts.StreamFiles, contracts.EventSubject(contracts.DomainFile, ev, f.OwnerID)); n != 1 {
				t.Errorf("file.%s announced %d times, want once", ev, n)
			}
		}
	})

	t.Run("datasetquery killed while converting", func(t *testing.T) {
		u := s.api.user(t, "split_datasets", "")
		const rows = 400_000
		f := uploadFile(t, u, "numbers.csv", "text/csv", numbersCSV(rows))
		if got := waitFileStatus(t, u, f.ID); got.Status != fv1.StatusReady {
			t.Fatalf("file: %+v", got)
		}
		const key = "3f9d2c1a-7b44-4e0e-9a61-5c2f8e0d4b17"
		form := url.Values{"file_id": {f.ID}, "dataset_name": {"numbers"}}
		// The request dies with the instance that took it; the client
		// learns the outcome by retrying with its key.
		reqCtx, cancelReq := context.WithCancel(ctx)
		defer cancelReq()
		go func() {
			req, _ := http.NewRequestWithContext(reqCtx, http.MethodPost, u.base+"/datasets/convert", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Authorization", "Bearer "+u.token)
			req.Header.Set("Idempotency-Key", key)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
		work := waitForEntry(t, filepath.Join(s.DuckDBDir(), "_scratch"), "convert-")
		s.Process(splitrun.Datasetquery).Kill()
		killed := time.Now()
		id, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(work), "convert-"), "-")
		if st := s.docStatus(t, "datasets", id); st != string(dv1.StatusProcessing) {
			t.Fatalf("killed after the conversion ended (status %s)", st)
		}
		s.wait503(t, u, "/datasets/list", killed, "datasetquery killed")
		s.restart(t, splitrun.Datasetquery, u)

		var again dv1.Dataset
		if r := convertWithKey(t, u, key, form); r.status != http.StatusOK && r.status != http.StatusAccepted {
			t.Fatalf("retried convert: %d %s", r.status, r.body)
		} else if err := json.Unmarshal(decodeEnvelope(t, r).Data, &again); err != nil || again.ID != id {
			t.Fatalf("retried convert answered %s, want dataset %s", r.body, id)
		}
		d := waitDatasetReady(t, u, id)
		s.note(t, "datasetquery killed while converting: dataset ready %s after the kill", since(killed))
		if d.RowCount != rows {
			t.Fatalf("row_count %d, want %d", d.RowCount, rows)
		}
		if q := query(t, u, "SELECT count(*) AS n, count(DISTINCT id) AS ids FROM numbers"); q.Data[0].Get("n") != float64(rows) || q.Data[0].Get("ids") != float64(rows) {
			t.Fatalf("rows after the restart: %v", q.Data[0])
		}
		if list, total := listPage(t, u, ""); total != 1 || len(list) != 1 {
			t.Fatalf("datasets after the restart: %d %v", total, datasetIDs(list))
		}
		if n := s.subjectCount(t, contracts.StreamDatasets, contracts.EventSubject(contracts.DomainDataset, contracts.EventConverted, d.OwnerID)); n != 1 {
			t.Errorf("dataset.converted announced %d times, want once", n)
		}
	})

	s.assertNoScratchLeft(t)
	s.noneExited(t)

	// A server's outage: the services ride it out and serve again by
	// themselves; none of them is restarted.
	outage := func(name, label, path, what string) {
		t.Run(name+" stopped", func(t *testing.T) {
			u := s.api.user(t, "split_"+label, "")
			expect(t, u.get(t, "/credentials"), http.StatusOK, nil)
			before := s.pids()
			s.Process(name).Stop()
			stopped := time.Now()
			if path == "/file/upload" {
				// Uploading needs the object store; a relayed upload asks it
				// at once.
				s.waitUpload503(t, u, stopped, what)
			} else {
				s.wait503(t, u, path, stopped, what)
			}
			started := time.Now()
			if err := s.Process(name).Start(ctx); err != nil {
				t.Fatal(err)
			}
			up := since(started)
			s.waitServed(t, u)
			s.note(t, "%s: %s serving again in %s, the API %s after the start", what, name, up, since(started))
			checkFlow(t, u, "after_"+label, 20)
			s.note(t, "%s: the whole flow (upload, processing, conversion, query) served again %s after the restart", what, since(started))
			if after := s.pids(); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Fatalf("services restarted: %v, then %v", before, after)
			}
			s.noneExited(t)
		})
	}
	outage(splitrun.NATS, "nats", "/credentials", "NATS stopped")
	outage(splitrun.FerretDB, "ferretdb", "/credentials", "FerretDB stopped")
	outage(splitrun.S3, "s3", "/file/upload", "S3 stopped")

	s.assertNoScratchLeft(t)
	t.Logf("timings:\n  %s", strings.Join(s.timings, "\n  "))
}

// waitUpload503 relays small uploads until one answers 503 within
// fastAnswer and notes how long after the fault that was, then checks the
// next ones are fast 503s too.
func (s *splitSystem) waitUpload503(t *testing.T, u apiUser, fault time.Time, what string) {
	t.Helper()
	upload := func() (int, time.Duration) {
		body, ct, _ := multipartStream("a.csv", "text/csv", 10, 1)
		return timedDo(t, u, http.MethodPost, "/file/upload", body, ct, fastAnswer)
	}
	for deadline := time.Now().Add(time.Minute); ; {
		status, took := upload()
		if status == http.StatusServiceUnavailable {
			s.note(t, "%s: POST /file/upload answered 503 %s after the fault (that answer took %s)", what, since(fault), took.Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("POST /file/upload never answered 503 within %s (last %d)", fastAnswer, status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var slowest time.Duration
	for range 3 {
		status, took := upload()
		if status != http.StatusServiceUnavailable {
			t.Fatalf("%s: POST /file/upload answered %d (0: not within %s), want a 503", what, status, fastAnswer)
		}
		slowest = max(slowest, took)
	}
	t.Logf("%s: 3 more uploads answered 503, the slowest in %s", what, slowest)
}
