package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Config says where the bucket lives.
type Config struct {
	// Endpoint is host:port. A leading http:// or https:// is accepted too
	// (MINIO_URL is often written that way) and then decides Secure.
	Endpoint  string
	AccessKey string
	SecretKey string
	Bucket    string
	// Region defaults to us-east-1. Knowing it up front keeps presigning a
	// local computation: without it minio-go asks the server for the
	// bucket's location first.
	Region string
	Secure bool
	// MaxRetries bounds attempts per request (minio-go retries network
	// errors with backoff); zero means DefaultMaxRetries, so an outage is
	// reported in well under a second instead of after minio-go's ten tries.
	MaxRetries int
}

// DefaultRegion is used when Config.Region is empty.
const DefaultRegion = "us-east-1"

// DefaultMaxRetries is used when Config.MaxRetries is zero.
const DefaultMaxRetries = 2

// partSize is the multipart chunk for uploads of unknown size: each such
// upload holds one part in memory, and 10 000 parts cap it at ~156 GiB.
const partSize = 16 << 20

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key          string
	Size         int64
	ETag         string
	ContentType  string
	LastModified time.Time
}

var (
	// ErrNotFound is wrapped by every error about an object that does not exist.
	ErrNotFound = errors.New("objstore: object not found")
	// ErrInvalidKey is wrapped when a key or prefix could escape its place
	// in the bucket (leading "/", "." or ".." segments, empty segments).
	ErrInvalidKey = errors.New("objstore: invalid key")
	// ErrUnavailable is wrapped when the server could not be reached or
	// answered that it cannot serve now; see IsUnavailable.
	ErrUnavailable = errors.New("objstore: storage unavailable")
	// ErrChanged: the object is no longer the version asked for (GetVersion).
	ErrChanged = errors.New("objstore: object changed")
)

// Store is one bucket on one S3 endpoint. It is safe for concurrent use.
type Store struct {
	client *minio.Client
	bucket string
	region string
}

// New builds a Store. It does no I/O; call EnsureBucket at startup to check
// the server and create the bucket.
func New(cfg Config) (*Store, error) {
	endpoint, secure := cfg.Endpoint, cfg.Secure
	switch {
	case strings.HasPrefix(endpoint, "https://"):
		endpoint, secure = strings.TrimPrefix(endpoint, "https://"), true
	case strings.HasPrefix(endpoint, "http://"):
		endpoint, secure = strings.TrimPrefix(endpoint, "http://"), false
	}
	endpoint = strings.TrimSuffix(endpoint, "/")
	if endpoint == "" {
		return nil, errors.New("objstore: endpoint is empty")
	}
	if cfg.Bucket == "" {
		return nil, errors.New("objstore: bucket is empty")
	}
	region := cfg.Region
	if region == "" {
		region = DefaultRegion
	}
	retries := cfg.MaxRetries
	if retries <= 0 {
		retries = DefaultMaxRetries
	}
	tr, err := minio.DefaultTransport(secure)
	if err != nil {
		return nil, fmt.Errorf("objstore: transport: %w", err)
	}
	// minio-go dials with a 30 s timeout; a host that drops packets should
	// surface as unavailable much sooner.
	tr.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext

	client, err := minio.New(endpoint, &minio.Options{
		Creds:      credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:     secure,
		Region:     region,
		Transport:  tr,
		MaxRetries: retries,
	})
	if err != nil {
		// minio.New only validates the endpoint; credentials are not in it.
		return nil, fmt.Errorf("objstore: endpoint %q: %w", endpoint, err)
	}
	return &Store{client: client, bucket: cfg.Bucket, region: region}, nil
}

// Bucket is the bucket this store reads and writes.
func (s *Store) Bucket() string { return s.bucket }

// EnsureBucket creates the bucket when it is missing. Several processes may
// race here at startup; losing the race ("already owned by you") is success.
func (s *Store) EnsureBucket(ctx context.Context) error {
	exists, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return s.fail("check bucket", s.bucket, err)
	}
	if exists {
		return nil
	}
	err = s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: s.region})
	if err == nil {
		return nil
	}
	switch minio.ToErrorResponse(err).Code {
	case "BucketAlreadyOwnedByYou":
		return nil
	case "BucketAlreadyExists":
		// Some servers say this to the owner too; it is fine if we can use it.
		if ok, herr := s.client.BucketExists(ctx, s.bucket); herr == nil && ok {
			return nil
		}
	}
	return s.fail("create bucket", s.bucket, err)
}

