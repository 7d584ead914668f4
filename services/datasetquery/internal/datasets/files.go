package datasets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nonefinity/backend/services/datasetquery/internal/csvprep"
)

// ErrConcurrentChange is an insert that lost a race with another change
// of the same dataset; nothing of it became visible.
var ErrConcurrentChange = errors.New("the dataset changed while rows were inserted; retry")

// FileColumns are a file's columns next to a dataset, to map them before
// an insert.
type FileColumns struct {
	File    SourceFile
	Columns []string
	Dataset Dataset
}

// FileColumns reports the columns processing found in one of the owner's
// files, with the dataset they would be inserted into.
func (s *Service) FileColumns(ctx context.Context, ownerID, id, fileID string) (FileColumns, error) {
	d, err := s.store.Get(ctx, ownerID, id)
	if err != nil {
		return FileColumns{}, err
	}
	f, err := s.openFile(ctx, ownerID, fileID)
	if err != nil {
		return FileColumns{}, err
	}
	if fileKind(f) == "" {
		return FileColumns{}, &UnsupportedFileError{Reason: "file is " + f.ContentType + ", not a CSV or XLSX"}
	}
	var cols []string
	if f.Preview != nil {
		cols = f.Preview.Columns
	}
	return FileColumns{File: f, Columns: cols, Dataset: d}, nil
}

// Insert appends the rows of one of the owner's CSV or XLSX files (its
// first sheet, header detected) to a ready dataset. File columns are matched to the dataset's by name
// case-insensitively and cast to its types; a missing column or a value
// that does not cast is an ErrInvalid naming the column. All rows or none become visible:
// the rows go to a new Parquet part, and only a single conditional update
// of the document (parts and row count together) publishes them.
func (s *Service) Insert(ctx context.Context, ownerID, id, fileID string) (int64, error) {
	d, err := s.store.Get(ctx, ownerID, id)
	if err != nil {
		return 0, err
	}
	if d.Status != StatusReady || len(d.Parts) == 0 {
		return 0, ErrNotReady
	}
	f, err := s.openFile(ctx, ownerID, fileID)
	if err != nil {
		return 0, err
	}
	kind, err := checkSource(f, ConvertOptions{})
	if err != nil {
		return 0, err
	}
	dir, err := s.workDir("insert-" + d.ID)
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	var csv *csvprep.Prepared
	src := filepath.Join(dir, "source")
	if kind == kindCSV {
		if csv, err = s.prepareCSV(ctx, dir, f, ConvertOptions{}); err != nil {
			var ie *InputError
			if errors.As(err, &ie) {
				return 0, invalid("file_id", ie.Message)
			}
			return 0, err
		}
	} else if err := fetch(ctx, s.conv.HTTP, f, src, nil, s.conv.MaxFileBytes); err != nil {
		return 0, err
	}
	parts, release, err := s.engine.CachedParts(ctx, ownerID, Table{Name: d.Name, DatasetID: d.ID, Parts: d.Parts})
	if err != nil {
		return 0, err
	}
	dst := filepath.Join(dir, "part.parquet")
	var n int64
	if kind == kindCSV {
		// An insert takes every row or none: a row the preparation could
		// not keep refuses the insert.
		err = s.readPrepared(ctx, csv, d.ID, true, func(src CSVSource) error {
			var err error
			n, err = s.engine.CastCSV(ctx, spill(dir), src, parts[0], dst, CSVOptions{})
			return err
		})
	} else {
		n, err = s.engine.CastXLSX(ctx, spill(dir), src, parts[0], dst, s.xlsxOptions(dir))
	}
	release()
	var ce *ColumnError
	var ie *InputError
	switch {
	case errors.As(err, &ce):
		return 0, invalid(ce.Column, ce.Error())
	case errors.As(err, &ie):
		return 0, invalid("file_id", ie.Message)
	case err != nil:
		return 0, err
	}
	key := PartKey(ownerID, d.ID, nextPart(d.Parts))
	part, err := s.upload(ctx, dst, key)
	if err != nil {
		return 0, err
	}
	updated, err := s.store.AppendPart(ctx, ownerID, d.ID, len(d.Parts), part, n)
	if err != nil {
		// Not visible: the document never named the object.
		if derr := s.objects.Delete(context.WithoutCancel(ctx), key); derr != nil {
			s.log.WarnContext(ctx, "remove part of a failed insert", "key", key, "error", derr)
		}
		return 0, err
	}
	if err := s.pub.Updated(ctx, updated, ""); err != nil {
		s.log.WarnContext(ctx, "publish dataset updated", "dataset_id", d.ID, "error", err)
	}
	return n, nil
}

// nextPart is one past the highest part number in use.
func nextPart(parts []Part) int {
	next := 0
	for _, p := range parts {
		base := filepath.Base(p.Key)
		num := strings.TrimSuffix(strings.TrimPrefix(base, "part-"), ".parquet")
		if n, err := strconv.Atoi(num); err == nil && n >= next {
			next = n + 1
		}
	}
	return max(next, len(parts))
}

// ExportTTL is how long an export's presigned URL stays valid.
const ExportTTL = 15 * time.Minute

// Export is a produced export: where to GET it and what to call it.
type Export struct {
	URL         string
	ContentType string
	FileName    string
	ExpiresIn   time.Duration
}

// ExportKey is where the export of a dataset in one format is written.
// It is overwritten by the next export in that format and removed with the
// dataset.
func ExportKey(ownerID, datasetID, format string) string {
	return DatasetPrefix(ownerID, datasetID) + "exports/" + format
}

// Export writes the dataset in format (csv, json or parquet) with DuckDB
// COPY from the locally cached Parquet parts to object storage at
// ExportKey, and returns a presigned GET of it (valid ExportTTL, offered as
// "<name>.<format>"). The client streams the file from object storage,
// not through NATS, whose messages are small.
func (s *Service) Export(ctx context.Context, ownerID, id, format string) (Export, error) {
	format = strings.ToLower(format)
	contentType, ok := ExportFormats[format]
	if !ok {
		return Export{}, invalid("format", "must be csv, json or parquet")
	}
	d, err := s.store.Get(ctx, ownerID, id)
	if err != nil {
		return Export{}, err
	}
	if d.Status != StatusReady || len(d.Parts) == 0 {
		return Export{}, ErrNotReady
	}
	dir, err := s.workDir("export-" + d.ID)
	if err != nil {
		return Export{}, err
	}
	defer os.RemoveAll(dir)
	files, release, err := s.engine.CachedParts(ctx, ownerID, Table{Name: d.Name, DatasetID: d.ID, Parts: d.Parts})
	if err != nil {
		return Export{}, err
	}
	dst := filepath.Join(dir, "export."+format)
	err = s.engine.Export(ctx, spill(dir), files, format, dst)
	release()
	if err != nil {
		return Export{}, err
	}
	key := ExportKey(ownerID, d.ID, format)
	fh, err := os.Open(dst)
	if err != nil {
		return Export{}, fmt.Errorf("open export: %w", err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return Export{}, fmt.Errorf("stat export: %w", err)
	}
	if _, err := s.objects.Put(ctx, key, fh, fi.Size(), contentType); err != nil {
		return Export{}, fmt.Errorf("upload export: %w", err)
	}
	name := d.Name + "." + format
	u, err := s.objects.PresignGet(ctx, key, ExportTTL, name)
	if err != nil {
		return Export{}, fmt.Errorf("presign export: %w", err)
	}
	return Export{URL: u.String(), ContentType: contentType, FileName: name, ExpiresIn: ExportTTL}, nil
}
