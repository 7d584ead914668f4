package datasets

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nonefinity/backend/services/datasetquery/internal/duck"
)

// Errors about the source file of a conversion or insert.
var (
	ErrFileNotFound    = errors.New("file not found")
	ErrUnsupportedFile = errors.New("file cannot become a dataset")
)

// UnsupportedFileError says why a file cannot be converted (not ready, not
// a CSV/XLSX); it is an ErrUnsupportedFile.
type UnsupportedFileError struct{ Reason string }

func (e *UnsupportedFileError) Error() string { return e.Reason }
func (e *UnsupportedFileError) Unwrap() error { return ErrUnsupportedFile }

// SourceFile is what the file service tells about one of the user's files,
// with a presigned GET of its bytes.
type SourceFile struct {
	ID          string
	Name        string
	Ext         string
	ContentType string // the type processing detected, else the declared one
	Size        int64
	Ready       bool
	Status      string
	URL         string
	Preview     *FilePreview
}

// FilePreview is the dialect and columns processing found.
type FilePreview struct {
	Columns   []string
	Encoding  string
	Delimiter string
	HasHeader bool
	Sheets    []string
	Sheet     string
}

// Files reaches the file service on behalf of a user; another user's file
// is ErrFileNotFound.
type Files interface {
	Open(ctx context.Context, ownerID, fileID string) (SourceFile, error)
}

// ConvertOptions override the preview's dialect; empty means as detected.
type ConvertOptions struct {
	Sheet, Delimiter, Encoding, Quote string
	Header, IgnoreErrors              *bool
}

// ConvertJob is the unit of work that fills a processing dataset.
type ConvertJob struct {
	DatasetID, OwnerID, FileID string
	Options                    ConvertOptions
	RequestedAt                time.Time
}

// Jobs queues conversion jobs (JOBS stream, de-duplicated by dataset id).
type Jobs interface {
	EnqueueConvert(ctx context.Context, j ConvertJob) error
}

// ConvertConfig tunes conversion; zero values take defaults.
type ConvertConfig struct {
	// MaxFileBytes caps a downloaded (UTF-8) source file; default 2 GiB.
	MaxFileBytes int64
	// MaxXLSXCells caps the cells (rows × columns) read from a sheet;
	// default 50,000,000.
	MaxXLSXCells int64
	// Limits bound the private DuckDB doing the work.
	Limits duck.Limits
	// HTTP downloads presigned URLs; default a client without timeout
	// (the job's context bounds it).
	HTTP *http.Client
}

const (
	kindCSV  = "csv"
	kindXLSX = "xlsx"
)

// fileKind is "csv", "xlsx" or "" for a file that cannot become a dataset.
func fileKind(f SourceFile) string {
	switch strings.ToLower(f.ContentType) {
	case "text/csv", "text/tab-separated-values", "application/csv":
		return kindCSV
	case "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":
		return kindXLSX
	}
	return ""
}

// checkSource refuses files that are not ready or not CSV/XLSX, and a
// sheet the file's preview does not list.
func checkSource(f SourceFile, o ConvertOptions) (string, error) {
	if !f.Ready {
		return "", &UnsupportedFileError{Reason: "file is not ready (status " + f.Status + ")"}
	}
	k := fileKind(f)
	if k == "" {
		return "", &UnsupportedFileError{Reason: "file is " + f.ContentType + ", not a CSV or XLSX"}
	}
	if k == kindXLSX && o.Sheet != "" && f.Preview != nil && len(f.Preview.Sheets) > 0 {
		found := false
		for _, s := range f.Preview.Sheets {
			found = found || s == o.Sheet
		}
		if !found {
			return "", &ValidationError{Field: "sheet", Message: fmt.Sprintf("sheet %q not found (sheets: %s)", o.Sheet, strings.Join(f.Preview.Sheets, ", "))}
		}
	}
	return k, nil
}

func validateOptions(o ConvertOptions) error {
	if o.Delimiter != "" && utf8.RuneCountInString(o.Delimiter) != 1 && o.Delimiter != `\t` {
		return &ValidationError{Field: "delimiter", Message: "must be one character"}
	}
	if o.Quote != "" && utf8.RuneCountInString(o.Quote) != 1 {
		return &ValidationError{Field: "quote", Message: "must be one character"}
	}
	_, err := decoderFor(o.Encoding)
	return err
}

