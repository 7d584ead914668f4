package objstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/nonefinity/backend/pkg/objstore"
	"github.com/nonefinity/backend/pkg/testkit"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newStore(t *testing.T) (*objstore.Store, *testkit.S3Bucket) {
	t.Helper()
	b := testkit.S3(t)
	s, err := objstore.New(objstore.Config{
		Endpoint: b.Endpoint, AccessKey: b.AccessKey, SecretKey: b.SecretKey, Bucket: b.Bucket,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s, b
}

// closedStore points at a loopback port nothing listens on.
func closedStore(t *testing.T) *objstore.Store {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := objstore.New(objstore.Config{Endpoint: "http://" + addr, AccessKey: "k", SecretKey: "s", Bucket: "nowhere"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// patternReader is an endless, non-seekable stream of pseudo-random bytes:
// nothing about it lets the client learn the content without reading it.
type patternReader struct{ state uint64 }

func (r *patternReader) Read(p []byte) (int, error) {
	for i := range p {
		r.state = r.state*6364136223846793005 + 1442695040888963407
		p[i] = byte(r.state >> 56)
	}
	return len(p), nil
}

func streamOf(size int64, seed uint64) (io.Reader, func() string) {
	h := sha256.New()
	r := io.TeeReader(io.LimitReader(&patternReader{state: seed}, size), h)
	return r, func() string { return hex.EncodeToString(h.Sum(nil)) }
}

func sha256Of(t *testing.T, r io.Reader) (string, int64) {
	t.Helper()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return hex.EncodeToString(h.Sum(nil)), n
}

func TestPutGetStatDeleteStreams10MB(t *testing.T) {
	ctx := testCtx(t)
	s, _ := newStore(t)
	const size = 10 << 20
	const key = "users/u1/files/big.bin"

	body, sum := streamOf(size, 1)
	info, err := s.Put(ctx, key, body, size, "application/x-test")
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	wantSum := sum()
	if info.Key != key || info.Size != size || info.ETag == "" || info.ContentType != "application/x-test" {
		t.Fatalf("Put info = %+v", info)
	}

	st, err := s.Stat(ctx, key)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if st.Size != size || st.ContentType != "application/x-test" || st.ETag != info.ETag || st.LastModified.IsZero() {
		t.Fatalf("Stat = %+v, put info %+v", st, info)
	}

	rc, gi, err := s.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	gotSum, n := sha256Of(t, rc)
	if err := rc.Close(); err != nil {
		t.Fatal(err)
	}
	if n != size || gotSum != wantSum {
		t.Fatalf("read back %d bytes sha256 %s, want %d bytes %s", n, gotSum, size, wantSum)
	}
	if gi.Size != size || gi.Key != key {
		t.Fatalf("Get info = %+v", gi)
	}

	if err := s.Delete(ctx, key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Stat(ctx, key); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("Stat after delete: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Fatalf("Delete of a missing key: %v, want nil", err)
	}
}

func TestPutUnknownSizeGoesMultipart(t *testing.T) {
	ctx := testCtx(t)
	s, _ := newStore(t)
	const size = 17<<20 + 123 // more than one 16 MiB part
	body, sum := streamOf(size, 2)
	info, err := s.Put(ctx, "stream/unknown.bin", body, -1, "")
	if err != nil {
		t.Fatalf("Put(-1): %v", err)
	}
	if info.Size != size {
		t.Fatalf("Put size = %d, want %d", info.Size, size)
	}
	rc, st, err := s.Get(ctx, "stream/unknown.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if st.ContentType != "application/octet-stream" {
		t.Fatalf("default content type = %q", st.ContentType)
	}
	if got, n := sha256Of(t, rc); n != size || got != sum() {
		t.Fatalf("read back %d bytes, content differs: %v", n, got != sum())
	}
}

func TestMissingKeyIsNotFound(t *testing.T) {
	ctx := testCtx(t)
	s, _ := newStore(t)
	_, err := s.Stat(ctx, "nope/missing.txt")
	if !errors.Is(err, objstore.ErrNotFound) || objstore.IsUnavailable(err) {
		t.Fatalf("Stat(missing) = %v, want ErrNotFound only", err)
	}
	rc, _, err := s.Get(ctx, "nope/missing.txt")
	if !errors.Is(err, objstore.ErrNotFound) || rc != nil {
		t.Fatalf("Get(missing) = %v, %v; want nil reader and ErrNotFound", rc, err)
	}
}

func put(t *testing.T, ctx context.Context, s *objstore.Store, key, body string) {
	t.Helper()
	if _, err := s.Put(ctx, key, strings.NewReader(body), int64(len(body)), "text/plain"); err != nil {
		t.Fatalf("Put %s: %v", key, err)
	}
}

func keysOf(t *testing.T, s *objstore.Store, ctx context.Context, prefix string) []string {
	t.Helper()
	var keys []string
	for oi, err := range s.List(ctx, prefix) {
		if err != nil {
			t.Fatalf("List(%q): %v", prefix, err)
		}
		keys = append(keys, oi.Key)
	}
	return keys
}

func TestListByPrefix(t *testing.T) {
	ctx := testCtx(t)
	s, _ := newStore(t)
	for _, k := range []string{"a/1", "a/2", "a/sub/3", "ab", "b/1"} {
		put(t, ctx, s, k, "x-"+k)
	}
	if got := strings.Join(keysOf(t, s, ctx, "a/"), ","); got != "a/1,a/2,a/sub/3" {
		t.Fatalf("List(a/) = %s", got)
	}
	if got := strings.Join(keysOf(t, s, ctx, ""), ","); got != "a/1,a/2,a/sub/3,ab,b/1" {
		t.Fatalf("List() = %s", got)
	}
	if got := keysOf(t, s, ctx, "zzz/"); len(got) != 0 {
		t.Fatalf("List(zzz/) = %v, want none", got)
	}

	var first []objstore.ObjectInfo
	for oi, err := range s.List(ctx, "a/") {
		if err != nil {
			t.Fatal(err)
		}
		first = append(first, oi)
		break
	}
	if len(first) != 1 || first[0].Key != "a/1" || first[0].Size != int64(len("x-a/1")) || first[0].ETag == "" {
		t.Fatalf("first listed = %+v", first)
	}

	for _, err := range s.List(ctx, "../a") {
		if !errors.Is(err, objstore.ErrInvalidKey) {
			t.Fatalf("List(../a) err = %v, want ErrInvalidKey", err)
		}
	}
}

func TestDeletePrefixRemoves250Objects(t *testing.T) {
	ctx := testCtx(t)
	s, _ := newStore(t)
	const n = 250
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			body := fmt.Sprintf("object %d", i)
			_, err := s.Put(ctx, fmt.Sprintf("batch/%03d/part.txt", i), strings.NewReader(body), int64(len(body)), "")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	put(t, ctx, s, "batchkeep/1", "keep")
	put(t, ctx, s, "other/1", "keep")

	removed, err := s.DeletePrefix(ctx, "batch/")
	if err != nil {
		t.Fatalf("DeletePrefix: %v", err)
	}
	if removed != n {
		t.Fatalf("DeletePrefix removed %d, want %d", removed, n)
	}
	if left := keysOf(t, s, ctx, "batch/"); len(left) != 0 {
		t.Fatalf("%d objects left under batch/", len(left))
	}
	if got := strings.Join(keysOf(t, s, ctx, ""), ","); got != "batchkeep/1,other/1" {
		t.Fatalf("objects outside the prefix = %s", got)
	}
	if removed, err := s.DeletePrefix(ctx, "batch/"); err != nil || removed != 0 {
		t.Fatalf("second DeletePrefix = %d, %v; want 0, nil", removed, err)
	}
	if _, err := s.DeletePrefix(ctx, ""); !errors.Is(err, objstore.ErrInvalidKey) {
		t.Fatalf("DeletePrefix(\"\") = %v, want ErrInvalidKey", err)
	}
}

// presignedPut sends body to a presigned URL with plain HTTP, as a browser
// would, and returns the status and the answer's body.
func presignedPut(t *testing.T, ctx context.Context, rawURL string, body io.Reader, size int64) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, rawURL, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT presigned: %v", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(msg)
}

func TestPresignedPutWithPlainHTTP(t *testing.T) {
	ctx := testCtx(t)
	s, _ := newStore(t)
	body := []byte("id,name\n1,alice\n")
	u, err := s.PresignPut(ctx, "uploads/u1/data.csv", int64(len(body)), 5*time.Minute)
	if err != nil {
		t.Fatalf("PresignPut: %v", err)
	}
	if status, msg := presignedPut(t, ctx, u.String(), bytes.NewReader(body), int64(len(body))); status != http.StatusOK {
		t.Fatalf("PUT presigned status %d: %s", status, msg)
	}
	st, err := s.Stat(ctx, "uploads/u1/data.csv")
	if err != nil {
		t.Fatalf("Stat after presigned PUT: %v", err)
	}
	if st.Size != int64(len(body)) {
		t.Fatalf("size = %d, want %d", st.Size, len(body))
	}

	// The signature covers the key: the same URL cannot write elsewhere.
	tampered := strings.Replace(u.String(), "data.csv", "evil.csv", 1)
	if status, _ := presignedPut(t, ctx, tampered, bytes.NewReader(body), int64(len(body))); status != http.StatusForbidden {
		t.Fatalf("tampered presigned PUT status %d, want 403", status)
	}
}

// The storage server itself refuses a body of another length than the
// grant's: larger, smaller, and chunked (no length at all). The object the
// first PUT stored is untouched.
func TestPresignedPutRefusesAnotherSize(t *testing.T) {
	ctx := testCtx(t)
	s, _ := newStore(t)
	const key = "uploads/u1/ten.bin"
	u, err := s.PresignPut(ctx, key, 10, 5*time.Minute)
	if err != nil {
		t.Fatalf("PresignPut: %v", err)
	}
	if status, msg := presignedPut(t, ctx, u.String(), bytes.NewReader([]byte("0123456789")), 10); status != http.StatusOK {
		t.Fatalf("PUT of the granted 10 bytes: %d %s", status, msg)
	}
	for name, size := range map[string]int64{"one more": 11, "one less": 9, "20 MB": 20 << 20} {
		status, _ := presignedPut(t, ctx, u.String(), io.LimitReader(&patternReader{state: 1}, size), size)
		if status != http.StatusForbidden {
			t.Errorf("PUT of %s (%d bytes) to a 10-byte grant: status %d, want 403", name, size, status)
		}
	}
	chunked := io.NopCloser(strings.NewReader("a chunked body of unknown length"))
	if status, _ := presignedPut(t, ctx, u.String(), chunked, -1); status != http.StatusForbidden {
		t.Errorf("chunked PUT to a 10-byte grant: status %d, want 403", status)
	}
	st, err := s.Stat(ctx, key)
	if err != nil || st.Size != 10 {
		t.Fatalf("object after refused PUTs: %+v, %v; want the 10 bytes", st, err)
	}
}

func TestPresignedGetSetsContentDisposition(t *testing.T) {
	ctx := testCtx(t)
	s, _ := newStore(t)
	put(t, ctx, s, "exports/r1", "a,b\n1,2\n")

	u, err := s.PresignGet(ctx, "exports/r1", time.Minute, "report ü;1.csv")
	if err != nil {
		t.Fatalf("PresignGet: %v", err)
	}
	resp, err := http.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(got) != "a,b\n1,2\n" {
		t.Fatalf("GET presigned: %d %q", resp.StatusCode, got)
	}
	cd := resp.Header.Get("Content-Disposition")
	want := `attachment; filename="report _;1.csv"; filename*=UTF-8''report%20%C3%BC%3B1.csv`
	if cd != want {
		t.Fatalf("Content-Disposition = %q, want %q", cd, want)
	}

	u, err = s.PresignGet(ctx, "exports/r1", time.Minute, "")
	if err != nil {
		t.Fatal(err)
	}
	resp, err = http.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("plain presigned GET: %d, Content-Disposition %q", resp.StatusCode, resp.Header.Get("Content-Disposition"))
	}
}

func TestEnsureBucketIsIdempotentAndRaceSafe(t *testing.T) {
	ctx := testCtx(t)
	b := testkit.S3(t)
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	bucket := "ensure-" + hex.EncodeToString(rnd[:])
	t.Cleanup(func() { _ = b.Client.RemoveBucket(context.Background(), bucket) })

	s, err := objstore.New(objstore.Config{Endpoint: b.Endpoint, AccessKey: b.AccessKey, SecretKey: b.SecretKey, Bucket: bucket})
	if err != nil {
		t.Fatal(err)
	}
	if s.Bucket() != bucket {
		t.Fatalf("Bucket() = %q", s.Bucket())
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = s.EnsureBucket(ctx) }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent EnsureBucket %d: %v", i, err)
		}
	}
	if err := s.EnsureBucket(ctx); err != nil {
		t.Fatalf("EnsureBucket on an existing bucket: %v", err)
	}
	ok, err := b.Client.BucketExists(ctx, bucket)
	if err != nil || !ok {
		t.Fatalf("bucket %s exists = %v, %v", bucket, ok, err)
	}
	put(t, ctx, s, "k", "v")
	if err := s.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
}

func TestUnreachableServerIsUnavailable(t *testing.T) {
	ctx := testCtx(t)
	s := closedStore(t)

	_, err := s.Stat(ctx, "a/b")
	if !objstore.IsUnavailable(err) || errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("Stat: %v, want unavailable", err)
	}
	if _, err := s.Put(ctx, "a/b", strings.NewReader("x"), 1, ""); !objstore.IsUnavailable(err) {
		t.Fatalf("Put: %v, want unavailable", err)
	}
	if _, _, err := s.Get(ctx, "a/b"); !objstore.IsUnavailable(err) {
		t.Fatalf("Get: %v, want unavailable", err)
	}
	if err := s.EnsureBucket(ctx); !objstore.IsUnavailable(err) {
		t.Fatalf("EnsureBucket: %v, want unavailable", err)
	}
	if err := s.Delete(ctx, "a/b"); !objstore.IsUnavailable(err) {
		t.Fatalf("Delete: %v, want unavailable", err)
	}
	var listErr error
	for _, err := range s.List(ctx, "a/") {
		listErr = err
	}
	if !objstore.IsUnavailable(listErr) {
		t.Fatalf("List: %v, want unavailable", listErr)
	}
	if _, err := s.DeletePrefix(ctx, "a/"); !objstore.IsUnavailable(err) {
		t.Fatalf("DeletePrefix: %v, want unavailable", err)
	}
	// Presigning needs no server.
	if _, err := s.PresignGet(ctx, "a/b", time.Minute, "b.txt"); err != nil {
		t.Fatalf("PresignGet without a server: %v", err)
	}
	if objstore.IsUnavailable(errors.New("other")) || objstore.IsUnavailable(nil) {
		t.Fatal("unrelated errors classified as unavailable")
	}
}

func TestBadKeysAreRejectedBeforeAnyRequest(t *testing.T) {
	ctx := testCtx(t)
	s := closedStore(t) // a request would fail as unavailable, not as invalid
	bad := []string{"", "/abs", "a/../b", "..", "../x", "a/./b", "a//b", "dir/", "a\x00b", "bad\nkey", string([]byte{0xff}), strings.Repeat("k", 1025)}
	for _, key := range bad {
		checks := map[string]error{}
		_, checks["Put"] = s.Put(ctx, key, strings.NewReader("x"), 1, "")
		_, _, checks["Get"] = s.Get(ctx, key)
		_, checks["Stat"] = s.Stat(ctx, key)
		checks["Delete"] = s.Delete(ctx, key)
		_, checks["PresignPut"] = s.PresignPut(ctx, key, 1, time.Minute)
		_, checks["PresignGet"] = s.PresignGet(ctx, key, time.Minute, "")
		for op, err := range checks {
			if !errors.Is(err, objstore.ErrInvalidKey) {
				t.Errorf("%s(%q) = %v, want ErrInvalidKey", op, key, err)
			}
		}
	}
	for _, prefix := range []string{"/a", "a/../", "../"} {
		if _, err := s.DeletePrefix(ctx, prefix); !errors.Is(err, objstore.ErrInvalidKey) {
			t.Errorf("DeletePrefix(%q) = %v, want ErrInvalidKey", prefix, err)
		}
	}
}

func TestOddButValidKeysRoundTrip(t *testing.T) {
	ctx := testCtx(t)
	s, b := newStore(t)
	for _, key := range []string{"a b/ü-名前.txt", "x/..y/z.", "q/%2F+&=.csv"} {
		put(t, ctx, s, key, key)
		rc, _, err := s.Get(ctx, key)
		if err != nil {
			t.Fatalf("Get(%q): %v", key, err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if string(got) != key {
			t.Fatalf("Get(%q) = %q", key, got)
		}
		// The key reached the server verbatim.
		if _, err := b.Client.StatObject(ctx, b.Bucket, key, minio.StatObjectOptions{}); err != nil {
			t.Fatalf("server has no %q: %v", key, err)
		}
	}
}

// TestGetVersionReadsOnlyThatVersion: the version asked for is read in one
// request; once the key holds other content the read fails with
// ErrChanged, and a missing key is ErrNotFound, never another version's
// bytes.
func TestGetVersionReadsOnlyThatVersion(t *testing.T) {
	ctx := testCtx(t)
	s, _ := newStore(t)
	first, err := s.Put(ctx, "v/part.bin", strings.NewReader("first"), 5, "application/octet-stream")
	if err != nil {
		t.Fatal(err)
	}
	read := func(etag string) (string, error) {
		rc, err := s.GetVersion(ctx, "v/part.bin", etag)
		if err != nil {
			return "", err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		return string(b), err
	}
	if got, err := read(first.ETag); err != nil || got != "first" {
		t.Fatalf("GetVersion(first) = %q, %v", got, err)
	}
	put(t, ctx, s, "v/part.bin", "second")
	if got, err := read(first.ETag); !errors.Is(err, objstore.ErrChanged) || got != "" {
		t.Fatalf("GetVersion(first) after overwrite = %q, %v; want ErrChanged", got, err)
	}
	if _, err := read("0123456789abcdef0123456789abcdef"); !errors.Is(err, objstore.ErrChanged) {
		t.Fatalf("GetVersion(unknown etag) = %v, want ErrChanged", err)
	}
	rc, err := s.GetVersion(ctx, "v/missing.bin", first.ETag)
	if err == nil {
		_, err = io.ReadAll(rc)
		_ = rc.Close()
	}
	if !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("GetVersion(missing) = %v, want ErrNotFound", err)
	}
}
