package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	fv1 "github.com/nonefinity/backend/contracts/filev1"
	"github.com/nonefinity/backend/services/all/internal/localrun"
)

// The victim's three timed operations, in the order of one iteration.
const (
	opUpload  = "upload+processed"
	opConvert = "convert"
	opQuery   = "query"
)

var victimOps = []string{opUpload, opConvert, opQuery}

// Parts of the timed operations, shown on each iteration's line (not
// judged): where an operation's time went.
const (
	partUploadPOST = "upload POST"
	partProcessing = "processing wait"
)

var victimParts = []string{partUploadPOST, partProcessing}

// victimRegions is how many groups the victim's query must return: a
// wrong answer fails the run like an error does.
const victimRegions = 7

// victim is user B: an ordinary user whose work must go on while A attacks.
type victim struct {
	api    *localrun.Client
	events *outcomes // B's event stream
	// perMinute, when positive, is the most requests a minute B sends: B
	// waits after an iteration until its requests fit the rate (a run
	// with the per-user rate limit on).
	perMinute int
	csv       []byte
	runs      int // iterations started, for unique dataset names
}

// victimCSV is 2,000 rows of 5 columns, grouped by region in the query.
func victimCSV() []byte {
	var b bytes.Buffer
	b.WriteString("id,region,product,amount,day\n")
	for i := range 2000 {
		fmt.Fprintf(&b, "%d,region_%d,product_%02d,%d.%02d,2024-%02d-%02d\n",
			i, i%victimRegions, i%13, i*7%1000, i%100, i%12+1, i%28+1)
	}
	return b.Bytes()
}

// sample is one iteration's time per operation.
type sample map[string]time.Duration

// iteration runs B's loop once: upload and wait for processing, convert,
// query, then delete the dataset and the file. Any non-2xx, error or wrong
// answer is returned, with the times of the operations done before it;
// what was created is deleted either way.
func (v *victim) iteration(ctx context.Context) (s sample, err error) {
	v.runs++
	s = sample{}

	start := time.Now()
	a, err := v.api.Upload(ctx, fmt.Sprintf("b_sales_%d.csv", v.runs), "text/csv", v.csv)
	if err != nil {
		return s, fmt.Errorf("upload: %w", err)
	}
	var f fv1.File
	if a.Status != 201 || a.Decode(&f) != nil || f.ID == "" {
		return s, fmt.Errorf("upload: %s", a)
	}
	// Deferred deletes run after the results are set, so a failed delete
	// can still fail the iteration.
	defer v.cleanup(ctx, "/file/"+f.ID, &err)
	s[partUploadPOST] = time.Since(start)
	if err = v.waitFileReady(ctx, f.ID); err != nil {
		return s, err
	}
	s[opUpload] = time.Since(start)
	s[partProcessing] = s[opUpload] - s[partUploadPOST]

	start = time.Now()
	ds, err := v.convert(ctx, f.ID, fmt.Sprintf("b_sales_%d", v.runs))
	if ds != "" {
		defer v.cleanup(ctx, "/datasets/"+ds, &err)
	}
	if err != nil {
		return s, err
	}
	s[opConvert] = time.Since(start)

	start = time.Now()
	if err = v.query(ctx, fmt.Sprintf("b_sales_%d", v.runs)); err != nil {
		return s, err
	}
	s[opQuery] = time.Since(start)
	return s, nil
}

// cleanup deletes what an iteration made; a failed delete fails the
// iteration unless it failed already.
func (v *victim) cleanup(ctx context.Context, path string, err *error) {
	a, derr := v.api.Del(ctx, path)
	switch {
	case *err != nil:
	case derr != nil:
		*err = fmt.Errorf("DELETE %s: %w", path, derr)
	case !a.OK():
		*err = fmt.Errorf("DELETE %s: %s", path, a)
	}
}

// waitFileReady waits for the file's processing outcome on B's event
// stream (asking the API once a second as a safety net).
func (v *victim) waitFileReady(ctx context.Context, id string) error {
	var failed error
	poll := func() (bool, error) {
		a, err := v.api.Get(ctx, "/file/"+id)
		if err != nil {
			return false, fmt.Errorf("GET file: %w", err)
		}
		var f fv1.File
		if !a.OK() || a.Decode(&f) != nil {
			return false, fmt.Errorf("GET file: %s", a)
		}
		switch f.Status {
		case fv1.StatusReady:
			return true, nil
		case fv1.StatusFailed:
			failed = fmt.Errorf("file processing failed: %s", f.Error)
			return true, nil
		}
		return false, nil
	}
	got, err := v.events.wait(ctx, id, []string{"file.processed", "file.failed"}, poll)
	if err != nil {
		return err
	}
	if got == "file.failed" {
		// The event's reason is in the file.
		_, _ = poll()
		return cmp.Or(failed, errors.New("file processing failed"))
	}
	return failed
}

