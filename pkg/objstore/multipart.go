package objstore

import (
	"context"
	"fmt"
	"iter"
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

// IncompleteUpload is a multipart upload that was started and neither
// completed nor aborted.
type IncompleteUpload struct {
	Key      string
	UploadID string
	// Initiated is when the server says the upload began, to the second.
	// Versity's posix backend reports the time of the upload's last part
	// instead, which only makes an active upload look younger.
	Initiated time.Time
}

// uploadsPage is how many uploads one listing request asks for (S3's
// maximum).
const uploadsPage = 1000

// IncompleteUploads yields every unfinished multipart upload of a key under
// prefix, in key order. An error is yielded once, as the last element.
// Breaking out of the loop stops the listing.
//
// minio-go's ListIncompleteUploads is not used: it pages with key-marker
// and upload-id-marker together, which Versity (v1.8) answers with
// InvalidArgument from the second page on, and its goroutine can block
// forever when the caller stops early. Instead the next page starts after
// the page's second-to-last key, so the last key's uploads are listed again
// in full and those already yielded are skipped; key-marker alone means the
// same on every S3 server. Only a page holding nothing but one key's
// uploads falls back to upload-id-marker.
func (s *Store) IncompleteUploads(ctx context.Context, prefix string) iter.Seq2[IncompleteUpload, error] {
	return s.incompleteUploads(ctx, prefix, uploadsPage)
}

func (s *Store) incompleteUploads(ctx context.Context, prefix string, pageSize int) iter.Seq2[IncompleteUpload, error] {
	return func(yield func(IncompleteUpload, error) bool) {
		if err := checkPrefix(prefix); err != nil {
			yield(IncompleteUpload{}, err)
			return
		}
		core := minio.Core{Client: s.client}
		var keyMarker, uploadIDMarker string
		// The uploads of tailKey, the last key of the previous page, that
		// were yielded already: the next page lists that key again.
		var tailKey string
		tailSeen := map[string]bool{}
		for {
			page, err := core.ListMultipartUploads(ctx, s.bucket, prefix, keyMarker, uploadIDMarker, "", pageSize)
			if err != nil {
				yield(IncompleteUpload{}, s.fail("list multipart uploads", prefix, err))
				return
			}
			for _, u := range page.Uploads {
				if u.Key == tailKey && tailSeen[u.UploadID] {
					continue
				}
				if !yield(IncompleteUpload{Key: u.Key, UploadID: u.UploadID, Initiated: u.Initiated}, nil) {
					return
				}
			}
			if !page.IsTruncated || len(page.Uploads) == 0 {
				return
			}
			last := page.Uploads[len(page.Uploads)-1]
			if last.Key != tailKey {
				tailKey = last.Key
				clear(tailSeen)
			}
			before := ""
			for _, u := range slices.Backward(page.Uploads) {
				if u.Key != tailKey {
					before = u.Key
					break
				}
				tailSeen[u.UploadID] = true
			}
			if before != "" {
				keyMarker, uploadIDMarker = before, ""
			} else {
				keyMarker, uploadIDMarker = last.Key, last.UploadID
			}
		}
	}
}

func isNoSuchUpload(err error) bool {
	return minio.ToErrorResponse(err).Code == "NoSuchUpload"
}
