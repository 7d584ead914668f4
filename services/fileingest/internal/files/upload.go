package files

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/nonefinity/backend/pkg/fielderr"
)

// UploadURL checks a planned upload against the limits, reserves its size
// of the owner's quota and grants a presigned PUT of exactly that size for
// a fresh object key.
func (s *Service) UploadURL(ctx context.Context, owner string, req UploadRequest) (Grant, error) {
	if err := checkOwner(owner); err != nil {
		return Grant{}, err
	}
	if err := checkName("file_name", req.FileName); err != nil {
		return Grant{}, err
	}
	if err := s.checkSize(req.Size); err != nil {
		return Grant{}, err
	}
	_, ext := SplitName(req.FileName)
	key := rawPrefix(owner) + ulid.Make().String() + keyExt(ext)
	r, used, err := s.reserve(ctx, owner, key, req.Size, s.now().Add(s.cfg.UploadURLTTL))
	if err != nil {
		return Grant{}, err
	}
	u, err := s.objects.PresignPut(ctx, key, req.Size, s.cfg.UploadURLTTL)
	if err != nil {
		if _, rerr := s.store.Release(context.WithoutCancel(ctx), owner, r.ID); rerr != nil {
			s.log.WarnContext(ctx, "release the reservation of a failed grant", "object", key, "error", rerr)
		}
		return Grant{}, storageError("presign upload", err)
	}
	return Grant{URL: u.String(), ObjectName: key, ExpiresIn: s.cfg.UploadURLTTL, MaxSize: min(s.cfg.MaxFileSize, s.cfg.UserQuota-used)}, nil
}

func (s *Service) checkSize(size int64) error {
	switch {
	case size <= 0:
		return invalid("file_size", "must be greater than 0")
	case size > s.cfg.MaxFileSize:
		return fielderr.New(ErrTooLarge, "file_size", "file is larger than "+humanSize(s.cfg.MaxFileSize))
	}
	return nil
}

func quotaError(used, quota int64) error {
	return fielderr.New(ErrQuotaExceeded, "file_size",
		fmt.Sprintf("storage quota exceeded (%s of %s used, uploads in progress included)", humanSize(used), humanSize(quota)))
}

// Commit records an uploaded object as a file: the object must be the
// owner's and have the declared size. Its ETag is recorded, so the pipeline
// reads this version only. The object's reservation (taken with the grant,
// or now for an upload relayed without one) becomes the file. Committing an
// object again returns the file recorded the first time.
func (s *Service) Commit(ctx context.Context, owner string, req CommitRequest) (File, error) {
	if err := checkOwner(owner); err != nil {
		return File{}, err
	}
	key, ok := ownedRawKey(owner, req.ObjectName)
	if !ok {
		return File{}, fmt.Errorf("commit %q: %w", req.ObjectName, ErrNotFound)
	}
	if err := checkName("file_name", req.FileName); err != nil {
		return File{}, err
	}
	base, ext := SplitName(req.FileName)
	fileType, err := declaredType(req.Type, ext)
	if err != nil {
		return File{}, err
	}
	if existing, err := s.store.GetByPath(ctx, owner, key); err == nil {
		return s.recommitted(ctx, existing)
	} else if !errors.Is(err, ErrNotFound) {
		return File{}, err
	}

	info, err := s.objects.Stat(ctx, key)
	if err != nil {
		return File{}, storageError("stat upload", err)
	}
	r, reservedNow, err := s.reservationOf(ctx, owner, key, info.Size, req.Size)
	if err != nil {
		if _, ok := fielderr.As(err); ok {
			// The object is of no use; do not leave it to eat storage.
			// Its reservation stays until the sweep: the URL may still
			// put another object there.
			s.removeObject(ctx, key, "remove rejected upload")
		}
		return File{}, err
	}

	now := s.now()
	f, err := s.store.Insert(ctx, File{
		OwnerID: owner, Bucket: s.objects.Bucket(), FilePath: key,
		FileName: base, FileExt: ext, FileType: fileType, FileSize: info.Size, ETag: info.ETag,
		Status: StatusUploaded, CreatedAt: now, UpdatedAt: now,
	})
	if errors.Is(err, ErrDuplicate) {
		// A concurrent commit of the same object won.
		if reservedNow {
			s.release(ctx, r)
		}
		existing, gerr := s.store.GetByPath(ctx, owner, key)
		if gerr != nil {
			return File{}, gerr
		}
		return existing, nil
	}
	if err != nil {
		return File{}, err
	}
	if err := s.settle(ctx, f, r); err != nil {
		return File{}, err
	}
	if err := s.events.Uploaded(ctx, f); err != nil {
		// The document stays; committing again re-publishes the event.
		return File{}, fmt.Errorf("announce upload: %w", err)
	}
	return f, nil
}

