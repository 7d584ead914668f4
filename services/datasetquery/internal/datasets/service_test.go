package datasets_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nonefinity/backend/pkg/fielderr"
	"github.com/nonefinity/backend/services/datasetquery/internal/datasets"
)

func ready(id, owner, name string, schema ...datasets.Column) datasets.Dataset {
	return datasets.Dataset{ID: id, OwnerID: owner, Name: name, Status: datasets.StatusReady, Schema: schema,
		Parts: []datasets.Part{{Key: datasets.PartKey(owner, id, 0), ETag: "e0", Size: 10}}}
}

func TestUpdateSchema(t *testing.T) {
	schema := []datasets.Column{{Name: "Price", Type: "double", Desc: "old"}, {Name: "qty", Type: "integer"}}
	cases := []struct {
		name    string
		owner   string
		descs   map[string]string
		want    []datasets.Column
		field   string // of the field error, "" for none
		wantErr error
	}{
		{name: "by name, ignoring case; types stay", owner: alice, descs: map[string]string{"price": "in EUR", "QTY": "units"},
			want: []datasets.Column{{Name: "Price", Type: "double", Desc: "in EUR"}, {Name: "qty", Type: "integer", Desc: "units"}}},
		{name: "nothing to change", owner: alice, descs: map[string]string{}, want: schema},
		{name: "unknown column", owner: alice, descs: map[string]string{"price": "x", "weight": "kg"}, field: "weight", wantErr: datasets.ErrInvalid},
		{name: "description too long", owner: alice, descs: map[string]string{"qty": strings.Repeat("d", 4<<10+1)}, field: "qty", wantErr: datasets.ErrInvalid},
		{name: "another user's dataset", owner: bob, descs: map[string]string{"price": "x"}, wantErr: datasets.ErrNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, memJobs{}, ready("d1", alice, "sales", schema...))
			got, err := r.core.UpdateSchema(context.Background(), c.owner, "d1", c.descs)
			stored, _ := r.store.doc("d1")
			if c.wantErr != nil {
				fe, isField := fielderr.As(err)
				if !errors.Is(err, c.wantErr) || (c.field != "" && (!isField || fe.Field != c.field)) {
					t.Fatalf("err = %v, want %v on field %q", err, c.wantErr, c.field)
				}
				if !slices.Equal(stored.Schema, schema) {
					t.Errorf("stored schema changed to %+v", stored.Schema)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Schema, c.want) || !slices.Equal(stored.Schema, c.want) {
				t.Errorf("schema = %+v, stored %+v, want %+v", got.Schema, stored.Schema, c.want)
			}
		})
	}
}

func TestUpdateSchemaKeepsTheWholeSchemaUnderItsCap(t *testing.T) {
	var schema []datasets.Column
	descs := map[string]string{}
	for i := range 200 {
		name := "c" + strings.Repeat("x", 3) + string(rune('a'+i%26)) + strings.Repeat("y", i/26)
		schema = append(schema, datasets.Column{Name: name, Type: "varchar"})
		descs[name] = strings.Repeat("d", 3<<10) // each within its cap, all beyond 512 KiB
	}
	r := newRig(t, memJobs{}, ready("d1", alice, "wide", schema...))
	_, err := r.core.UpdateSchema(context.Background(), alice, "d1", descs)
	if fe, ok := fielderr.As(err); !ok || fe.Field != "schema" || !errors.Is(err, datasets.ErrInvalid) {
		t.Fatalf("err = %v, want an invalid schema", err)
	}
}

