package app_test

import (
	"strings"
	"sync"
	"testing"

	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/testkit"
)

var smallCSV = []byte("id,v\n1,2\n3,4\n")

// startWithHeldFile runs an instance with alice's small CSV file whose
// downloads wait for src.unblock and are counted.
func startWithHeldFile(t *testing.T) (env, *fileService, *heldSource, string) {
	t.Helper()
	e := start(t)
	fs := startFileService(t, e)
	src, srv := newHeldSource(t, smallCSV)
	fid := fs.add(t, alice, "sales", "text/csv", smallCSV, csvPreview(",", "id", "v"))
	fs.setURL(fid, srv.URL+"/sales.csv")
	return e, fs, src, fid
}

// A convert repeated with its Idempotency-Key answers with the dataset the
// first request made, in whatever state it is, and never converts twice:
// while it converts (accepted again), once it is ready (the dataset), and
// for two requests at once. The key with another request is a 422 naming
// it; a key that is not visible ASCII is refused.
func TestConvertWithIdempotencyKey(t *testing.T) {
	e, fs, src, fid := startWithHeldFile(t)
	other := fs.add(t, alice, "other", "text/csv", smallCSV, csvPreview(",", "id", "v"))

	req := dv1.ConvertRequest{FileID: fid, DatasetName: "sales", Async: true, IdempotencyKey: "0b6e2d1f-7c44-4c1e-9a57-3f0c2a9e8d4b"}
	first, err := e.ds.Convert(as(alice), req)
	if err != nil || !first.Accepted || first.Existing {
		t.Fatalf("first convert: %v %+v", err, first)
	}
	again, err := e.ds.Convert(as(alice), req)
	if err != nil || !again.Accepted || !again.Existing || again.DatasetID != first.DatasetID {
		t.Fatalf("repeat while converting: %v %+v, want the accepted dataset %s again", err, again, first.DatasetID)
	}

	src.unblock()
	req.Async = false
	done, err := e.ds.Convert(as(alice), req)
	if err != nil || done.Dataset == nil || !done.Existing || done.DatasetID != first.DatasetID || done.Status != dv1.StatusReady || done.Dataset.RowCount != 2 {
		t.Fatalf("repeat, waiting: %v %+v", err, done)
	}

	// Two repeats at once, both after the dataset is ready.
	var wg sync.WaitGroup
	replies := make([]dv1.ConvertReply, 2)
	errs := make([]error, 2)
	for i := range replies {
		wg.Go(func() { replies[i], errs[i] = e.ds.Convert(as(alice), req) })
	}
	wg.Wait()
	for i := range replies {
		if errs[i] != nil || replies[i].DatasetID != first.DatasetID || !replies[i].Existing {
			t.Fatalf("concurrent repeat %d: %v %+v", i, errs[i], replies[i])
		}
	}
	if n := src.count(); n != 1 {
		t.Fatalf("the file was downloaded %d times; one conversion downloads it once", n)
	}

	for name, changed := range map[string]dv1.ConvertRequest{
		"another file":       {FileID: other, DatasetName: "sales", IdempotencyKey: req.IdempotencyKey},
		"another name":       {FileID: fid, DatasetName: "sales_2", IdempotencyKey: req.IdempotencyKey},
		"another option":     {FileID: fid, DatasetName: "sales", IdempotencyKey: req.IdempotencyKey, ConvertOptions: dv1.ConvertOptions{Delimiter: ";"}},
		"a key with a space": {FileID: other, DatasetName: "other", IdempotencyKey: "two words"},
		"a key too long":     {FileID: other, DatasetName: "other", IdempotencyKey: strings.Repeat("k", 256)},
	} {
		_, err := e.ds.Convert(as(alice), changed)
		re, ok := rpcerr.As(err)
		if !ok || re.Code != rpcerr.Validation || re.Field != "idempotency_key" {
			t.Errorf("%s: %v, want a validation error on idempotency_key", name, err)
		}
	}
	// Keys are per user: bob's request with alice's key is his own.
	bobFile := fs.add(t, bob, "sales", "text/csv", smallCSV, csvPreview(",", "id", "v"))
	bobs, err := e.ds.Convert(as(bob), dv1.ConvertRequest{FileID: bobFile, DatasetName: "sales", IdempotencyKey: req.IdempotencyKey})
	if err != nil || bobs.Existing || bobs.DatasetID == first.DatasetID {
		t.Fatalf("bob's convert with alice's key: %v %+v", err, bobs)
	}
	l, err := e.ds.List(as(alice), dv1.ListRequest{})
	if err != nil || l.Total != 1 {
		t.Fatalf("alice has %d datasets (%v), want 1", l.Total, err)
	}
}

// Without a key, a convert repeating the name, file and options of a
// dataset that is converting or ready answers with that dataset instead of
// a 409; the name with another file (or other options) is still a 409, and
// a failed dataset still gives its name up to a retry that converts anew.
func TestConvertRetryWithSameNameAndFile(t *testing.T) {
	e, fs, src, fid := startWithHeldFile(t)

	req := dv1.ConvertRequest{FileID: fid, DatasetName: "sales", Async: true}
	first, err := e.ds.Convert(as(alice), req)
	if err != nil || !first.Accepted {
		t.Fatalf("first convert: %v %+v", err, first)
	}
	again, err := e.ds.Convert(as(alice), req)
	if err != nil || !again.Existing || again.DatasetID != first.DatasetID {
		t.Fatalf("retry while converting: %v %+v", err, again)
	}
	src.unblock()
	waitStatus(t, e, alice, first.DatasetID, dv1.StatusReady)
	req.Async = false
	done, err := e.ds.Convert(as(alice), req)
	if err != nil || done.Dataset == nil || !done.Existing || done.DatasetID != first.DatasetID {
		t.Fatalf("retry once ready: %v %+v", err, done)
	}
	if n := src.count(); n != 1 {
		t.Fatalf("the file was downloaded %d times, want once", n)
	}

	other := fs.add(t, alice, "other", "text/csv", smallCSV, csvPreview(",", "id", "v"))
	_, err = e.ds.Convert(as(alice), dv1.ConvertRequest{FileID: other, DatasetName: "sales"})
	testkit.WantCode(t, err, rpcerr.Conflict)
	_, err = e.ds.Convert(as(alice), dv1.ConvertRequest{FileID: fid, DatasetName: "sales", ConvertOptions: dv1.ConvertOptions{Delimiter: ";"}})
	testkit.WantCode(t, err, rpcerr.Conflict)

	// A conversion that fails (ignore_errors off, a row too long) and its
	// retry, which converts again rather than repeating the failure.
	bad := fs.add(t, alice, "bad", "text/csv", []byte("id,v\n1,a\n2,b\n3,c,extra\n4,d\n"), csvPreview(",", "id", "v"))
	strict := dv1.ConvertRequest{FileID: bad, DatasetName: "bad", ConvertOptions: dv1.ConvertOptions{IgnoreErrors: ptr(false)}}
	_, err = e.ds.Convert(as(alice), strict)
	testkit.WantCode(t, err, rpcerr.Validation)
	failed := mustGetByName(t, e, "bad")
	_, err = e.ds.Convert(as(alice), strict)
	testkit.WantCode(t, err, rpcerr.Validation)
	if retried := mustGetByName(t, e, "bad"); retried.ID == failed.ID {
		t.Fatalf("the retry of a failed conversion answered with the failed dataset %s", failed.ID)
	}
}
