package datasets

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nonefinity/backend/pkg/fielderr"
	"github.com/nonefinity/backend/pkg/tabular"
	"github.com/nonefinity/backend/services/datasetquery/internal/csvprep"
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
	// Error is why processing failed (a password-protected workbook).
	Error string
	URL   string
	// ETag is the object's version at commit; fetch reads that version
	// only ("" reads whatever is stored, for files committed before ETags
	// were recorded).
	ETag    string
	Preview *FilePreview
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

// ConvertOptions override what is detected; empty means as detected.
type ConvertOptions struct {
	Sheet, Delimiter, Encoding string
	// Quote is the quote character; nil detects, "" turns quoting off.
	Quote                *string
	Header, IgnoreErrors *bool
	// SkipRows counts the rows above the table (title lines); HeaderRow
	// is the row (from 1) that names the columns. Either fixes the layout.
	SkipRows, HeaderRow *int
	// NullValues are texts read as NULL in every column.
	NullValues []string
	// DecimalSeparator is "," or "." to say how numbers are written.
	DecimalSeparator string
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
	// MaxXLSXUncompressed caps what the parts read from a workbook may
	// inflate to; default 8 GiB.
	MaxXLSXUncompressed int64
	// MaxColumns caps a converted table's width, so a schema always fits
	// in one reply; default 4096.
	MaxColumns int
	// MaxPending caps one owner's conversions in progress, so one user
	// cannot fill the queue; default 10.
	MaxPending int
	// MaxAttempts is how many runs a conversion gets (a crash or an outage
	// retries it) before it fails; default 5.
	MaxAttempts int
	// HTTP downloads presigned URLs; default a client without timeout
	// (the job's context bounds it).
	HTTP *http.Client
}

// ErrTooManyConversions refuses a conversion while the owner already has
// ConvertConfig.MaxPending in progress.
var ErrTooManyConversions = errors.New("too many conversions in progress")

// ErrGaveUp is what RunConvert returns after it failed a dataset whose
// conversion kept dying (MaxAttempts runs without an outcome): the job is
// over, and its consumer reports it as a poison message (an error event
// with an error id) rather than as a quiet success.
var ErrGaveUp = errors.New("conversion gave up")

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
		reason := "file is not ready (status " + f.Status + ")"
		if f.Error != "" {
			reason = "file cannot be read: " + f.Error
		}
		return "", &UnsupportedFileError{Reason: reason}
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
			return "", invalid("sheet", fmt.Sprintf("sheet %q not found (sheets: %s)", o.Sheet, strings.Join(f.Preview.Sheets, ", ")))
		}
	}
	return k, nil
}

// Bounds of the options.
const (
	maxSkipRows   = 1000
	maxNullValues = 50
)

func validateOptions(o ConvertOptions) error {
	if o.Delimiter != "" && o.Delimiter != `\t` && (len(o.Delimiter) != 1 || strings.ContainsAny(o.Delimiter, "\r\n\"")) {
		return invalid("delimiter", "must be one ASCII character other than a quote or a line break")
	}
	if o.Quote != nil && *o.Quote != "" && (len(*o.Quote) != 1 || strings.ContainsAny(*o.Quote, "\r\n")) {
		return invalid("quote", "must be one ASCII character, or empty to read quotes as text")
	}
	if o.Quote != nil && *o.Quote != "" && o.Delimiter != "" && *o.Quote == o.Delimiter {
		return invalid("quote", "must differ from the delimiter")
	}
	if o.SkipRows != nil && (*o.SkipRows < 0 || *o.SkipRows > maxSkipRows) {
		return invalid("skip_rows", fmt.Sprintf("must be between 0 and %d", maxSkipRows))
	}
	if o.HeaderRow != nil && (*o.HeaderRow < 1 || *o.HeaderRow > maxSkipRows+1) {
		return invalid("header_row", fmt.Sprintf("must be between 1 and %d", maxSkipRows+1))
	}
	if o.HeaderRow != nil && (o.SkipRows != nil || (o.Header != nil && !*o.Header)) {
		return invalid("header_row", "cannot be combined with skip_rows or header=false")
	}
	switch o.DecimalSeparator {
	case "", ",", ".":
	default:
		return invalid("decimal_separator", `must be "," or "."`)
	}
	if len(o.NullValues) > maxNullValues {
		return invalid("null_values", fmt.Sprintf("at most %d values", maxNullValues))
	}
	for _, v := range o.NullValues {
		if len(v) > 64 || strings.ContainsAny(v, "\r\n") {
			return invalid("null_values", "each value must be one line of at most 64 bytes")
		}
	}
	if o.Encoding != "" && !tabular.Supported(o.Encoding) {
		return invalid("encoding", tabular.UnknownEncodingMessage(o.Encoding))
	}
	return nil
}

