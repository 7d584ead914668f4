package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/nonefinity/backend/pkg/fielderr"
	"github.com/nonefinity/backend/services/fileingest/internal/sniff"
)

// Store keeps file documents. Every method is scoped to one owner; an id
// that is malformed or belongs to someone else is ErrNotFound.
type Store interface {
	// Insert stores a new file and returns it with its id; ErrDuplicate
	// when the owner already has a file for that object.
	Insert(ctx context.Context, f File) (File, error)
	Get(ctx context.Context, owner, id string) (File, error)
	GetByPath(ctx context.Context, owner, path string) (File, error)
	// List returns one page of the owner's files, newest first, without
	// their previews.
	List(ctx context.Context, owner string, p Page) ([]File, error)
	// Search returns the files q finds, newest first, without previews.
	Search(ctx context.Context, owner string, q SearchQuery) ([]File, error)
	// ReadyOfTypes returns one page of the ready files whose detected type
	// is one of types, newest first, without previews.
	ReadyOfTypes(ctx context.Context, owner string, types []string, p Page) ([]File, error)
	Rename(ctx context.Context, owner, id, name string, now time.Time) (File, error)
	Delete(ctx context.Context, owner, id string) error
	// DeleteOwner removes every file, reservation and quota ticket of
	// owner and says how many files.
	DeleteOwner(ctx context.Context, owner string) (int64, error)
	// UsedBytes sums the sizes of the owner's files.
	UsedBytes(ctx context.Context, owner string) (int64, error)

	// Reserve stores a reservation and returns it with its id.
	Reserve(ctx context.Context, r Reservation) (Reservation, error)
	// ReservationFor finds a reservation of the owner's object;
	// ErrNotFound when there is none.
	ReservationFor(ctx context.Context, owner, key string) (Reservation, error)
	// ReservedBytes sums the sizes of the owner's reservations.
	ReservedBytes(ctx context.Context, owner string) (int64, error)
	// Release deletes a reservation and says whether this call deleted
	// it: of callers racing to release the same one, exactly one is told
	// true. A commit and the sweep decide who owns an upload that way.
	Release(ctx context.Context, owner, id string) (bool, error)
	// DueReservations lists up to limit reservations whose SweepAfter is
	// before now, oldest first.
	DueReservations(ctx context.Context, now time.Time, limit int) ([]Reservation, error)
	// QuotaTicket is the number of the owner's latest quota ticket (0
	// before the first).
	QuotaTicket(ctx context.Context, owner string) (int64, error)
	// TakeQuotaTicket takes ticket number n of the owner; false when
	// another caller took that number first.
	TakeQuotaTicket(ctx context.Context, owner string, n int64) (bool, error)
	// DropTickets deletes the quota tickets taken before `before` that are
	// not their owner's latest.
	DropTickets(ctx context.Context, before time.Time) (int64, error)
	TypeSizes(ctx context.Context, owner string) ([]TypeSize, error)
	Types(ctx context.Context, owner string) ([]string, error)

	// StartProcessing moves an uploaded (or interrupted processing) file
	// to processing and counts the attempt. started is false, with the
	// file as stored, when it is already ready or failed.
	StartProcessing(ctx context.Context, owner, id string, now time.Time) (f File, started bool, err error)
	// FinishProcessing records the outcome if the file is still being
	// processed (or, for a failure, still uploaded); applied is false
	// otherwise.
	FinishProcessing(ctx context.Context, owner, id string, o Outcome, now time.Time) (f File, applied bool, err error)
	// MarkOutcomePublished notes that the outcome's event went out.
	MarkOutcomePublished(ctx context.Context, owner, id string) error
}

// ObjectStore is the bucket the files live in (package objects adapts
// pkg/objstore to it). Its errors wrap ErrObjectNotFound for a missing
// object or a key that can name none, ErrObjectChanged for a version that
// was replaced, ErrStorageUnavailable when the bucket cannot be reached;
// the readers it opens fail the same way.
type ObjectStore interface {
	Bucket() string
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	Get(ctx context.Context, key string) (io.ReadCloser, ObjectInfo, error)
	GetVersion(ctx context.Context, key, etag string) (io.ReadCloser, error)
	Delete(ctx context.Context, key string) error
	DeletePrefix(ctx context.Context, prefix string) (int, error)
	PresignPut(ctx context.Context, key string, size int64, expiry time.Duration) (*url.URL, error)
	PresignGet(ctx context.Context, key string, expiry time.Duration, downloadName string) (*url.URL, error)
	NewMultipartUpload(ctx context.Context, key, contentType string) (string, error)
	PresignUploadPart(ctx context.Context, key, uploadID string, number int, expiry time.Duration) (*url.URL, error)
	CompleteMultipartUpload(ctx context.Context, key, uploadID string, parts []Part) (ObjectInfo, error)
	AbortMultipartUpload(ctx context.Context, key, uploadID string) error
}