// csvOptions merges the preview's dialect with the request's overrides.
func csvOptions(f SourceFile, o ConvertOptions) duck.CSVOptions {
	out := duck.CSVOptions{Delimiter: o.Delimiter, Quote: o.Quote, Header: o.Header, IgnoreErrors: true}
	if out.Delimiter == `\t` {
		out.Delimiter = "\t"
	}
	if p := f.Preview; p != nil {
		if out.Delimiter == "" {
			out.Delimiter = p.Delimiter
		}
		if out.Header == nil && len(p.Columns) > 0 {
			h := p.HasHeader
			out.Header = &h
		}
	}
	if out.Delimiter == "" && strings.EqualFold(f.ContentType, "text/tab-separated-values") {
		out.Delimiter = "\t"
	}
	if o.IgnoreErrors != nil {
		out.IgnoreErrors = *o.IgnoreErrors
	}
	return out
}

func encodingOf(f SourceFile, o ConvertOptions) string {
	if o.Encoding != "" {
		return o.Encoding
	}
	if f.Preview != nil {
		return f.Preview.Encoding
	}
	return ""
}

// StartConvert validates a conversion, stores the dataset as processing
// and queues its job. The caller waits for the outcome (or not).
func (s *Service) StartConvert(ctx context.Context, ownerID, fileID, name, description string, o ConvertOptions) (Dataset, error) {
	if err := ValidateName(name); err != nil {
		return Dataset{}, err
	}
	if err := validateOptions(o); err != nil {
		return Dataset{}, err
	}
	if s.files == nil || s.jobs == nil {
		return Dataset{}, errors.New("conversion is not configured")
	}
	f, err := s.openFile(ctx, ownerID, fileID)
	if err != nil {
		return Dataset{}, err
	}
	if _, err := checkSource(f, o); err != nil {
		return Dataset{}, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	d, err := s.store.Insert(ctx, Dataset{
		OwnerID: ownerID, Name: name, Description: description, Schema: []Column{},
		Status: StatusProcessing, FileID: f.ID, CreatedAt: now, UpdatedAt: now,
	})
	if err != nil {
		return Dataset{}, err
	}
	if err := s.pub.Created(ctx, d); err != nil {
		s.log.WarnContext(ctx, "publish dataset created", "dataset_id", d.ID, "error", err)
	}
	job := ConvertJob{DatasetID: d.ID, OwnerID: ownerID, FileID: f.ID, Options: o, RequestedAt: now}
	if err := s.jobs.EnqueueConvert(ctx, job); err != nil {
		s.discard(ctx, d)
		return Dataset{}, fmt.Errorf("queue conversion: %w", err)
	}
	return d, nil
}

// RunConvert does one conversion job. It is idempotent: a dataset already
// ready or failed only has its outcome event published again (the event is
// de-duplicated), a deleted one is skipped, and a re-run overwrites the same
// part object. Problems with the file's content fail the dataset and return
// nil; any other error is returned so the job is retried.
func (s *Service) RunConvert(ctx context.Context, j ConvertJob) error {
	d, err := s.store.Get(ctx, j.OwnerID, j.DatasetID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	switch d.Status {
	case StatusReady:
		return s.pub.Converted(ctx, d)
	case StatusFailed:
		return s.pub.Failed(ctx, d)
	}
	f, err := s.openFile(ctx, j.OwnerID, j.FileID)
	if errors.Is(err, ErrFileNotFound) {
		return s.FailConvert(ctx, j, "the source file no longer exists")
	}
	if err != nil {
		return err
	}
	kind, err := checkSource(f, j.Options)
	if err != nil {
		return s.FailConvert(ctx, j, err.Error())
	}
	var res duck.ConvertResult
	var part duck.Part
	if kind == kindXLSX {
		res, part, err = s.convertXLSX(ctx, d, f, j.Options)
	} else {
		res, part, err = s.convertCSV(ctx, d, f, j.Options)
	}
	var ie *duck.InputError
	switch {
	case errors.As(err, &ie):
		return s.FailConvert(ctx, j, ie.Message)
	case errors.Is(err, ErrTooLarge), errors.Is(err, ErrInvalid):
		return s.FailConvert(ctx, j, err.Error())
	case err != nil:
		return err
	}
	schema := make([]Column, len(res.Columns))
	for i, c := range res.Columns {
		schema[i] = Column{Name: c.Name, Type: VocabularyType(c.Type)}
	}
	ready := StatusReady
	warning := ""
	if res.RejectedRows > 0 {
		warning = fmt.Sprintf("skipped %d malformed rows: %s", res.RejectedRows, duck.DescribeRejects(res.Rejects))
	}
	d, err = s.store.Update(ctx, j.OwnerID, j.DatasetID, Changes{
		Status: &ready, Schema: schema, RowCount: &res.Rows, Parts: []duck.Part{part}, Error: &warning,
	})
	if errors.Is(err, ErrNotFound) {
		// Deleted while converting: leave no object behind.
		if _, derr := s.objects.DeletePrefix(context.WithoutCancel(ctx), DatasetPrefix(j.OwnerID, j.DatasetID)); derr != nil {
			return derr
		}
		return nil
	}
	if err != nil {
		return err
	}
	s.engine.ForgetDataset(j.OwnerID, j.DatasetID)
	return s.pub.Converted(ctx, d)
}

// convertCSV downloads the file, converts it and uploads part 0.
func (s *Service) convertCSV(ctx context.Context, d Dataset, f SourceFile, o ConvertOptions) (duck.ConvertResult, duck.Part, error) {
	dec, err := decoderFor(encodingOf(f, o))
	if err != nil {
		return duck.ConvertResult{}, duck.Part{}, err
	}
	dir, err := s.workDir("convert-" + d.ID)
	if err != nil {
		return duck.ConvertResult{}, duck.Part{}, err
	}
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "source.csv")
	if err := fetch(ctx, s.conv.HTTP, f.URL, src, dec, s.conv.MaxFileBytes); err != nil {
		return duck.ConvertResult{}, duck.Part{}, err
	}
	dst := filepath.Join(dir, "part.parquet")
	res, err := duck.ConvertCSV(ctx, s.limits(dir), src, dst, csvOptions(f, o))
	if err != nil {
		return res, duck.Part{}, err
	}
	part, err := s.upload(ctx, dst, PartKey(d.OwnerID, d.ID, 0))
	return res, part, err
}

// convertXLSX downloads the workbook, converts the chosen sheet and
// uploads part 0.
func (s *Service) convertXLSX(ctx context.Context, d Dataset, f SourceFile, o ConvertOptions) (duck.ConvertResult, duck.Part, error) {
	dir, err := s.workDir("convert-" + d.ID)
	if err != nil {
		return duck.ConvertResult{}, duck.Part{}, err
	}
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "source.xlsx")
	if err := fetch(ctx, s.conv.HTTP, f.URL, src, nil, s.conv.MaxFileBytes); err != nil {
		return duck.ConvertResult{}, duck.Part{}, err
	}
	dst := filepath.Join(dir, "part.parquet")
	res, err := duck.ConvertXLSX(ctx, s.limits(dir), src, dst, duck.XLSXOptions{
		Sheet: o.Sheet, Header: o.Header, MaxCells: s.conv.MaxXLSXCells,
	})
	if err != nil {
		return res, duck.Part{}, err
	}
	part, err := s.upload(ctx, dst, PartKey(d.OwnerID, d.ID, 0))
	return res, part, err
}