// layoutOptions are the user's header and skip choices as the layout
// takes them: header_row N is "skip N-1 rows, then a header".
func layoutOptions(o ConvertOptions) (*bool, *int) {
	if o.HeaderRow != nil {
		yes, skip := true, *o.HeaderRow-1
		return &yes, &skip
	}
	return o.Header, o.SkipRows
}

// prepOptions turns the request's options into the preparation's.
func prepOptions(f SourceFile, o ConvertOptions) csvprep.Options {
	header, skip := layoutOptions(o)
	out := csvprep.Options{Encoding: o.Encoding, Header: header, SkipRows: skip,
		TabHint: strings.EqualFold(f.ContentType, "text/tab-separated-values") || strings.EqualFold(f.Ext, ".txt")}
	switch o.Delimiter {
	case "":
	case `\t`:
		out.Delimiter = '\t'
	default:
		out.Delimiter = o.Delimiter[0]
	}
	if o.Quote != nil {
		out.QuoteSet = true
		if *o.Quote != "" {
			out.Quote = (*o.Quote)[0]
		}
	}
	return out
}

func csvReading(o ConvertOptions) CSVOptions {
	out := CSVOptions{NullValues: o.NullValues}
	if o.DecimalSeparator != "" {
		out.DecimalSeparator = o.DecimalSeparator[0]
	}
	return out
}

