// Package objects adapts the bucket (pkg/objstore) to the ports of the
// files core: its types, and its errors classified as the core's.
package objects

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/url"
	"time"

	"github.com/nonefinity/backend/pkg/objstore"
	"github.com/nonefinity/backend/services/fileingest/internal/files"
)

// Bucket implements files.ObjectStore and files.UploadStore.
type Bucket struct {
	store *objstore.Store
}

// New adapts store.
func New(store *objstore.Store) *Bucket { return &Bucket{store: store} }

// classify wraps err with the core's sentinel for it, keeping the
// original chain for logs and for callers that look deeper.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case objstore.IsUnavailable(err):
		return fmt.Errorf("%w: %w", files.ErrStorageUnavailable, err)
	case errors.Is(err, objstore.ErrNotFound), errors.Is(err, objstore.ErrInvalidKey):
		return fmt.Errorf("%w: %w", files.ErrObjectNotFound, err)
	case errors.Is(err, objstore.ErrChanged):
		return fmt.Errorf("%w: %w", files.ErrObjectChanged, err)
	}
	return err
}

func info(oi objstore.ObjectInfo) files.ObjectInfo {
	return files.ObjectInfo{Size: oi.Size, ETag: oi.ETag}
}

// Bucket is the bucket's name.
func (b *Bucket) Bucket() string { return b.store.Bucket() }

// Stat describes key.
func (b *Bucket) Stat(ctx context.Context, key string) (files.ObjectInfo, error) {
	oi, err := b.store.Stat(ctx, key)
	return info(oi), classify(err)
}

// Get opens key; reads fail classified too.
func (b *Bucket) Get(ctx context.Context, key string) (io.ReadCloser, files.ObjectInfo, error) {
	rc, oi, err := b.store.Get(ctx, key)
	if err != nil {
		return nil, files.ObjectInfo{}, classify(err)
	}
	return reader{rc}, info(oi), nil
}

// GetVersion opens key if its ETag is still etag.
func (b *Bucket) GetVersion(ctx context.Context, key, etag string) (io.ReadCloser, error) {
	rc, err := b.store.GetVersion(ctx, key, etag)
	if err != nil {
		return nil, classify(err)
	}
	return reader{rc}, nil
}

// reader classifies the errors of an object's reads: a replaced version
// or a lost connection often shows only at the first Read.
type reader struct{ io.ReadCloser }

func (r reader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = classify(err)
	}
	return n, err
}

// Delete removes key; a missing key is fine.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	return classify(b.store.Delete(ctx, key))
}

// DeletePrefix removes every object under prefix.
func (b *Bucket) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	n, err := b.store.DeletePrefix(ctx, prefix)
	return n, classify(err)
}

// PresignPut grants a PUT of exactly size bytes to key.
func (b *Bucket) PresignPut(ctx context.Context, key string, size int64, expiry time.Duration) (*url.URL, error) {
	u, err := b.store.PresignPut(ctx, key, size, expiry)
	return u, classify(err)
}

// PresignGet grants a GET of key, as an attachment named downloadName
// when that is set.
func (b *Bucket) PresignGet(ctx context.Context, key string, expiry time.Duration, downloadName string) (*url.URL, error) {
	u, err := b.store.PresignGet(ctx, key, expiry, downloadName)
	return u, classify(err)
}

// NewMultipartUpload starts a multipart upload of key.
func (b *Bucket) NewMultipartUpload(ctx context.Context, key, contentType string) (string, error) {
	id, err := b.store.NewMultipartUpload(ctx, key, contentType)
	return id, classify(err)
}

// PresignUploadPart grants the PUT of one part.
func (b *Bucket) PresignUploadPart(ctx context.Context, key, uploadID string, number int, expiry time.Duration) (*url.URL, error) {
	u, err := b.store.PresignUploadPart(ctx, key, uploadID, number, expiry)
	return u, classify(err)
}

// CompleteMultipartUpload assembles the parts into the object.
func (b *Bucket) CompleteMultipartUpload(ctx context.Context, key, uploadID string, parts []files.Part) (files.ObjectInfo, error) {
	ps := make([]objstore.Part, len(parts))
	for i, p := range parts {
		ps[i] = objstore.Part{Number: p.Number, ETag: p.ETag}
	}
	oi, err := b.store.CompleteMultipartUpload(ctx, key, uploadID, ps)
	return info(oi), classify(err)
}

// AbortMultipartUpload drops an unfinished upload.
func (b *Bucket) AbortMultipartUpload(ctx context.Context, key, uploadID string) error {
	return classify(b.store.AbortMultipartUpload(ctx, key, uploadID))
}

// IncompleteUploads yields the unfinished multipart uploads under prefix.
func (b *Bucket) IncompleteUploads(ctx context.Context, prefix string) iter.Seq2[files.IncompleteUpload, error] {
	return func(yield func(files.IncompleteUpload, error) bool) {
		for u, err := range b.store.IncompleteUploads(ctx, prefix) {
			if !yield(files.IncompleteUpload{Key: u.Key, UploadID: u.UploadID, Initiated: u.Initiated}, classify(err)) {
				return
			}
		}
	}
}