func TestInsertStateChecks(t *testing.T) {
	csv := datasets.SourceFile{ID: "f1", Name: "rows", Ext: ".csv", ContentType: "text/csv", Ready: true, Status: "ready", URL: "http://unused"}
	notReady := csv
	notReady.Ready, notReady.Status = false, "processing"
	broken := csv
	broken.Ready, broken.Status, broken.Error = false, "failed", "the workbook is password-protected"
	image := csv
	image.ContentType = "image/png"

	processing := ready("d1", alice, "sales")
	processing.Status = datasets.StatusProcessing
	failed := ready("d1", alice, "sales")
	failed.Status = datasets.StatusFailed
	noParts := ready("d1", alice, "sales")
	noParts.Parts = nil

	cases := []struct {
		name    string
		dataset datasets.Dataset
		owner   string
		file    datasets.SourceFile
		fileID  string
		wantErr error
		reason  string // of an UnsupportedFileError
	}{
		{name: "dataset still converting", dataset: processing, owner: alice, file: csv, fileID: "f1", wantErr: datasets.ErrNotReady},
		{name: "dataset failed", dataset: failed, owner: alice, file: csv, fileID: "f1", wantErr: datasets.ErrNotReady},
		{name: "dataset without parts", dataset: noParts, owner: alice, file: csv, fileID: "f1", wantErr: datasets.ErrNotReady},
		{name: "another user's dataset", dataset: ready("d1", alice, "sales"), owner: bob, file: csv, fileID: "f1", wantErr: datasets.ErrNotFound},
		{name: "unknown file", dataset: ready("d1", alice, "sales"), owner: alice, file: csv, fileID: "f2", wantErr: datasets.ErrFileNotFound},
		{name: "file still processing", dataset: ready("d1", alice, "sales"), owner: alice, file: notReady, fileID: "f1",
			wantErr: datasets.ErrUnsupportedFile, reason: "file is not ready (status processing)"},
		{name: "file that failed processing", dataset: ready("d1", alice, "sales"), owner: alice, file: broken, fileID: "f1",
			wantErr: datasets.ErrUnsupportedFile, reason: "file cannot be read: the workbook is password-protected"},
		{name: "file that is no table", dataset: ready("d1", alice, "sales"), owner: alice, file: image, fileID: "f1",
			wantErr: datasets.ErrUnsupportedFile, reason: "file is image/png, not a CSV or XLSX"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, memJobs{}, c.dataset)
			r.files.files["f1"] = c.file
			n, err := r.core.Insert(context.Background(), c.owner, "d1", c.fileID)
			if n != 0 || !errors.Is(err, c.wantErr) {
				t.Fatalf("Insert = %d, %v; want %v", n, err, c.wantErr)
			}
			var ue *datasets.UnsupportedFileError
			if c.reason != "" && (!errors.As(err, &ue) || ue.Reason != c.reason) {
				t.Errorf("err = %v, want the reason %q", err, c.reason)
			}
			// Refused before any work: nothing read, written or announced.
			if stored, _ := r.store.doc("d1"); !slices.Equal(stored.Parts, c.dataset.Parts) || stored.RowCount != c.dataset.RowCount {
				t.Errorf("dataset changed: %+v", stored)
			}
			if calls, keys, events := r.engine.callList(), r.objects.keys(), r.pub.list(); len(calls)+len(keys)+len(events) > 0 {
				t.Errorf("engine calls %q, objects %q, events %q", calls, keys, events)
			}
		})
	}
}

func TestQueryLimit(t *testing.T) {
	r := newRig(t, memJobs{})
	for limit, want := range map[int]string{-5: "100", 0: "100", 1: "1", 250: "250", 10000: "10000", 10001: "10000", 1 << 30: "10000"} {
		res, err := r.core.Query(context.Background(), alice, "SELECT 1", limit)
		if err != nil {
			t.Fatal(err)
		}
		if got := res.Columns[0].Name; got != want {
			t.Errorf("limit %d reached the engine as %s, want %s", limit, got, want)
		}
	}
}