// Publisher announces what happened to files.
type Publisher interface {
	Uploaded(ctx context.Context, f File) error
	Processed(ctx context.Context, f File) error
	Failed(ctx context.Context, f File) error
	Deleted(ctx context.Context, f File) error
}

// Config holds the service's limits.
type Config struct {
	// MaxFileSize is the largest file accepted, in bytes.
	MaxFileSize int64
	// UserQuota is how many bytes one user may store.
	UserQuota int64
	// UploadURLTTL, DownloadURLTTL and OpenURLTTL are how long presigned
	// URLs stay valid.
	UploadURLTTL   time.Duration
	DownloadURLTTL time.Duration
	OpenURLTTL     time.Duration
	// Inspect bounds the processing of one file.
	Inspect sniff.Limits
	// MaxAttempts is how many times processing of a file starts before
	// it ends failed (a crash or an outage retries it); default 5.
	MaxAttempts int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service applies the rules of uploads, file management and processing.
type Service struct {
	store   Store
	objects ObjectStore
	events  Publisher
	cfg     Config
	log     *slog.Logger
}

// NewService builds the service over its adapters.
func NewService(store Store, objects ObjectStore, events Publisher, cfg Config, log *slog.Logger) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, objects: objects, events: events, cfg: cfg, log: log}
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// storageError classifies an object store failure for the caller: a
// missing object is a missing file (ErrNotFound); unavailability stays
// ErrStorageUnavailable.
func storageError(op string, err error) error {
	if errors.Is(err, ErrObjectNotFound) {
		return fmt.Errorf("%s: %w: %w", op, ErrNotFound, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

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

// Get returns one of the owner's files.
func (s *Service) Get(ctx context.Context, owner, id string) (File, error) {
	if err := checkOwner(owner); err != nil {
		return File{}, err
	}
	return s.store.Get(ctx, owner, id)
}

// List returns one page of the owner's files, newest first, without
// previews.
func (s *Service) List(ctx context.Context, owner string, p Page) ([]File, error) {
	if err := checkOwner(owner); err != nil {
		return nil, err
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	return s.store.List(ctx, owner, p)
}

// Search finds the owner's files whose name contains q.Name (literally,
// ignoring case) and whose type starts with q.TypePrefix.
func (s *Service) Search(ctx context.Context, owner string, q SearchQuery) ([]File, error) {
	if err := checkOwner(owner); err != nil {
		return nil, err
	}
	if q.Limit == 0 {
		q.Limit = SearchDefaultLimit
	}
	if q.Limit < 1 || q.Limit > SearchMaxLimit {
		return nil, invalid("limit", fmt.Sprintf("must be between 1 and %d", SearchMaxLimit))
	}
	if len(q.Name) > MaxNameBytes || len(q.TypePrefix) > 255 {
		return nil, invalid("q", "is too long")
	}
	return s.store.Search(ctx, owner, q)
}

// Rename changes a file's name; the object keeps its key.
func (s *Service) Rename(ctx context.Context, owner, id, newName string) (File, error) {
	if err := checkOwner(owner); err != nil {
		return File{}, err
	}
	if err := checkName("new_name", newName); err != nil {
		return File{}, err
	}
	return s.store.Rename(ctx, owner, id, newName, s.now())
}

// Delete removes a file: the object first (a missing object is fine), then
// the document, then announces it. If the object store is down nothing is
// removed, so the document never points at a half-deleted file.
func (s *Service) Delete(ctx context.Context, owner, id string) (File, error) {
	if err := checkOwner(owner); err != nil {
		return File{}, err
	}
	f, err := s.store.Get(ctx, owner, id)
	if err != nil {
		return File{}, err
	}
	if err := s.objects.Delete(ctx, f.FilePath); err != nil {
		return File{}, storageError("delete object", err)
	}
	if err := s.store.Delete(ctx, owner, id); err != nil {
		return File{}, err
	}
	if err := s.events.Deleted(ctx, f); err != nil {
		// The file is gone either way; failing the request now would only
		// make the caller retry into a 404.
		s.log.WarnContext(ctx, "announce deletion", "file_id", f.ID, "error", err)
	}
	return f, nil
}

// MaxBatch is the most ids one batch delete takes.
const MaxBatch = 1000

// BatchDelete deletes each id on its own; one failure does not stop the
// others.
func (s *Service) BatchDelete(ctx context.Context, owner string, ids []string) (BatchResult, error) {
	if err := checkOwner(owner); err != nil {
		return BatchResult{}, err
	}
	if len(ids) > MaxBatch {
		return BatchResult{}, invalid("file_ids", fmt.Sprintf("at most %d ids per request", MaxBatch))
	}
	var res BatchResult
	for _, id := range ids {
		_, err := s.Delete(ctx, owner, id)
		switch {
		case err == nil:
			res.Deleted = append(res.Deleted, id)
		case errors.Is(err, ErrNotFound):
			res.Failed = append(res.Failed, BatchFailure{ID: id, Reason: "file not found"})
		case errors.Is(err, ErrStorageUnavailable):
			res.Failed = append(res.Failed, BatchFailure{ID: id, Reason: "object storage unavailable"})
		default:
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			s.log.ErrorContext(ctx, "batch delete", "file_id", id, "error", err)
			res.Failed = append(res.Failed, BatchFailure{ID: id, Reason: "could not delete the file"})
		}
	}
	return res, nil
}

// Stats sums the owner's files by count, size and major MIME type.
func (s *Service) Stats(ctx context.Context, owner string) (Stats, error) {
	if err := checkOwner(owner); err != nil {
		return Stats{}, err
	}
	all, err := s.store.TypeSizes(ctx, owner)
	if err != nil {
		return Stats{}, err
	}
	st := Stats{TotalFiles: len(all), ByMajorType: map[string]int{}}
	for _, ts := range all {
		st.TotalSize += ts.Size
		major, _, _ := strings.Cut(ts.Type, "/")
		if major = strings.TrimSpace(major); major == "" {
			major = "unknown"
		}
		st.ByMajorType[major]++
	}
	return st, nil
}

// SizeMB rounds bytes to MiB with two decimals, as the original stats did.
func SizeMB(bytes int64) float64 {
	return math.Round(float64(bytes)/(1<<20)*100) / 100
}

// Types lists the owner's distinct declared MIME types, sorted.
func (s *Service) Types(ctx context.Context, owner string) ([]string, error) {
	if err := checkOwner(owner); err != nil {
		return nil, err
	}
	types, err := s.store.Types(ctx, owner)
	if err != nil {
		return nil, err
	}
	out := types[:0]
	for _, t := range types {
		if t != "" {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out, nil
}

// DownloadURL is a presigned GET of the file whose response names the
// original file.
func (s *Service) DownloadURL(ctx context.Context, owner, id string) (Access, error) {
	return s.access(ctx, owner, id, s.cfg.DownloadURLTTL, true)
}

// Open grants another service read access to one of the owner's files.
func (s *Service) Open(ctx context.Context, owner, id string) (Access, error) {
	return s.access(ctx, owner, id, s.cfg.OpenURLTTL, false)
}

func (s *Service) access(ctx context.Context, owner, id string, ttl time.Duration, attachment bool) (Access, error) {
	if err := checkOwner(owner); err != nil {
		return Access{}, err
	}
	f, err := s.store.Get(ctx, owner, id)
	if err != nil {
		return Access{}, err
	}
	downloadName := ""
	if attachment {
		downloadName = f.FileName + f.FileExt
	}
	u, err := s.objects.PresignGet(ctx, f.FilePath, ttl, downloadName)
	if err != nil {
		return Access{}, storageError("presign download", err)
	}
	return Access{URL: u.String(), ExpiresIn: ttl, File: f}, nil
}

// AllowConvert returns one page of the owner's ready files that can
// become datasets, newest first, without previews.
func (s *Service) AllowConvert(ctx context.Context, owner string, p Page) ([]File, error) {
	if err := checkOwner(owner); err != nil {
		return nil, err
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	return s.store.ReadyOfTypes(ctx, owner, ConvertibleTypes, p)
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