// StartConvert validates a conversion, stores the dataset as processing
// and queues its job. The caller waits for the outcome (or not). A failed
// dataset of the same name gives its name up: a retry replaces it.
//
// A repeat of a conversion already asked for is answered with its dataset
// (existing true) rather than a second conversion: a request with the
// IdempotencyKey of an earlier one (a different request with that key is a
// field error, ErrInvalid), or one with the same name, file and options as a
// dataset that is processing or ready.
func (s *Service) StartConvert(ctx context.Context, ownerID string, r ConvertRequest) (d Dataset, existing bool, err error) {
	if err := validateIdempotencyKey(r.IdempotencyKey); err != nil {
		return Dataset{}, false, err
	}
	if r.IdempotencyKey != "" {
		prev, err := s.store.GetByIdempotencyKey(ctx, ownerID, r.IdempotencyKey)
		if err == nil {
			d, err := replay(prev, r)
			return d, err == nil, err
		}
		if !errors.Is(err, ErrNotFound) {
			return Dataset{}, false, err
		}
	}
	if err := ValidateName(r.Name); err != nil {
		return Dataset{}, false, err
	}
	if err := validateOptions(r.Options); err != nil {
		return Dataset{}, false, err
	}
	if s.files == nil || s.jobs == nil {
		return Dataset{}, false, errors.New("conversion is not configured")
	}
	f, err := s.openFile(ctx, ownerID, r.FileID)
	if err != nil {
		return Dataset{}, false, err
	}
	if _, err := checkSource(f, r.Options); err != nil {
		return Dataset{}, false, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	doc := Dataset{
		OwnerID: ownerID, Name: r.Name, Description: r.Description, Schema: []Column{},
		Status: StatusProcessing, FileID: f.ID, IdempotencyKey: r.IdempotencyKey, RequestFingerprint: r.fingerprint(),
		CreatedAt: now, UpdatedAt: now,
	}
	d, err = s.store.Insert(ctx, doc)
	if errors.Is(err, ErrDuplicateName) {
		if prev, ok := s.earlierRequest(ctx, ownerID, r); ok {
			d, err := replay(prev, r)
			return d, err == nil, err
		}
		if s.releaseFailedName(ctx, ownerID, r.Name) {
			d, err = s.store.Insert(ctx, doc)
		}
	}
	if err != nil {
		return Dataset{}, false, err
	}
	// Counting after the insert makes the cap hold under concurrent
	// requests: each sees the others' documents, so at worst both back off.
	if n, err := s.store.CountProcessing(ctx, ownerID); err != nil || n > s.conv.MaxPending {
		s.discard(ctx, d)
		if err != nil {
			return Dataset{}, false, err
		}
		return Dataset{}, false, fmt.Errorf("%w: at most %d at once; retry when one has finished", ErrTooManyConversions, s.conv.MaxPending)
	}
	if err := s.pub.Created(ctx, d); err != nil {
		s.log.WarnContext(ctx, "publish dataset created", "dataset_id", d.ID, "error", err)
	}
	job := ConvertJob{DatasetID: d.ID, OwnerID: ownerID, FileID: f.ID, Options: r.Options, RequestedAt: now}
	if err := s.jobs.EnqueueConvert(ctx, job); err != nil {
		s.discard(ctx, d)
		return Dataset{}, false, fmt.Errorf("queue conversion: %w", err)
	}
	return d, false, nil
}

// earlierRequest finds, after an insert was refused as a duplicate, the
// dataset of an earlier request this one may repeat: the one its key names
// (a request with the same key got in first), else the dataset of the same
// name when the same name, file and options made it and it has not failed
// (a failed one gives its name up instead).
func (s *Service) earlierRequest(ctx context.Context, ownerID string, r ConvertRequest) (Dataset, bool) {
	if r.IdempotencyKey != "" {
		if prev, err := s.store.GetByIdempotencyKey(ctx, ownerID, r.IdempotencyKey); err == nil {
			return prev, true
		}
	}
	prev, err := s.store.GetByName(ctx, ownerID, r.Name)
	if err != nil || prev.Status == StatusFailed || prev.RequestFingerprint != r.fingerprint() {
		return Dataset{}, false
	}
	return prev, true
}

// releaseFailedName deletes the owner's failed dataset of that name, so a
// retry can take it; it says whether one was removed.
func (s *Service) releaseFailedName(ctx context.Context, ownerID, name string) bool {
	old, err := s.store.GetByName(ctx, ownerID, name)
	if err != nil || old.Status != StatusFailed {
		return false
	}
	if err := s.Delete(ctx, ownerID, old.ID); err != nil {
		s.log.WarnContext(ctx, "release the name of a failed dataset", "dataset_id", old.ID, "error", err)
		return false
	}
	return true
}

// RunConvert does one conversion job. It is idempotent: a dataset already
// ready or failed only has its outcome event published again (the event is
// de-duplicated), a deleted one is skipped, and a re-run overwrites the same
// objects. Problems with the file's content fail the dataset and return
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
	attempt, err := s.store.AddAttempt(ctx, j.OwnerID, j.DatasetID)
	if errors.Is(err, ErrNotFound) {
		return nil // deleted, or finished by another run meanwhile
	}
	if err != nil {
		return err
	}
	if attempt > s.conv.MaxAttempts {
		if err := s.FailConvert(ctx, j, fmt.Sprintf("conversion failed after %d attempts", s.conv.MaxAttempts)); err != nil {
			return err
		}
		return fmt.Errorf("%w: %d attempts without an outcome", ErrGaveUp, s.conv.MaxAttempts)
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
	var c converted
	if kind == kindXLSX {
		c, err = s.convertXLSX(ctx, d, f, j.Options)
	} else {
		c, err = s.convertCSV(ctx, d, f, j.Options)
	}
	var ie *InputError
	switch {
	case errors.As(err, &ie):
		return s.FailConvert(ctx, j, ie.Message)
	case errors.Is(err, ErrTooLarge), errors.Is(err, ErrInvalid):
		return s.FailConvert(ctx, j, err.Error())
	case err != nil:
		return err
	}
	schema := make([]Column, len(c.columns))
	for i, col := range c.columns {
		schema[i] = Column{Name: col.Name, Type: VocabularyType(col.Type)}
	}
	if err := checkSchemaSize(schema); err != nil {
		fe, _ := fielderr.As(err)
		return s.FailConvert(ctx, j, fe.Message)
	}
	ready := StatusReady
	noError := ""
	d, err = s.store.Update(ctx, j.OwnerID, j.DatasetID, Changes{
		Status: &ready, Schema: schema, RowCount: &c.rows, Parts: []Part{c.part}, Error: &noError,
		Report: &c.report, Rejects: c.rejects,
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

// converted is what a conversion produced.
type converted struct {
	columns []ColumnDef
	rows    int64
	part    Part
	rejects *Part
	report  Report
}

// convertCSV downloads the file (scanning its encoding on the way),
// prepares it, converts it, and uploads part 0 and the rejects.
func (s *Service) convertCSV(ctx context.Context, d Dataset, f SourceFile, o ConvertOptions) (converted, error) {
	dir, err := s.workDir("convert-" + d.ID)
	if err != nil {
		return converted{}, err
	}
	defer os.RemoveAll(dir)
	p, err := s.prepareCSV(ctx, dir, f, o)
	if err != nil {
		return converted{}, err
	}
	strict := o.IgnoreErrors != nil && !*o.IgnoreErrors
	dst := filepath.Join(dir, "part.parquet")
	var res ConvertResult
	err = s.readPrepared(ctx, p, d.ID, strict, func(src CSVSource) error {
		var err error
		res, err = s.engine.ConvertCSV(ctx, spill(dir), src, dst, csvReading(o))
		return err
	})
	if err != nil {
		return converted{}, err
	}
	p.Counted(res.Rows)
	c := converted{columns: res.Columns, rows: res.Rows, report: csvReport(f, p, res, d.ID)}
	if c.part, err = s.upload(ctx, dst, PartKey(d.OwnerID, d.ID, 0)); err != nil {
		return converted{}, err
	}
	if p.RejectsPath != "" {
		rj := filepath.Join(dir, "rejects.parquet")
		if err := s.engine.WriteRejects(ctx, spill(dir), p.RejectsPath, rj); err != nil {
			return converted{}, fmt.Errorf("write rejects: %w", err)
		}
		part, err := s.upload(ctx, rj, RejectsKey(d.OwnerID, d.ID))
		if err != nil {
			return converted{}, err
		}
		c.rejects = &part
	}
	return c, nil
}

// prepareCSV downloads a delimited text file and prepares it for DuckDB.
func (s *Service) prepareCSV(ctx context.Context, dir string, f SourceFile, o ConvertOptions) (*csvprep.Prepared, error) {
	raw := filepath.Join(dir, "source")
	var scan tabular.EncodingScanner
	var scanner io.Writer = &scan
	if o.Encoding != "" {
		scanner = nil
	}
	if err := fetch(ctx, s.conv.HTTP, f, raw, scanner, s.conv.MaxFileBytes); err != nil {
		return nil, err
	}
	var enc tabular.EncodingResult
	if o.Encoding == "" {
		enc = scan.Result()
	}
	// An encoding named in the options was validated when the conversion
	// was asked for.
	po := prepOptions(f, o)
	po.MaxColumns = s.conv.MaxColumns
	p, err := csvprep.Prepare(ctx, raw, enc, dir, po)
	if errors.Is(err, csvprep.ErrTooWide) {
		return nil, &InputError{Message: err.Error()}
	}
	return p, err
}

// readPrepared runs read over a prepared file. Where DuckDB reads the file
// differently from the scan (a *DisagreeError), the file is read once
// more in its canonical copy, which leaves nothing to interpret; a second
// disagreement fails with an InputError. strict refuses, before any read,
// a file with rows the preparation set aside (an insert, ignore_errors
// off).
func (s *Service) readPrepared(ctx context.Context, p *csvprep.Prepared, datasetID string, strict bool, read func(CSVSource) error) error {
	if strict && p.Rejected.Count > 0 {
		return &InputError{Message: rejectedMessage(p)}
	}
	err := read(csvSource(p))
	var de *DisagreeError
	if errors.As(err, &de) && !p.Normalized {
		s.log.WarnContext(ctx, "csv read disagreed with the scan; normalizing", "dataset_id", datasetID, "detail", de.Detail)
		if err := p.Normalize(ctx); err != nil {
			return err
		}
		if strict && p.Rejected.Count > 0 {
			return &InputError{Message: rejectedMessage(p)}
		}
		err = read(csvSource(p))
	}
	if errors.As(err, &de) {
		s.log.ErrorContext(ctx, "csv read disagreed with the normalized file", "dataset_id", datasetID, "detail", de.Detail)
		return &InputError{Message: "the file could not be read consistently: " + de.Detail}
	}
	return err
}

func csvSource(p *csvprep.Prepared) CSVSource {
	return CSVSource{Path: p.Path, Delimiter: p.Dialect.Delimiter, Quote: p.Dialect.Quote, Newline: p.StatedNewline(),
		SkipLines: p.SkipLines, Names: p.Names, Rows: p.Rows, MaxRecordBytes: p.MaxRecordBytes}
}

// rejectedMessage describes the first rejected rows of a file.
func rejectedMessage(p *csvprep.Prepared) string {
	parts := make([]string, len(p.FirstRejects))
	for i, r := range p.FirstRejects {
		parts[i] = fmt.Sprintf("line %d: %s", r.Line, r.Reason)
	}
	return fmt.Sprintf("%d rows cannot be read: %s", p.Rejected.Count, strings.Join(parts, "; "))
}

// convertXLSX downloads the workbook, converts the chosen sheet and
// uploads part 0.
func (s *Service) convertXLSX(ctx context.Context, d Dataset, f SourceFile, o ConvertOptions) (converted, error) {
	dir, err := s.workDir("convert-" + d.ID)
	if err != nil {
		return converted{}, err
	}
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "source.xlsx")
	if err := fetch(ctx, s.conv.HTTP, f, src, nil, s.conv.MaxFileBytes); err != nil {
		return converted{}, err
	}
	dst := filepath.Join(dir, "part.parquet")
	header, skip := layoutOptions(o)
	xo := s.xlsxOptions(dir)
	xo.Sheet, xo.Header, xo.SkipRows = o.Sheet, header, skip
	res, err := s.engine.ConvertXLSX(ctx, spill(dir), src, dst, xo)
	if err != nil {
		return converted{}, err
	}
	c := converted{columns: res.Columns, rows: res.Rows, report: xlsxReport(f, res)}
	if c.part, err = s.upload(ctx, dst, PartKey(d.OwnerID, d.ID, 0)); err != nil {
		return converted{}, err
	}
	return c, nil
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

// xlsxOptions are the limits of reading a workbook in dir.
func (s *Service) xlsxOptions(dir string) XLSXOptions {
	return XLSXOptions{MaxCells: s.conv.MaxXLSXCells, MaxUncompressed: s.conv.MaxXLSXUncompressed,
		MaxColumns: s.conv.MaxColumns, TempDir: dir}
}

// spill is where the engine may spill while working in dir.
func spill(dir string) string { return filepath.Join(dir, "spill") }

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
	// The reason is shown to the user; a job that failed for good may
	// carry an infrastructure error naming the service's directories.
	reason = ScrubPaths(reason)
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