// convertAnswer is the data of a 201 (the dataset) or a 202 ({dataset_id,
// status}) from POST /datasets/convert.
type convertAnswer struct {
	ID        string     `json:"id"`
	DatasetID string     `json:"dataset_id"`
	Status    dv1.Status `json:"status"`
}

func (c convertAnswer) datasetID() string {
	if c.ID != "" {
		return c.ID
	}
	return c.DatasetID
}

// convert converts synchronously; a 202 (the conversion outlived the
// gateway's wait) is waited for, and counts in the time.
func (v *victim) convert(ctx context.Context, fileID, name string) (string, error) {
	a, err := v.api.Form(ctx, "/datasets/convert", url.Values{"file_id": {fileID}, "dataset_name": {name}})
	if err != nil {
		return "", fmt.Errorf("convert: %w", err)
	}
	var c convertAnswer
	if (a.Status != 201 && a.Status != 202) || a.Decode(&c) != nil || c.datasetID() == "" {
		return "", fmt.Errorf("convert: %s", a)
	}
	id := c.datasetID()
	poll := func() (bool, error) {
		if a, err = v.api.Get(ctx, "/datasets/"+id); err != nil {
			return false, fmt.Errorf("GET dataset: %w", err)
		}
		if !a.OK() || a.Decode(&c) != nil {
			return false, fmt.Errorf("GET dataset: %s", a)
		}
		return c.Status == dv1.StatusReady || c.Status == dv1.StatusFailed, nil
	}
	if c.Status != dv1.StatusReady && c.Status != dv1.StatusFailed {
		got, err := v.events.wait(ctx, id, []string{"dataset.converted", "dataset.failed"}, poll)
		if err != nil {
			return id, err
		}
		if got != "" {
			// The event says which; the dataset says why.
			if _, err := poll(); err != nil {
				return id, err
			}
		}
	}
	if c.Status != dv1.StatusReady {
		return id, fmt.Errorf("conversion failed: %s", a)
	}
	return id, nil
}

func (v *victim) query(ctx context.Context, table string) error {
	sql := "SELECT region, count(*) AS n, sum(amount) AS total FROM " + table + " GROUP BY region ORDER BY region"
	a, err := v.api.Form(ctx, "/datasets/query", url.Values{"query": {sql}})
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	var r dv1.QueryReply
	if !a.OK() || a.Decode(&r) != nil {
		return fmt.Errorf("query: %s", a)
	}
	if r.RowCount != victimRegions || r.Truncated {
		return fmt.Errorf("query: %d groups (truncated %v), want %d", r.RowCount, r.Truncated, victimRegions)
	}
	return nil
}

// victimRun is what one phase of B's loop measured.
type victimRun struct {
	samples  map[string][]time.Duration
	failures []string
	elapsed  time.Duration
}

// runVictim runs B's loop until more returns false (it is asked before
// each iteration), printing one line per iteration to out.
func runVictim(ctx context.Context, v *victim, out io.Writer, more func(done int) bool) victimRun {
	run := victimRun{samples: map[string][]time.Duration{}}
	start := time.Now()
	for i := 0; more(i) && ctx.Err() == nil; i++ {
		began, sent := time.Now(), v.api.Sent.Load()
		s, err := v.iteration(ctx)
		if v.perMinute > 0 {
			// The pause is not part of any timed operation.
			n := v.api.Sent.Load() - sent
			sleep(ctx, time.Until(began.Add(time.Duration(n)*time.Minute/time.Duration(v.perMinute))))
		}
		if err != nil && ctx.Err() != nil {
			break // interrupted, not failed
		}
		// An operation that succeeded before a later one failed still
		// counts: a failure must not hide how long the rest took.
		var times []string
		for _, op := range victimOps {
			if d, ok := s[op]; ok {
				run.samples[op] = append(run.samples[op], d)
				times = append(times, op+" "+d.Round(time.Millisecond).String())
			}
		}
		var parts []string
		for _, p := range victimParts {
			if d, ok := s[p]; ok {
				parts = append(parts, p+" "+d.Round(time.Millisecond).String())
			}
		}
		if len(parts) > 0 {
			times = append(times, "("+strings.Join(parts, ", ")+")")
		}
		if err != nil {
			run.failures = append(run.failures, fmt.Sprintf("iteration %d: %v", v.runs, err))
			fmt.Fprintf(out, "  B #%d FAILED: %v (done before: %s)\n", v.runs, err, strings.Join(times, ", "))
			continue
		}
		fmt.Fprintf(out, "  B #%d: %s\n", v.runs, strings.Join(times, ", "))
	}
	run.elapsed = time.Since(start)
	return run
}

// sleep waits d unless ctx ends first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