// Put streams r into key. size is the exact length, or -1 when unknown.
// Objects up to 16 MiB of known size go up in one streamed request; larger
// or unknown-size ones go multipart, holding one 16 MiB part in memory at a
// time. An empty contentType is stored as application/octet-stream.
// LastModified is the server's when it reports one and may otherwise be zero.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) (ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return ObjectInfo{}, err
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	up, err := s.client.PutObject(ctx, s.bucket, key, r, size, minio.PutObjectOptions{
		ContentType: contentType,
		PartSize:    partSize,
	})
	if err != nil {
		return ObjectInfo{}, s.fail("put", key, err)
	}
	return ObjectInfo{
		Key:          key,
		Size:         up.Size,
		ETag:         up.ETag,
		ContentType:  contentType,
		LastModified: up.LastModified,
	}, nil
}

// Get opens key for reading. It stats first, so a missing key fails here
// with ErrNotFound rather than on the first Read, and it reads with If-Match
// on that ETag, so a concurrent overwrite fails the read instead of mixing
// two versions. ctx must stay alive until the reader is closed.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, ObjectInfo, error) {
	info, err := s.Stat(ctx, key)
	if err != nil {
		return nil, ObjectInfo{}, err
	}
	var opts minio.GetObjectOptions
	if info.ETag != "" {
		if err := opts.SetMatchETag(info.ETag); err != nil {
			return nil, ObjectInfo{}, s.fail("get", key, err)
		}
	}
	obj, err := s.client.GetObject(ctx, s.bucket, key, opts)
	if err != nil {
		return nil, ObjectInfo{}, s.fail("get", key, err)
	}
	return &objectReader{obj: obj, store: s, key: key}, info, nil
}

// GetVersion opens key for reading if its ETag is still etag, in one
// request (no Stat first): for a caller that knows which version it wants,
// as a cache filling from a catalog does. Another version is ErrChanged, a
// missing key ErrNotFound; both surface on the first Read at the latest.
func (s *Store) GetVersion(ctx context.Context, key, etag string) (io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	var opts minio.GetObjectOptions
	if err := opts.SetMatchETag(etag); err != nil {
		return nil, s.fail("get", key, err)
	}
	obj, err := s.client.GetObject(ctx, s.bucket, key, opts)
	if err != nil {
		return nil, s.fail("get", key, err)
	}
	return &objectReader{obj: obj, store: s, key: key}, nil
}

// objectReader classifies read errors the same way as the other calls.
type objectReader struct {
	obj   *minio.Object
	store *Store
	key   string
}

func (r *objectReader) Read(p []byte) (int, error) {
	n, err := r.obj.Read(p)
	if err != nil && err != io.EOF {
		err = r.store.fail("read", r.key, err)
	}
	return n, err
}

func (r *objectReader) Close() error { return r.obj.Close() }

// Stat describes key.
func (s *Store) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return ObjectInfo{}, err
	}
	oi, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return ObjectInfo{}, s.fail("stat", key, err)
	}
	return fromMinio(oi), nil
}

// Delete removes key; deleting a missing key succeeds.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{})
	if err != nil && !isNoSuchKey(err) {
		return s.fail("delete", key, err)
	}
	return nil
}

// List yields every object under prefix, recursively, in key order. An
// error is yielded once, as the last element. Breaking out of the loop stops
// the listing.
func (s *Store) List(ctx context.Context, prefix string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		if err := checkPrefix(prefix); err != nil {
			yield(ObjectInfo{}, err)
			return
		}
		// minio-go's iterator stops with its context; cancel it when the
		// caller breaks early so no request stays in flight.
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		for oi := range s.client.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
			if oi.Err != nil {
				yield(ObjectInfo{}, s.fail("list", prefix, oi.Err))
				return
			}
			if !yield(fromMinio(oi), nil) {
				return
			}
		}
	}
}

