// Package objects adapts the bucket (pkg/objstore) to the datasets core's
// Objects port. Errors pass as objstore classified them: natsapi answers
// an unavailable store as such, whether the core or the engine's cache met
// it.
package objects

import (
	"context"
	"io"
	"net/url"
	"time"

	"github.com/nonefinity/backend/pkg/objstore"
)

// Bucket implements datasets.Objects.
type Bucket struct {
	store *objstore.Store
}

// New adapts store.
func New(store *objstore.Store) *Bucket { return &Bucket{store: store} }

// Put streams size bytes of r to key and returns the object's ETag.
func (b *Bucket) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) (string, error) {
	info, err := b.store.Put(ctx, key, r, size, contentType)
	return info.ETag, err
}

// Delete removes key; a missing key is fine.
func (b *Bucket) Delete(ctx context.Context, key string) error { return b.store.Delete(ctx, key) }

// DeletePrefix removes every object under prefix.
func (b *Bucket) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	return b.store.DeletePrefix(ctx, prefix)
}

// PresignGet grants a GET of key, as an attachment named downloadName
// when that is set.
func (b *Bucket) PresignGet(ctx context.Context, key string, expiry time.Duration, downloadName string) (*url.URL, error) {
	return b.store.PresignGet(ctx, key, expiry, downloadName)
}
