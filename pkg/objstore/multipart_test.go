package objstore_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
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