// reservationOf checks the stored object against the declaration and the
// size limit and returns the reservation that holds its bytes: the
// grant's, which it must match, or, for an object granted none (a relayed
// multipart upload), one taken now for its real size (reservedNow).
func (s *Service) reservationOf(ctx context.Context, owner, key string, real, declared int64) (r Reservation, reservedNow bool, err error) {
	if real != declared {
		return Reservation{}, false, sizeMismatch(real, declared)
	}
	if err := s.checkSize(real); err != nil {
		return Reservation{}, false, err
	}
	r, err = s.store.ReservationFor(ctx, owner, key)
	switch {
	case err == nil:
		if r.Size != real {
			return Reservation{}, false, sizeMismatch(real, r.Size)
		}
		return r, false, nil
	case !errors.Is(err, ErrNotFound):
		return Reservation{}, false, err
	}
	r, _, err = s.reserve(ctx, owner, key, real, s.now())
	return r, err == nil, err
}

func sizeMismatch(real, declared int64) error {
	return fielderr.New(ErrSizeMismatch, "file_size", fmt.Sprintf("uploaded object has %d bytes, %d were declared", real, declared))
}

// settle turns the reservation into the committed file by releasing it.
// If the sweep released it first, the upload had expired and its object
// may be gone: the file is withdrawn and the caller told to upload again.
// A release that fails leaves the reservation to the sweep, which finds
// the file and keeps the object.
func (s *Service) settle(ctx context.Context, f File, r Reservation) error {
	released, err := s.store.Release(ctx, f.OwnerID, r.ID)
	if err != nil {
		s.log.WarnContext(ctx, "release the reservation of a committed file", "object", f.FilePath, "error", err)
		return nil
	}
	if released {
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	if err := s.store.Delete(ctx, f.OwnerID, f.ID); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("withdraw the file of an expired upload: %w", err)
	}
	s.removeObject(ctx, f.FilePath, "remove an expired upload")
	return fmt.Errorf("commit %s: %w", f.FilePath, ErrUploadExpired)
}

// release gives a reservation up, logging a failure: the sweep releases
// it later.
func (s *Service) release(ctx context.Context, r Reservation) {
	if _, err := s.store.Release(context.WithoutCancel(ctx), r.OwnerID, r.ID); err != nil {
		s.log.WarnContext(ctx, "release a reservation", "object", r.ObjectKey, "error", err)
	}
}

// removeObject deletes an object nobody will use, logging a failure.
func (s *Service) removeObject(ctx context.Context, key, what string) {
	if err := s.objects.Delete(context.WithoutCancel(ctx), key); err != nil {
		s.log.WarnContext(ctx, what, "object", key, "error", err)
	}
}

// recommitted answers a repeated commit. A file still waiting for
// processing has its uploaded event published again: the first commit may
// have stored the document but failed to publish (the event id makes a
// repeat a no-op for the stream).
func (s *Service) recommitted(ctx context.Context, f File) (File, error) {
	if f.Status == StatusUploaded {
		if err := s.events.Uploaded(ctx, f); err != nil {
			return File{}, fmt.Errorf("announce upload: %w", err)
		}
	}
	return f, nil
}

// MultipartPartSize is the part size of uploads relayed as S3 parts: big
// enough for S3's 5 MiB minimum and few requests, small enough that the
// relay holds little in memory.
const MultipartPartSize = 8 << 20

// maxPartURLs is the most part URLs one request presigns.
const maxPartURLs = 100

