package testkit_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/nonefinity/backend/pkg/testkit"
)

func TestS3PutGetStat(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	start := time.Now()
	s3 := testkit.S3(t)
	t.Logf("s3 setup took %s (includes gateway start if first)", time.Since(start))
	start = time.Now()
	testkit.S3(t)
	t.Logf("s3 bucket per test took %s", time.Since(start))

	body := []byte("hello, object")
	if _, err := s3.Client.PutObject(ctx, s3.Bucket, "dir/a.txt", bytes.NewReader(body), int64(len(body)),
		minio.PutObjectOptions{ContentType: "text/plain", UserMetadata: map[string]string{"Owner": "u1"}}); err != nil {
		t.Fatalf("put: %v", err)
	}
	info, err := s3.Client.StatObject(ctx, s3.Bucket, "dir/a.txt", minio.StatObjectOptions{})
	if err != nil {
		t.Fatalf("stat: %v", err)
	}
	if info.Size != int64(len(body)) || info.ContentType != "text/plain" || info.UserMetadata["Owner"] != "u1" {
		t.Fatalf("stat = size %d, type %q, meta %v", info.Size, info.ContentType, info.UserMetadata)
	}
	obj, err := s3.Client.GetObject(ctx, s3.Bucket, "dir/a.txt", minio.GetObjectOptions{})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	defer obj.Close()
	got, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if !bytes.Equal(got, body) {
		t.Fatalf("got %q, want %q", got, body)
	}
}

func TestS3PresignedPut(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s3 := testkit.S3(t)

	u, err := s3.Client.PresignedPutObject(ctx, s3.Bucket, "upload.bin", 5*time.Minute)
	if err != nil {
		t.Fatalf("presign: %v", err)
	}
	if status := httpPut(ctx, t, u.String(), "via presigned url"); status != http.StatusOK {
		t.Fatalf("presigned PUT status = %d, want 200", status)
	}
	info, err := s3.Client.StatObject(ctx, s3.Bucket, "upload.bin", minio.StatObjectOptions{})
	if err != nil {
		t.Fatalf("stat uploaded object: %v", err)
	}
	if info.Size != int64(len("via presigned url")) {
		t.Fatalf("uploaded size = %d", info.Size)
	}

	tampered := *u
	q := tampered.Query()
	sig := q.Get("X-Amz-Signature")
	last := sig[len(sig)-1]
	repl := byte('0')
	if last == '0' {
		repl = '1'
	}
	q.Set("X-Amz-Signature", sig[:len(sig)-1]+string(repl))
	tampered.RawQuery = q.Encode()
	if status := httpPut(ctx, t, tampered.String(), "forged"); status != http.StatusForbidden {
		t.Fatalf("tampered presigned PUT status = %d, want 403", status)
	}
	other, err := s3.Client.PresignedPutObject(ctx, s3.Bucket, "other.bin", 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// A signature for one key must not authorise another.
	moved := *other
	moved.Path = strings.Replace(moved.Path, "other.bin", "stolen.bin", 1)
	if status := httpPut(ctx, t, moved.String(), "forged"); status != http.StatusForbidden {
		t.Fatalf("presigned PUT to another key status = %d, want 403", status)
	}
}

func TestS3WrongSecretIsForbidden(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s3 := testkit.S3(t)

	wrong, err := minio.New(s3.Endpoint, &minio.Options{
		Creds: credentials.NewStaticV4(s3.AccessKey, s3.SecretKey+"x", ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = wrong.PutObject(ctx, s3.Bucket, "x", strings.NewReader("x"), 1, minio.PutObjectOptions{})
	if got := minio.ToErrorResponse(err).StatusCode; got != http.StatusForbidden {
		t.Fatalf("put with wrong secret: status %d (err %v), want 403", got, err)
	}
}

func TestS3BucketsArePrivatePerTest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	var first *testkit.S3Bucket
	t.Run("first", func(t *testing.T) {
		first = testkit.S3(t)
		if _, err := first.Client.PutObject(ctx, first.Bucket, "k", strings.NewReader("v"), 1, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("second", func(t *testing.T) {
		second := testkit.S3(t)
		if second.Bucket == first.Bucket {
			t.Fatalf("both tests got bucket %s", second.Bucket)
		}
		if _, err := second.Client.StatObject(ctx, second.Bucket, "k", minio.StatObjectOptions{}); minio.ToErrorResponse(err).Code != minio.NoSuchKey {
			t.Fatalf("second bucket sees first test's object: %v", err)
		}
	})
	// The first subtest's cleanup removed its bucket, objects included.
	exists, err := first.Client.BucketExists(ctx, first.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Fatalf("bucket %s still exists after its test ended", first.Bucket)
	}
}

func TestTestdataSurvivesS3WorkDirChange(t *testing.T) {
	testkit.S3(t)
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if cwd == testkit.WorkDir() {
		t.Fatalf("working directory still %s; expected Versity to have moved it to its root", cwd)
	}
	data, err := os.ReadFile(testkit.Testdata("hello.txt"))
	if err != nil {
		t.Fatalf("read testdata after S3 start: %v", err)
	}
	if !strings.Contains(string(data), "fixture") {
		t.Fatalf("testdata content %q", data)
	}
}

func httpPut(ctx context.Context, t *testing.T, rawURL, body string) int {
	t.Helper()
	if _, err := url.Parse(rawURL); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, rawURL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}
