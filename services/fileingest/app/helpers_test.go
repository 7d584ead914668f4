package app_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/client"
	"github.com/nonefinity/backend/contracts/filev1"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/pkg/objstore"
	"github.com/nonefinity/backend/pkg/reqctx"
	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/fileingest/app"
)

const (
	alice = "65f2a1b3c4d5e6f708192a3b"
	bob   = "65f2a1b3c4d5e6f708192a3c"
)

// harness is one running fileingest over its own NATS, database and
// bucket, and a client to call it.
type harness struct {
	t      *testing.T
	nats   *testkit.NATSServer
	nc     *nats.Conn
	js     jetstream.JetStream
	db     *mongo.Database
	bucket *testkit.S3Bucket
	store  *objstore.Store
	files  client.File
	// arrived holds the outcome subjects read while waiting for another
	// file: outcomes come in any order (one user's files are processed
	// one at a time, deferred ones later).
	arrived map[string]string
}

func testLog(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// start runs the service until the test ends.
func start(t *testing.T, set func(*app.Config)) *harness {
	t.Helper()
	cfg := defaultConfig()
	if set != nil {
		set(&cfg)
	}
	h := &harness{t: t, nats: testkit.NATS(t), db: testkit.Mongo(t), bucket: testkit.S3(t)}
	h.nc = h.nats.Conn(t)
	var err error
	if h.js, err = jetstream.New(h.nc); err != nil {
		t.Fatal(err)
	}
	h.store, err = objstore.New(objstore.Config{
		Endpoint: h.bucket.Endpoint, AccessKey: h.bucket.AccessKey, SecretKey: h.bucket.SecretKey, Bucket: h.bucket.Bucket,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.files = client.File{R: natsx.NewClient(h.nc)}
	h.run(cfg, h.store)
	return h
}

// defaultConfig is the service's default settings over a zero Base.
func defaultConfig() app.Config { return app.Config{Settings: app.DefaultSettings()} }

// run starts (another) instance of the service over h's NATS and database
// with the given object store.
func (h *harness) run(cfg app.Config, store *objstore.Store) {
	t := h.t
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, cfg, app.Deps{NC: h.nats.Conn(t), DB: h.db, Store: store, Log: testLog(t)})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	testkit.Eventually(t, 30*time.Second, func() error {
		_, err := h.files.Health(h.ctx(""))
		if err == nil {
			return nil
		}
		select {
		case err := <-done:
			t.Fatalf("Run returned early: %v", err)
		default:
		}
		return fmt.Errorf("service did not answer health: %w", err)
	})
}

// ctx is a request context acting for user.
func (h *harness) ctx(user string) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	h.t.Cleanup(cancel)
	return reqctx.With(ctx, reqctx.Meta{UserID: user, RequestID: "test"})
}

// put uploads body to a presigned URL with a plain HTTP client.
func put(t *testing.T, url string, body []byte) {
	t.Helper()
	if status := putStatus(t, url, body); status != http.StatusOK {
		t.Fatalf("PUT presigned: %d", status)
	}
}

// putStatus PUTs body to a presigned URL and returns the answer's status.
func putStatus(t *testing.T, url string, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT presigned: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// upload goes the web client's way: grant, PUT, commit.
func (h *harness) upload(user, name, typ string, body []byte) filev1.File {
	h.t.Helper()
	g, err := h.files.UploadURL(h.ctx(user), filev1.UploadURLRequest{FileName: name, FileSize: int64(len(body)), FileType: typ})
	if err != nil {
		h.t.Fatalf("UploadURL(%s): %v", name, err)
	}
	put(h.t, g.UploadURL, body)
	f, err := h.files.Commit(h.ctx(user), filev1.CommitRequest{ObjectName: g.ObjectName, FileName: name, FileSize: int64(len(body)), FileType: typ})
	if err != nil {
		h.t.Fatalf("Commit(%s): %v", name, err)
	}
	return f
}

// outcomes subscribes to a user's processed and failed events.
func (h *harness) outcomes(user string) *nats.Subscription {
	h.t.Helper()
	sub, err := h.nc.SubscribeSync(contracts.EventSubject(contracts.DomainFile, "*", user))
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.nc.Flush(); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { _ = sub.Unsubscribe() })
	return sub
}

// waitOutcome waits for the processed or failed event of fileID and
// returns the file as stored then.
func (h *harness) waitOutcome(sub *nats.Subscription, user, fileID string) filev1.File {
	h.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		event, ok := h.arrived[fileID]
		if !ok {
			msg, err := sub.NextMsg(time.Until(deadline))
			if err != nil {
				break
			}
			var e struct {
				FileID string `json:"file_id"`
			}
			if json.Unmarshal(msg.Data, &e) != nil {
				continue
			}
			if e.FileID != fileID {
				if h.arrived == nil {
					h.arrived = map[string]string{}
				}
				h.arrived[e.FileID] = msg.Subject
				continue
			}
			event = msg.Subject
		}
		delete(h.arrived, fileID)
		if event != contracts.EventSubject(contracts.DomainFile, contracts.EventProcessed, user) &&
			event != contracts.EventSubject(contracts.DomainFile, contracts.EventFailed, user) {
			continue
		}
		f, err := h.files.Get(h.ctx(user), filev1.GetRequest{ID: fileID})
		if err != nil {
			h.t.Fatalf("Get after outcome: %v", err)
		}
		return f
	}
	h.t.Fatalf("no processed/failed event for file %s", fileID)
	return filev1.File{}
}

// countEvents is how many messages the FILES stream holds on subject.
func (h *harness) countEvents(subject string) uint64 {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := h.js.Stream(ctx, contracts.StreamFiles)
	if err != nil {
		h.t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		h.t.Fatal(err)
	}
	return info.State.Subjects[subject]
}

// objectExists reports whether key is in the harness bucket.
func (h *harness) objectExists(key string) bool {
	h.t.Helper()
	_, err := h.store.Stat(context.Background(), key)
	if errors.Is(err, objstore.ErrNotFound) {
		return false
	}
	if err != nil {
		h.t.Fatalf("Stat %s: %v", key, err)
	}
	return true
}

// sibling runs a second service on a NATS server of its own, over h's
// database, with store as its object store.
func (h *harness) sibling(store *objstore.Store) *harness {
	h.t.Helper()
	s := &harness{t: h.t, nats: testkit.NATS(h.t), db: h.db, bucket: h.bucket, store: h.store}
	s.nc = s.nats.Conn(h.t)
	var err error
	if s.js, err = jetstream.New(s.nc); err != nil {
		h.t.Fatal(err)
	}
	s.files = client.File{R: natsx.NewClient(s.nc)}
	s.run(defaultConfig(), store)
	return s
}

// bomb is a workbook whose one sheet expands to size bytes of rows while
// it deflates to little.
func bomb(t *testing.T, size int) []byte {
	t.Helper()
	parts := []struct{ name, body string }{
		{"[Content_Types].xml", `<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>`},
		{"xl/workbook.xml", `<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Bomb" sheetId="1" r:id="rId1"/></sheets></workbook>`},
		{"xl/_rels/workbook.xml.rels", `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`},
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, p := range parts {
		w, err := zw.Create(p.name)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, p.body)
	}
	w, err := zw.Create("xl/worksheets/sheet1.xml")
	if err != nil {
		t.Fatal(err)
	}
	row := []byte(strings.Repeat(`<row><c t="inlineStr"><is><t>boom</t></is></c></row>`, 1000))
	io.WriteString(w, `<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`)
	for written := 0; written < size; written += len(row) {
		w.Write(row)
	}
	io.WriteString(w, `</sheetData></worksheet>`)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
