package embedded_test

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/nonefinity/backend/pkg/embedded"
)

// One test covers the gateway's whole life cycle because only one gateway
// may run per process; splitting it would make tests depend on order.
func TestS3LifeCycle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	base := t.TempDir()
	opts := embedded.S3Options{
		RootDir:    filepath.Join(base, "objects"),
		SidecarDir: filepath.Join(base, "meta"),
		AccessKey:  "embedded-test",
		SecretKey:  "embedded-test-secret",
	}

	start := time.Now()
	first, err := embedded.StartS3(ctx, opts)
	if err != nil {
		t.Fatalf("first start: %v", err)
	}
	t.Logf("s3 first start took %s", time.Since(start))

	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if cwd != opts.RootDir {
		t.Fatalf("working directory after StartS3 = %s, want the S3 root %s (documented Versity behaviour)", cwd, opts.RootDir)
	}

	t.Run("second gateway is refused without moving the working directory", func(t *testing.T) {
		other := t.TempDir()
		_, err := embedded.StartS3(ctx, embedded.S3Options{
			RootDir: filepath.Join(other, "objects"), SidecarDir: filepath.Join(other, "meta"),
			AccessKey: "a", SecretKey: "b",
		})
		if err == nil {
			t.Fatal("second StartS3 in one process succeeded")
		}
		if now, _ := os.Getwd(); now != opts.RootDir {
			t.Fatalf("refused StartS3 moved the working directory to %s", now)
		}
	})

	client := s3Client(t, first.Endpoint(), opts)
	if err := client.MakeBucket(ctx, "keep", minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("make bucket: %v", err)
	}
	if _, err := client.PutObject(ctx, "keep", "a/b.txt", strings.NewReader("persisted"), 9,
		minio.PutObjectOptions{ContentType: "text/plain"}); err != nil {
		t.Fatalf("put: %v", err)
	}

	stopStart := time.Now()
	first.Stop()
	t.Logf("s3 stop took %s", time.Since(stopStart))
	if conn, err := net.DialTimeout("tcp", first.Endpoint(), time.Second); err == nil {
		conn.Close()
		t.Fatal("gateway port still accepts connections after Stop")
	}

	second, err := embedded.StartS3(ctx, opts)
	if err != nil {
		t.Fatalf("restart in the same process: %v", err)
	}
	defer second.Stop()
	client = s3Client(t, second.Endpoint(), opts)
	info, err := client.StatObject(ctx, "keep", "a/b.txt", minio.StatObjectOptions{})
	if err != nil {
		t.Fatalf("stat after restart: %v", err)
	}
	if info.ContentType != "text/plain" {
		t.Fatalf("content type after restart = %q, want text/plain (sidecar metadata kept)", info.ContentType)
	}
	obj, err := client.GetObject(ctx, "keep", "a/b.txt", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	data, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("read after restart: %v", err)
	}
	if string(data) != "persisted" {
		t.Fatalf("object after restart = %q", data)
	}
}

func TestStartS3RejectsBadDirectories(t *testing.T) {
	base := t.TempDir()
	for name, opts := range map[string]embedded.S3Options{
		"relative root":        {RootDir: "objects", SidecarDir: filepath.Join(base, "meta")},
		"sidecar inside root":  {RootDir: filepath.Join(base, "objects"), SidecarDir: filepath.Join(base, "objects", "meta")},
		"sidecar equal root":   {RootDir: filepath.Join(base, "objects"), SidecarDir: filepath.Join(base, "objects")},
		"relative sidecar dir": {RootDir: filepath.Join(base, "objects"), SidecarDir: "meta"},
	} {
		t.Run(name, func(t *testing.T) {
			opts.AccessKey, opts.SecretKey = "a", "b"
			if _, err := embedded.StartS3(context.Background(), opts); err == nil {
				t.Fatal("StartS3 accepted the directories")
			}
		})
	}
}

func s3Client(t *testing.T, endpoint string, opts embedded.S3Options) *minio.Client {
	t.Helper()
	c, err := minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4(opts.AccessKey, opts.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
