package testkit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/nonefinity/backend/pkg/embedded"
	"github.com/nonefinity/backend/pkg/objstore"
)

// S3Bucket is a bucket of its own for one test in the test binary's S3
// gateway.
type S3Bucket struct {
	// Endpoint is the gateway's host:port (plain HTTP, path-style).
	Endpoint string
	// AccessKey and SecretKey are the gateway's root credentials.
	AccessKey, SecretKey string
	// Bucket is this test's bucket; it exists and is empty.
	Bucket string
	// Client is a minio-go client for the gateway, signed with the root
	// credentials, without TLS.
	Client *minio.Client
}

// sharedS3 is the one Versity gateway of this test binary (Versity allows
// only one per process). It is never stopped; it lives until the process
// exits.
var sharedS3 struct {
	once      sync.Once
	endpoint  string
	accessKey string
	secretKey string
	client    *minio.Client
	err       error
	bucketSeq atomic.Int64
}

func startSharedS3() {
	// Starting the gateway moves the process into its root directory;
	// make sure the original directory is known first.
	_ = WorkDir()
	dir, err := tempDirForBinary("s3")
	if err != nil {
		sharedS3.err = fmt.Errorf("create s3 dir: %w", err)
		return
	}
	secret := make([]byte, 20)
	if _, err := rand.Read(secret); err != nil {
		sharedS3.err = fmt.Errorf("generate s3 secret: %w", err)
		return
	}
	sharedS3.accessKey = "testkit"
	sharedS3.secretKey = hex.EncodeToString(secret)
	srv, err := embedded.StartS3(context.Background(), embedded.S3Options{
		RootDir:    filepath.Join(dir, "objects"),
		SidecarDir: filepath.Join(dir, "meta"),
		AccessKey:  sharedS3.accessKey,
		SecretKey:  sharedS3.secretKey,
	})
	if err != nil {
		sharedS3.err = err
		return
	}
	client, err := minio.New(srv.Endpoint(), &minio.Options{
		Creds:  credentials.NewStaticV4(sharedS3.accessKey, sharedS3.secretKey, ""),
		Secure: false,
	})
	if err != nil {
		sharedS3.err = fmt.Errorf("s3 client for %s: %w", srv.Endpoint(), err)
		return
	}
	sharedS3.endpoint = srv.Endpoint()
	sharedS3.client = client
}

// S3 returns a fresh bucket in the test binary's Versity S3 gateway,
// starting the gateway on first use. The bucket and its objects are removed
// when the test ends.
//
// Starting the gateway changes the process working directory (see
// embedded.StartS3): use Testdata or WorkDir for files of the package.
func S3(t testing.TB) *S3Bucket {
	t.Helper()
	sharedS3.once.Do(startSharedS3)
	if sharedS3.err != nil {
		t.Fatalf("testkit: start s3: %v", sharedS3.err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bucket := uniqueName(t, sharedS3.bucketSeq.Add(1), 63)
	if err := sharedS3.client.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("testkit: create bucket %s: %v", bucket, err)
	}
	t.Cleanup(func() { removeBucket(t, sharedS3.client, bucket) })
	return &S3Bucket{
		Endpoint:  sharedS3.endpoint,
		AccessKey: sharedS3.accessKey,
		SecretKey: sharedS3.secretKey,
		Bucket:    bucket,
		Client:    sharedS3.client,
	}
}

// removeBucket deletes a bucket together with its objects and unfinished
// multipart uploads (S3 refuses to delete a bucket that is not empty).
func removeBucket(t testing.TB, client *minio.Client, bucket string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for upload := range client.ListIncompleteUploads(ctx, bucket, "", true) {
		if upload.Err != nil {
			t.Errorf("testkit: list uploads in %s: %v", bucket, upload.Err)
			return
		}
		if err := client.RemoveIncompleteUpload(ctx, bucket, upload.Key); err != nil {
			t.Errorf("testkit: abort upload %s/%s: %v", bucket, upload.Key, err)
		}
	}
	objects := client.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true})
	for res := range client.RemoveObjects(ctx, bucket, objects, minio.RemoveObjectsOptions{}) {
		t.Errorf("testkit: remove object %s/%s: %v", bucket, res.ObjectName, res.Err)
	}
	if err := client.RemoveBucket(ctx, bucket); err != nil {
		t.Errorf("testkit: remove bucket %s: %v", bucket, err)
	}
}

// UnreachableStore is an object store client whose endpoint is a local
// port nothing listens on, for tests of a storage outage.
func UnreachableStore(t testing.TB) *objstore.Store {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	s, err := objstore.New(objstore.Config{Endpoint: "http://" + addr, AccessKey: "k", SecretKey: "s", Bucket: "down"})
	if err != nil {
		t.Fatalf("testkit: unreachable store: %v", err)
	}
	return s
}