func TestCreateWritesAnEmptyPart(t *testing.T) {
	r := newRig(t, memJobs{})
	d, err := r.core.Create(context.Background(), alice, "sales", "", []datasets.Column{{Name: "price", Type: "DOUBLE"}, {Name: "day", Type: "date"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []datasets.Part{{Key: datasets.PartKey(alice, d.ID, 0), ETag: "etag-" + datasets.PartKey(alice, d.ID, 0), Size: int64(len("price DOUBLE,day DATE"))}}
	if d.Status != datasets.StatusReady || !slices.Equal(d.Parts, want) || d.Schema[0].Type != "double" {
		t.Errorf("created %+v, want ready with parts %+v and lower-case types", d, want)
	}
	if got := r.pub.list(); !slices.Equal(got, []string{"created " + d.ID}) {
		t.Errorf("events %q", got)
	}
}

func TestCreateLeavesNothingWhenThePartFails(t *testing.T) {
	r := newRig(t, memJobs{})
	r.engine.writeFail = errors.New("disk full")
	if _, err := r.core.Create(context.Background(), alice, "sales", "", []datasets.Column{{Name: "price", Type: "double"}}); err == nil {
		t.Fatal("created without its part")
	}
	if n, keys, events := r.store.count(), r.objects.keys(), r.pub.list(); n != 0 || len(keys) != 0 || len(events) != 0 {
		t.Errorf("left %d documents, objects %q, events %q", n, keys, events)
	}
}

// convertible is a ready CSV file of alice's.
var convertible = datasets.SourceFile{ID: "f1", Name: "sales", Ext: ".csv", ContentType: "text/csv", Ready: true, Status: "ready"}

func TestConvertWaitsForTheOutcome(t *testing.T) {
	var r *rig
	r = newRig(t, memJobs{enqueued: func(j datasets.ConvertJob) {
		// The job ends at once: another dataset's outcome first, which
		// must not end the wait, then its own.
		go func() {
			ok := datasets.StatusReady
			if _, err := r.store.Update(context.Background(), j.OwnerID, j.DatasetID, datasets.Changes{Status: &ok}); err != nil {
				t.Error(err)
			}
			r.outcomes.send(j.OwnerID, "another")
			r.outcomes.send(j.OwnerID, j.DatasetID)
		}()
	}})
	r.files.files["f1"] = convertible
	d, existing, err := r.core.Convert(context.Background(), alice, datasets.ConvertRequest{FileID: "f1", Name: "sales"}, time.Minute, nil)
	if err != nil || existing || d.Status != datasets.StatusReady {
		t.Fatalf("Convert = %+v, %v, %v; want the ready dataset", d, existing, err)
	}
}

func TestConvertAnswersProcessingWhenTheWaitEnds(t *testing.T) {
	var jobs []datasets.ConvertJob
	r := newRig(t, memJobs{enqueued: func(j datasets.ConvertJob) { jobs = append(jobs, j) }})
	r.files.files["f1"] = convertible
	started := time.Now()
	d, _, err := r.core.Convert(context.Background(), alice, datasets.ConvertRequest{FileID: "f1", Name: "sales"}, 20*time.Millisecond, nil)
	if err != nil || d.Status != datasets.StatusProcessing || len(jobs) != 1 || jobs[0].DatasetID != d.ID {
		t.Fatalf("Convert = %+v, %v with jobs %+v; want processing and its job queued", d, err, jobs)
	}
	if waited := time.Since(started); waited > time.Second {
		t.Errorf("waited %v", waited)
	}
	// Without a wait (async) nothing is watched.
	d, _, err = r.core.Convert(context.Background(), alice, datasets.ConvertRequest{FileID: "f1", Name: "sales2"}, 0, nil)
	if err != nil || d.Status != datasets.StatusProcessing || r.outcomes.watched != 1 {
		t.Fatalf("async Convert = %+v, %v after %d watches", d, err, r.outcomes.watched)
	}
}

func TestConvertRepeatedAfterItsOutcomeAnswersAtOnce(t *testing.T) {
	r := newRig(t, memJobs{})
	r.files.files["f1"] = convertible
	req := datasets.ConvertRequest{FileID: "f1", Name: "sales", IdempotencyKey: "k1"}
	first, _, err := r.core.Convert(context.Background(), alice, req, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	ok := datasets.StatusReady
	if _, err := r.store.Update(context.Background(), alice, first.ID, datasets.Changes{Status: &ok}); err != nil {
		t.Fatal(err)
	}
	d, existing, err := r.core.Convert(context.Background(), alice, req, time.Hour, nil)
	if err != nil || !existing || d.ID != first.ID || d.Status != datasets.StatusReady {
		t.Fatalf("repeat = %+v, %v, %v; want the first, ready", d, existing, err)
	}
}

func TestConvertRefusedWhenOutcomesCannotBeWatched(t *testing.T) {
	r := newRig(t, memJobs{enqueued: func(datasets.ConvertJob) { t.Error("a job was queued") }})
	r.files.files["f1"] = convertible
	r.outcomes.err = datasets.ErrBusUnavailable
	if _, _, err := r.core.Convert(context.Background(), alice, datasets.ConvertRequest{FileID: "f1", Name: "sales"}, time.Minute, nil); !errors.Is(err, datasets.ErrBusUnavailable) {
		t.Fatalf("err = %v", err)
	}
	if n := r.store.count(); n != 0 {
		t.Errorf("%d datasets stored", n)
	}
}

func TestScrubPaths(t *testing.T) {
	for in, want := range map[string]string{
		`IO Error: No files found that match the pattern "/srv/data/duckdb/ab12/cache/x.parquet"`: `IO Error: No files found that match the pattern "<path>"`,
		`open /srv/data/duckdb/_scratch/123/source: no space left on device`:                      `open <path>: no space left on device`,
		`LINE 1: SELECT * FROM read_parquet('/srv/data/duckdb/ab12/cache/6f1...`:                  `LINE 1: SELECT * FROM read_parquet('<path>`,
		`Conversion Error: Could not convert string 'a/b/c' to INT32`:                             `Conversion Error: Could not convert string 'a/b/c' to INT32`,
		`rate is 3/4/5 of (/var/lib/x)`:                                                           `rate is 3/4/5 of (<path>)`,
	} {
		if got := datasets.ScrubPaths(in); got != want {
			t.Errorf("ScrubPaths(%q)\n = %q\nwant %q", in, got, want)
		}
	}
}

func TestRunConvertOutcomes(t *testing.T) {
	processing := func() datasets.Dataset {
		d := ready("d1", alice, "sales")
		d.Status, d.Parts, d.FileID = datasets.StatusProcessing, nil, "f1"
		return d
	}
	failed := ready("d1", alice, "sales")
	failed.Status, failed.Error = datasets.StatusFailed, "bad file"
	notReady := convertible
	notReady.Ready, notReady.Status = false, "uploaded"
	cases := []struct {
		name     string
		dataset  *datasets.Dataset
		attempts int // runs before this one
		file     *datasets.SourceFile
		wantErr  error
		status   datasets.Status
		reason   string
		events   []string
	}{
		{name: "ready: its outcome is announced again", dataset: new(ready("d1", alice, "sales")), status: datasets.StatusReady, events: []string{"converted d1"}},
		{name: "failed: its outcome is announced again", dataset: &failed, status: datasets.StatusFailed, reason: "bad file", events: []string{"failed d1"}},
		{name: "deleted meanwhile: nothing to do"},
		{name: "the source file is gone", dataset: new(processing()), status: datasets.StatusFailed,
			reason: "the source file no longer exists", events: []string{"failed d1"}},
		{name: "the source file is not ready", dataset: new(processing()), file: &notReady, status: datasets.StatusFailed,
			reason: "file is not ready (status uploaded)", events: []string{"failed d1"}},
		{name: "out of attempts", dataset: new(processing()), attempts: 5, file: &convertible, wantErr: datasets.ErrGaveUp,
			status: datasets.StatusFailed, reason: "conversion failed after 5 attempts", events: []string{"failed d1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var docs []datasets.Dataset
			if c.dataset != nil {
				docs = append(docs, *c.dataset)
			}
			r := newRig(t, memJobs{}, docs...)
			r.store.attempts["d1"] = c.attempts
			if c.file != nil {
				r.files.files["f1"] = *c.file
			}
			err := r.core.RunConvert(context.Background(), datasets.ConvertJob{DatasetID: "d1", OwnerID: alice, FileID: "f1"})
			if !errors.Is(err, c.wantErr) || (c.wantErr == nil && err != nil) {
				t.Fatalf("RunConvert = %v, want %v", err, c.wantErr)
			}
			if got := r.pub.list(); !slices.Equal(got, c.events) {
				t.Errorf("events %q, want %q", got, c.events)
			}
			d, ok := r.store.doc("d1")
			if ok != (c.dataset != nil) || d.Status != c.status || d.Error != c.reason {
				t.Errorf("dataset %+v (stored %v), want %s with %q", d, ok, c.status, c.reason)
			}
		})
	}
}

func TestFailConvertShowsNoServerPaths(t *testing.T) {
	d := ready("d1", alice, "sales")
	d.Status = datasets.StatusProcessing
	r := newRig(t, memJobs{}, d)
	job := datasets.ConvertJob{DatasetID: "d1", OwnerID: alice}
	if err := r.core.FailConvert(context.Background(), job, "open /srv/data/duckdb/_scratch/123/source: no space left on device"); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.store.doc("d1"); got.Status != datasets.StatusFailed || got.Error != "open <path>: no space left on device" {
		t.Errorf("failed as %s with %q", got.Status, got.Error)
	}
	// A dataset no longer processing keeps its state.
	if err := r.core.FailConvert(context.Background(), job, "again"); err != nil {
		t.Fatal(err)
	}
	if got := r.pub.list(); !slices.Equal(got, []string{"failed d1"}) {
		t.Errorf("events %q", got)
	}
}

func TestDeleteRemovesEverything(t *testing.T) {
	r := newRig(t, memJobs{}, ready("d1", alice, "sales"), ready("d2", alice, "other"))
	ctx := context.Background()
	for _, key := range []string{datasets.PartKey(alice, "d1", 0), datasets.RejectsKey(alice, "d1"), datasets.PartKey(alice, "d2", 0)} {
		if _, err := r.objects.Put(ctx, key, strings.NewReader("x"), 1, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.core.Delete(ctx, bob, "d1"); !errors.Is(err, datasets.ErrNotFound) {
		t.Fatalf("another user's delete = %v", err)
	}
	if err := r.core.Delete(ctx, alice, "d1"); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.store.doc("d1"); ok {
		t.Error("document kept")
	}
	if got := r.objects.keys(); !slices.Equal(got, []string{datasets.PartKey(alice, "d2", 0)}) {
		t.Errorf("objects left %q", got)
	}
	if calls, events := r.engine.callList(), r.pub.list(); !slices.Equal(calls, []string{"forget d1"}) || !slices.Equal(events, []string{"deleted d1"}) {
		t.Errorf("engine calls %q, events %q", calls, events)
	}
}
