package files

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

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