// DeletePrefix removes every object under prefix and returns how many were
// removed. The listing is streamed into batched multi-object deletes, so
// memory does not grow with the number of objects. prefix must not be empty:
// emptying a whole bucket is not something to do by accident.
func (s *Store) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	if prefix == "" {
		return 0, fmt.Errorf("%w: DeletePrefix needs a non-empty prefix", ErrInvalidKey)
	}
	if err := checkPrefix(prefix); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var listErr error
	toDelete := func(yield func(minio.ObjectInfo) bool) {
		for oi := range s.client.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
			if oi.Err != nil {
				listErr = oi.Err
				return
			}
			if !yield(oi) {
				return
			}
		}
	}
	results, err := s.client.RemoveObjectsWithIter(ctx, s.bucket, toDelete, minio.RemoveObjectsOptions{})
	if err != nil {
		return 0, s.fail("delete prefix", prefix, err)
	}
	var removed, failed int
	var firstErr error
	for res := range results {
		if res.Err == nil || isNoSuchKey(res.Err) {
			removed++
			continue
		}
		failed++
		if firstErr == nil {
			firstErr = res.Err
		}
	}
	if firstErr != nil {
		return removed, s.fail(fmt.Sprintf("delete prefix (%d failed)", failed), prefix, firstErr)
	}
	if listErr != nil {
		return removed, s.fail("delete prefix: list", prefix, listErr)
	}
	return removed, nil
}

// PresignPut returns a URL that lets its holder PUT exactly size bytes to
// key until expiry (1 s to 7 days). The Content-Length is signed, so the
// server refuses a body of any other length (and a chunked one) with 403:
// a grant for 10 bytes cannot store 20 MB. Browsers set Content-Length from
// the body themselves. Presigning is local computation; it does not contact
// the server.
func (s *Store) PresignPut(ctx context.Context, key string, size int64, expiry time.Duration) (*url.URL, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if size < 0 {
		return nil, fmt.Errorf("objstore: presign put %q: negative size %d", key, size)
	}
	signed := http.Header{"Content-Length": {strconv.FormatInt(size, 10)}}
	u, err := s.client.PresignHeader(ctx, http.MethodPut, s.bucket, key, expiry, nil, signed)
	if err != nil {
		return nil, s.fail("presign put", key, err)
	}
	return u, nil
}

// PresignGet returns a URL that lets its holder GET key until expiry. With a
// downloadName the response carries Content-Disposition: attachment with
// that file name (RFC 6266/5987, so non-ASCII names survive).
func (s *Store) PresignGet(ctx context.Context, key string, expiry time.Duration, downloadName string) (*url.URL, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	params := url.Values{}
	if downloadName != "" {
		params.Set("response-content-disposition", attachmentDisposition(downloadName))
	}
	u, err := s.client.PresignedGetObject(ctx, s.bucket, key, expiry, params)
	if err != nil {
		return nil, s.fail("presign get", key, err)
	}
	return u, nil
}

func fromMinio(oi minio.ObjectInfo) ObjectInfo {
	return ObjectInfo{
		Key:          oi.Key,
		Size:         oi.Size,
		ETag:         oi.ETag,
		ContentType:  oi.ContentType,
		LastModified: oi.LastModified,
	}
}

// IsUnavailable reports whether err means the object store could not be
// reached or cannot serve now (connection refused or reset, DNS failure,
// dial timeout, HTTP 503). Callers answer 503 for these. A caller's own
// cancelled or expired context is not unavailability.
func IsUnavailable(err error) bool {
	return errors.Is(err, ErrUnavailable) || isUnavailableCause(err)
}

func isUnavailableCause(err error) bool {
	if err == nil {
		return false
	}
	if minio.IsNetworkOrHostDown(err, true) {
		return true
	}
	resp := minio.ToErrorResponse(err)
	if resp.StatusCode == http.StatusServiceUnavailable {
		return true
	}
	switch resp.Code {
	case "ServiceUnavailable", "SlowDown", "XMinioServerNotInitialized":
		return true
	}
	return false
}

func isNoSuchKey(err error) bool {
	return minio.ToErrorResponse(err).Code == "NoSuchKey"
}

// fail wraps a minio error with the operation and key, and with the
// sentinel that classifies it.
func (s *Store) fail(op, key string, err error) error {
	switch {
	case isNoSuchKey(err):
		return fmt.Errorf("objstore: %s %q: %w", op, key, ErrNotFound)
	case minio.ToErrorResponse(err).StatusCode == http.StatusPreconditionFailed:
		return fmt.Errorf("objstore: %s %q: %w", op, key, ErrChanged)
	case isUnavailableCause(err):
		return fmt.Errorf("objstore: %s %q: %w: %w", op, key, ErrUnavailable, err)
	}
	return fmt.Errorf("objstore: %s %q: %w", op, key, err)
}