// workDir makes a private directory under the scratch directory.
func (s *Service) workDir(prefix string) (string, error) {
	if err := os.MkdirAll(s.scratch, 0o700); err != nil {
		return "", fmt.Errorf("scratch directory: %w", err)
	}
	dir, err := os.MkdirTemp(s.scratch, prefix+"-")
	if err != nil {
		return "", fmt.Errorf("scratch directory: %w", err)
	}
	return dir, nil
}

// limits are the configured DuckDB limits spilling into dir.
func (s *Service) limits(dir string) duck.Limits {
	l := s.conv.Limits
	l.TempDir = filepath.Join(dir, "spill")
	return l
}

// FailConvert marks a processing dataset failed with reason and publishes
// dataset.failed; a dataset that is gone or no longer processing is left
// alone.
func (s *Service) FailConvert(ctx context.Context, j ConvertJob, reason string) error {
	d, err := s.store.Get(ctx, j.OwnerID, j.DatasetID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if d.Status != StatusProcessing {
		return nil
	}
	failed := StatusFailed
	d, err = s.store.Update(ctx, j.OwnerID, j.DatasetID, Changes{Status: &failed, Error: &reason})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.pub.Failed(ctx, d)
}

// openFile asks the file service for one of the owner's files.
func (s *Service) openFile(ctx context.Context, ownerID, fileID string) (SourceFile, error) {
	if s.files == nil {
		return SourceFile{}, errors.New("the file service is not configured")
	}
	return s.files.Open(ctx, ownerID, fileID)
}