// StartMultipart begins an upload whose size is not known yet (a stream
// relayed by the gateway). Only a used-up quota is refused now; the
// uploader must stop at MaxSize, and Commit checks the real size.
func (s *Service) StartMultipart(ctx context.Context, owner, fileName, fileType string) (MultipartGrant, error) {
	if err := checkOwner(owner); err != nil {
		return MultipartGrant{}, err
	}
	if err := checkName("file_name", fileName); err != nil {
		return MultipartGrant{}, err
	}
	_, ext := SplitName(fileName)
	typ, err := declaredType(fileType, ext)
	if err != nil {
		return MultipartGrant{}, err
	}
	used, err := s.usedBytes(ctx, owner)
	if err != nil {
		return MultipartGrant{}, err
	}
	// Nothing is reserved yet: the size is known at commit, which reserves
	// it (or refuses it) then.
	left := s.cfg.UserQuota - used
	if left <= 0 {
		return MultipartGrant{}, quotaError(used, s.cfg.UserQuota)
	}
	key := rawPrefix(owner) + ulid.Make().String() + keyExt(ext)
	id, err := s.objects.NewMultipartUpload(ctx, key, typ)
	if err != nil {
		return MultipartGrant{}, storageError("start multipart upload", err)
	}
	return MultipartGrant{
		ObjectName: key, UploadID: id, PartSize: MultipartPartSize,
		MaxSize:   min(s.cfg.MaxFileSize, left, MultipartPartSize*MaxParts),
		ExpiresIn: s.cfg.UploadURLTTL,
	}, nil
}

// PartURLs presigns the PUTs of count parts from part number first.
func (s *Service) PartURLs(ctx context.Context, owner, objectName, uploadID string, first, count int) ([]string, time.Duration, error) {
	key, err := s.ownedUpload(owner, objectName, uploadID)
	if err != nil {
		return nil, 0, err
	}
	if count < 1 || count > maxPartURLs {
		return nil, 0, invalid("count", fmt.Sprintf("must be between 1 and %d", maxPartURLs))
	}
	if first < 1 || first+count-1 > MaxParts {
		return nil, 0, invalid("first_part", fmt.Sprintf("parts are numbered 1 to %d", MaxParts))
	}
	urls := make([]string, count)
	for i := range urls {
		u, err := s.objects.PresignUploadPart(ctx, key, uploadID, first+i, s.cfg.UploadURLTTL)
		if err != nil {
			return nil, 0, storageError("presign part", err)
		}
		urls[i] = u.String()
	}
	return urls, s.cfg.UploadURLTTL, nil
}

// CompleteMultipart assembles the parts into the object and returns its
// size. Commit it afterwards.
func (s *Service) CompleteMultipart(ctx context.Context, owner, objectName, uploadID string, parts []Part) (int64, error) {
	key, err := s.ownedUpload(owner, objectName, uploadID)
	if err != nil {
		return 0, err
	}
	if len(parts) == 0 || len(parts) > MaxParts {
		return 0, invalid("parts", fmt.Sprintf("between 1 and %d parts", MaxParts))
	}
	info, err := s.objects.CompleteMultipartUpload(ctx, key, uploadID, parts)
	if err != nil {
		return 0, storageError("complete multipart upload", err)
	}
	return info.Size, nil
}

func (s *Service) ownedUpload(owner, objectName, uploadID string) (string, error) {
	if err := checkOwner(owner); err != nil {
		return "", err
	}
	key, ok := ownedRawKey(owner, objectName)
	if !ok {
		return "", fmt.Errorf("upload %q: %w", objectName, ErrNotFound)
	}
	if uploadID == "" {
		return "", invalid("upload_id", "must not be empty")
	}
	return key, nil
}

// AbortUpload removes an upload that will not be committed (a stream cut
// short or over the limit): the unfinished multipart upload, if uploadID
// names one, and the object. An object that already has a file is left
// alone; a missing one is fine.
func (s *Service) AbortUpload(ctx context.Context, owner, objectName, uploadID string) error {
	if err := checkOwner(owner); err != nil {
		return err
	}
	key, ok := ownedRawKey(owner, objectName)
	if !ok {
		return fmt.Errorf("abort %q: %w", objectName, ErrNotFound)
	}
	if uploadID != "" {
		if err := s.objects.AbortMultipartUpload(ctx, key, uploadID); err != nil {
			return storageError("abort multipart upload", err)
		}
	}
	if _, err := s.store.GetByPath(ctx, owner, key); err == nil {
		return nil
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	if err := s.objects.Delete(ctx, key); err != nil {
		return storageError("remove aborted upload", err)
	}
	return nil
}

// humanSize prints a byte count for messages.
func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	s := fmt.Sprintf("%.1f", v)
	s = strings.TrimSuffix(s, ".0")
	return s + " " + string("KMGTPE"[exp]) + "iB"
}
