package objstore_test

import (
	"bytes"
	"errors"
	"io"
	"iter"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/nonefinity/backend/pkg/objstore"
)

// A multipart upload whose parts are PUT by a plain HTTP client to
// presigned part URLs, as the gateway relays a stream it cannot size.
func TestPresignedMultipartUpload(t *testing.T) {
	ctx := testCtx(t)
	s, _ := newStore(t)
	const key = "users/u1/raw/parts.bin"
	id, err := s.NewMultipartUpload(ctx, key, "text/csv")
	if err != nil {
		t.Fatalf("NewMultipartUpload: %v", err)
	}
	first := bytes.Repeat([]byte("a"), 5<<20)
	second := []byte("the end")
	var parts []objstore.Part
	// Out of order on purpose: completion sorts them.
	for _, p := range []struct {
		n    int
		body []byte
	}{{2, second}, {1, first}} {
		u, err := s.PresignUploadPart(ctx, key, id, p.n, time.Minute)
		if err != nil {
			t.Fatalf("PresignUploadPart: %v", err)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), bytes.NewReader(p.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == "" {
			t.Fatalf("PUT part %d: %d %s", p.n, resp.StatusCode, msg)
		}
		parts = append(parts, objstore.Part{Number: p.n, ETag: resp.Header.Get("ETag")})
	}
	info, err := s.CompleteMultipartUpload(ctx, key, id, parts)
	if err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
	if info.Size != int64(len(first)+len(second)) {
		t.Fatalf("size = %d", info.Size)
	}
	rc, _, err := s.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, append(first, second...)) {
		t.Fatal("assembled object differs")
	}

	id2, err := s.NewMultipartUpload(ctx, "users/u1/raw/dropped.bin", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AbortMultipartUpload(ctx, "users/u1/raw/dropped.bin", id2); err != nil {
		t.Fatalf("AbortMultipartUpload: %v", err)
	}
	if err := s.AbortMultipartUpload(ctx, "users/u1/raw/dropped.bin", id2); err != nil {
		t.Fatalf("second abort: %v, want nil", err)
	}
	if _, err := s.CompleteMultipartUpload(ctx, "users/u1/raw/dropped.bin", id2, parts); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("complete an aborted upload: %v, want ErrNotFound", err)
	}
	if _, err := s.PresignUploadPart(ctx, key, id, 0, time.Minute); err == nil {
		t.Fatal("part 0 presigned")
	}
}

// putPart uploads one part through its presigned URL and returns it.
func putPart(t *testing.T, s *objstore.Store, key, uploadID string, number int, body []byte) objstore.Part {
	t.Helper()
	ctx := testCtx(t)
	u, err := s.PresignUploadPart(ctx, key, uploadID, number, time.Minute)
	if err != nil {
		t.Fatalf("PresignUploadPart: %v", err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT part %d of %s: %d %s", number, key, resp.StatusCode, msg)
	}
	return objstore.Part{Number: number, ETag: resp.Header.Get("ETag")}
}

// listUploads collects IncompleteUploads as "key upload-id" lines, failing
// the test on an error.
func listUploads(t *testing.T, seq iter.Seq2[objstore.IncompleteUpload, error]) []string {
	t.Helper()
	var got []string
	for u, err := range seq {
		if err != nil {
			t.Fatalf("IncompleteUploads: %v", err)
		}
		if u.Initiated.IsZero() || time.Since(u.Initiated).Abs() > time.Hour {
			t.Errorf("upload %s initiated %v, want about now", u.Key, u.Initiated)
		}
		got = append(got, u.Key+" "+u.UploadID)
	}
	return got
}

func TestIncompleteUploads(t *testing.T) {
	ctx := testCtx(t)
	s, _ := newStore(t)
	start := func(key string) string {
		t.Helper()
		id, err := s.NewMultipartUpload(ctx, key, "")
		if err != nil {
			t.Fatalf("NewMultipartUpload(%s): %v", key, err)
		}
		return id
	}
	b := start("users/u1/raw/b.csv")
	a := start("users/u1/raw/a.csv")
	other := start("other/c.bin")
	done := start("users/u1/raw/done.bin")
	dropped := start("users/u1/raw/dropped.bin")
	part := putPart(t, s, "users/u1/raw/done.bin", done, 1, []byte("finished"))
	if _, err := s.CompleteMultipartUpload(ctx, "users/u1/raw/done.bin", done, []objstore.Part{part}); err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
	if err := s.AbortMultipartUpload(ctx, "users/u1/raw/dropped.bin", dropped); err != nil {
		t.Fatalf("AbortMultipartUpload: %v", err)
	}
	// An upload with a part is still incomplete.
	putPart(t, s, "users/u1/raw/b.csv", b, 1, []byte("half"))

	want := []string{"users/u1/raw/a.csv " + a, "users/u1/raw/b.csv " + b}
	if got := listUploads(t, s.IncompleteUploads(ctx, "users/")); !slices.Equal(got, want) {
		t.Errorf("under users/: %q, want %q", got, want)
	}
	want = []string{"other/c.bin " + other, "users/u1/raw/a.csv " + a, "users/u1/raw/b.csv " + b}
	if got := listUploads(t, s.IncompleteUploads(ctx, "")); !slices.Equal(got, want) {
		t.Errorf("whole bucket: %q, want %q", got, want)
	}
	if got := listUploads(t, s.IncompleteUploads(ctx, "users/u2/")); len(got) != 0 {
		t.Errorf("under users/u2/: %q, want none", got)
	}

	n := 0
	for range s.IncompleteUploads(ctx, "") {
		n++
		break
	}
	if n != 1 {
		t.Errorf("breaking out after the first upload saw %d", n)
	}

	for _, err := range s.IncompleteUploads(ctx, "users/../") {
		if !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("prefix with ..: %v, want ErrInvalidKey", err)
		}
	}
	var downErr error
	for _, err := range closedStore(t).IncompleteUploads(ctx, "users/") {
		downErr = err
	}
	if !objstore.IsUnavailable(downErr) {
		t.Errorf("closed store: %v, want unavailable", downErr)
	}
}

// Pages that end inside one key's uploads: the next page repeats that key
// and no upload is lost or yielded twice.
func TestIncompleteUploadsAcrossPages(t *testing.T) {
	ctx := testCtx(t)
	s, _ := newStore(t)
	var want []string
	for _, key := range []string{"users/a", "users/a", "users/b", "users/b", "users/c", "users/c", "users/d"} {
		id, err := s.NewMultipartUpload(ctx, key, "")
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, key+" "+id)
	}
	if _, err := s.NewMultipartUpload(ctx, "z/outside", ""); err != nil {
		t.Fatal(err)
	}
	got := listUploads(t, s.IncompleteUploadsPaged(ctx, "users/", 3))
	// Uploads of one key started within the same second have no defined
	// order; compare as sets.
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("paged by 3: %q, want %q", got, want)
	}
}
