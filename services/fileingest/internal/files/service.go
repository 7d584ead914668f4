package files

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nonefinity/backend/services/fileingest/internal/sniff"
)

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
