package app

import (
	"errors"
	"time"

	"github.com/nonefinity/backend/pkg/config"
	"github.com/nonefinity/backend/pkg/natsx"
)

// Settings are the variables only fileingest reads. services/all holds
// them too, as its Fileingest.
type Settings struct {
	// MaxFileSize is the largest upload, in bytes (default 5 GiB).
	MaxFileSize int64 `env:"FILE_MAX_SIZE" envDefault:"5368709120"`
	// UserQuotaBytes is what one user may store, in bytes (default 10
	// GiB): files, and uploads granted but not committed yet.
	UserQuotaBytes int64 `env:"FILE_USER_QUOTA_BYTES" envDefault:"10737418240"`
	// UploadURLTTL is how long a presigned PUT is valid.
	UploadURLTTL config.Duration `env:"FILE_UPLOAD_URL_TTL" envDefault:"10m"`
	// DownloadURLTTL is how long a presigned download is valid.
	DownloadURLTTL config.Duration `env:"FILE_DOWNLOAD_URL_TTL" envDefault:"1h"`
	// OpenURLTTL is how long another service's read access lasts.
	OpenURLTTL config.Duration `env:"FILE_OPEN_URL_TTL" envDefault:"15m"`

	// ProcessMaxDeliver is how often processing of a file is tried before
	// it ends failed.
	ProcessMaxDeliver int `env:"FILE_PROCESS_MAX_DELIVER" envDefault:"5"`
	// ProcessConcurrency is how many files one instance processes at once.
	ProcessConcurrency int `env:"FILE_PROCESS_CONCURRENCY" envDefault:"2"`
	// ProcessPerUser is how many of them may be one user's files.
	ProcessPerUser int `env:"FILE_PROCESS_CONCURRENCY_PER_USER" envDefault:"1"`
	// ProcessTimeout bounds one attempt at one file.
	ProcessTimeout config.Duration `env:"FILE_PROCESS_TIMEOUT" envDefault:"30m"`
	// ProcessAckWait is how long a silent (crashed) attempt holds a file
	// before another instance gets it.
	ProcessAckWait config.Duration `env:"FILE_PROCESS_ACK_WAIT" envDefault:"30s"`

	// SpreadsheetMaxBytes caps the temporary copy of a workbook being
	// inspected (default 256 MiB); larger workbooks end failed.
	SpreadsheetMaxBytes int64 `env:"FILE_SPREADSHEET_MAX_BYTES" envDefault:"268435456"`
	// XLSXMaxUncompressed caps what all the entries of a workbook may
	// expand to (default 1 GiB); a workbook over it fails processing, so
	// zip bombs never become convertible.
	XLSXMaxUncompressed int64 `env:"FILE_XLSX_MAX_UNCOMPRESSED" envDefault:"1073741824"`
	// XLSXMaxCells caps the cells read for a preview.
	XLSXMaxCells int `env:"FILE_XLSX_MAX_CELLS" envDefault:"1000000"`
	// TempDir holds spooled workbooks, in a directory of this instance
	// under nonefinity-fileingest/; empty means the system's.
	TempDir string `env:"FILE_TMP_DIR"`

	// MultipartSweepInterval is how often abandoned uploads are swept:
	// unfinished multipart uploads, and objects PUT to a presigned URL
	// and never committed (their quota is freed with them).
	MultipartSweepInterval config.Duration `env:"FILE_MULTIPART_SWEEP_INTERVAL" envDefault:"1h"`
	// MultipartMaxAge is how old an unfinished multipart upload must be to
	// be aborted as abandoned (its relay died with it).
	MultipartMaxAge config.Duration `env:"FILE_MULTIPART_MAX_AGE" envDefault:"24h"`
}

// DefaultSettings are the Settings as an empty environment gives them, for
// callers that do not load them from the environment (tests).
func DefaultSettings() Settings { return config.Defaults[Settings]() }

// Config is the service's configuration.
type Config struct {
	config.Base
	Settings
	// Streams are the replicas and limits of the streams this service
	// declares (FILES, USERS).
	Streams natsx.StreamSettings
}

// Validate checks the shared rules and the service's own.
func (c Config) Validate() error {
	return errors.Join(c.Base.Validate(), c.Settings.Validate(), c.Streams.Validate())
}

// maxPresignTTL is S3's limit on a presigned URL's lifetime.
const maxPresignTTL = 7 * 24 * time.Hour

// Validate checks the FILE_* variables.
func (s Settings) Validate() error {
	var errs config.Problems
	bad := errs.Add
	if s.MaxFileSize < 1 {
		bad("FILE_MAX_SIZE", "must be at least 1")
	}
	if s.UserQuotaBytes < 1 {
		bad("FILE_USER_QUOTA_BYTES", "must be at least 1")
	}
	for name, ttl := range map[string]config.Duration{
		"FILE_UPLOAD_URL_TTL": s.UploadURLTTL, "FILE_DOWNLOAD_URL_TTL": s.DownloadURLTTL, "FILE_OPEN_URL_TTL": s.OpenURLTTL,
	} {
		if ttl.Duration() < time.Second || ttl.Duration() > maxPresignTTL {
			bad(name, "must be between 1s and 7 days")
		}
	}
	if s.ProcessMaxDeliver < 1 {
		bad("FILE_PROCESS_MAX_DELIVER", "must be at least 1")
	}
	if s.ProcessConcurrency < 1 {
		bad("FILE_PROCESS_CONCURRENCY", "must be at least 1")
	}
	if s.ProcessPerUser < 1 {
		bad("FILE_PROCESS_CONCURRENCY_PER_USER", "must be at least 1")
	}
	if s.ProcessTimeout <= 0 {
		bad("FILE_PROCESS_TIMEOUT", "must be greater than zero")
	}
	if s.ProcessAckWait.Duration() < time.Second {
		bad("FILE_PROCESS_ACK_WAIT", "must be at least 1s")
	}
	if s.SpreadsheetMaxBytes < 1 {
		bad("FILE_SPREADSHEET_MAX_BYTES", "must be at least 1")
	}
	if s.XLSXMaxUncompressed < 1 {
		bad("FILE_XLSX_MAX_UNCOMPRESSED", "must be at least 1")
	}
	if s.XLSXMaxCells < 1 {
		bad("FILE_XLSX_MAX_CELLS", "must be at least 1")
	}
	// Every sweep lists all unfinished uploads in the bucket.
	if s.MultipartSweepInterval.Duration() < time.Minute {
		bad("FILE_MULTIPART_SWEEP_INTERVAL", "must be at least 1m")
	}
	// An upload whose part URLs may still be in use is not abandoned.
	if s.MultipartMaxAge < s.UploadURLTTL || s.MultipartMaxAge <= 0 {
		bad("FILE_MULTIPART_MAX_AGE", "must be at least FILE_UPLOAD_URL_TTL")
	}
	return errors.Join(errs...)
}
