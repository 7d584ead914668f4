package objstore

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/minio/minio-go/v7"
)

// MaxParts is S3's limit on the parts of one multipart upload.
const MaxParts = 10000

// Part is one uploaded part of a multipart upload: its number (1-based)
// and the ETag the server answered the part's PUT with.
type Part struct {
	Number int
	ETag   string
}

// NewMultipartUpload starts a multipart upload of key and returns its id.
// The parts are then PUT to URLs from PresignUploadPart, by whoever holds
// them, and the upload is finished with CompleteMultipartUpload or dropped
// with AbortMultipartUpload. An empty contentType is stored as
// application/octet-stream.
func (s *Store) NewMultipartUpload(ctx context.Context, key, contentType string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	id, err := minio.Core{Client: s.client}.NewMultipartUpload(ctx, s.bucket, key, minio.PutObjectOptions{ContentType: contentType})
	if err != nil {
		return "", s.fail("start multipart upload", key, err)
	}
	return id, nil
}

// PresignUploadPart returns a URL that lets its holder PUT part number
// (1..MaxParts) of the upload until expiry. Like PresignPut it is local
// computation.
func (s *Store) PresignUploadPart(ctx context.Context, key, uploadID string, number int, expiry time.Duration) (*url.URL, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if uploadID == "" || number < 1 || number > MaxParts {
		return nil, fmt.Errorf("objstore: presign part %d of %q: part numbers run from 1 to %d of a started upload", number, key, MaxParts)
	}
	params := url.Values{"partNumber": {strconv.Itoa(number)}, "uploadId": {uploadID}}
	u, err := s.client.Presign(ctx, http.MethodPut, s.bucket, key, expiry, params)
	if err != nil {
		return nil, s.fail("presign part", key, err)
	}
	return u, nil
}

// CompleteMultipartUpload assembles the parts (in part number order) into
// the object and describes it. An unknown upload id is ErrNotFound.
func (s *Store) CompleteMultipartUpload(ctx context.Context, key, uploadID string, parts []Part) (ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return ObjectInfo{}, err
	}
	sorted := slices.Clone(parts)
	slices.SortFunc(sorted, func(a, b Part) int { return a.Number - b.Number })
	complete := make([]minio.CompletePart, len(sorted))
	for i, p := range sorted {
		complete[i] = minio.CompletePart{PartNumber: p.Number, ETag: p.ETag}
	}
	_, err := minio.Core{Client: s.client}.CompleteMultipartUpload(ctx, s.bucket, key, uploadID, complete, minio.PutObjectOptions{})
	if err != nil {
		if isNoSuchUpload(err) {
			return ObjectInfo{}, fmt.Errorf("objstore: complete multipart upload %q: %w", key, ErrNotFound)
		}
		return ObjectInfo{}, s.fail("complete multipart upload", key, err)
	}
	// The completion answer carries no size; the object does.
	return s.Stat(ctx, key)
}

// AbortMultipartUpload drops an unfinished upload and its parts. An upload
// that is already gone (completed or aborted) is not an error.
func (s *Store) AbortMultipartUpload(ctx context.Context, key, uploadID string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	err := minio.Core{Client: s.client}.AbortMultipartUpload(ctx, s.bucket, key, uploadID)
	if err != nil && !isNoSuchUpload(err) {
		return s.fail("abort multipart upload", key, err)
	}
	return nil
}

func isNoSuchUpload(err error) bool {
	return minio.ToErrorResponse(err).Code == "NoSuchUpload"
}
