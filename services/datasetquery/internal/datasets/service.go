package datasets

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Objects is the object storage the service writes Parquet parts to
// (package objects adapts pkg/objstore to it).
type Objects interface {
	// Put streams size bytes of r to key and returns the stored object's
	// ETag.
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) (etag string, err error)
	Delete(ctx context.Context, key string) error
	DeletePrefix(ctx context.Context, prefix string) (int, error)
	PresignGet(ctx context.Context, key string, expiry time.Duration, downloadName string) (*url.URL, error)
}

// Publisher announces dataset changes (DATASETS stream). A failed publish
// fails the operation only where another instance's cache depends on it.
type Publisher interface {
	Created(ctx context.Context, d Dataset) error
	Updated(ctx context.Context, d Dataset, previousName string) error
	Deleted(ctx context.Context, d Dataset) error
	// Converted and Failed announce a conversion's outcome; publishing
	// the same outcome again is a no-op (de-duplicated by dataset id).
	Converted(ctx context.Context, d Dataset) error
	Failed(ctx context.Context, d Dataset) error
}

// Service is the dataset core.
type Service struct {
	store    Store
	objects  Objects
	engine   Engine
	pub      Publisher
	files    Files
	jobs     Jobs
	outcomes Outcomes
	conv     ConvertConfig
	scratch  string
	log      *slog.Logger
	now      func() time.Time
}

// Deps are what the core works with. Files and Jobs may be nil when
// conversion and inserts are not offered (they then fail); without
// Outcomes a waiting conversion only reads its dataset now and then.
type Deps struct {
	Store    Store
	Objects  Objects
	Engine   Engine
	Pub      Publisher
	Files    Files
	Jobs     Jobs
	Outcomes Outcomes
	Convert  ConvertConfig
	// Scratch is a local directory for files being written before they
	// are uploaded, and for downloads being converted.
	Scratch string
	Log     *slog.Logger
}

// NewService wires the core.
func NewService(d Deps) *Service {
	conv := d.Convert
	if conv.MaxFileBytes <= 0 {
		conv.MaxFileBytes = 2 << 30
	}
	if conv.HTTP == nil {
		conv.HTTP = &http.Client{}
	}
	if conv.MaxColumns <= 0 {
		conv.MaxColumns = 4096
	}
	if conv.MaxPending <= 0 {
		conv.MaxPending = 10
	}
	if conv.MaxAttempts <= 0 {
		conv.MaxAttempts = 5
	}
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: d.Store, objects: d.Objects, engine: d.Engine, pub: d.Pub, files: d.Files, jobs: d.Jobs,
		outcomes: d.Outcomes, conv: conv, scratch: d.Scratch, log: log, now: time.Now}
}

const parquetType = "application/vnd.apache.parquet"

// Create stores an empty dataset with a declared schema: its document and
// an empty Parquet part with the schema's types, so it can be queried at
// once.
func (s *Service) Create(ctx context.Context, ownerID, name, description string, schema []Column) (Dataset, error) {
	if err := ValidateName(name); err != nil {
		return Dataset{}, err
	}
	if err := ValidateSchema(schema); err != nil {
		return Dataset{}, err
	}
	if len(schema) > s.conv.MaxColumns {
		return Dataset{}, invalid("schema", fmt.Sprintf("%d columns; a dataset has at most %d", len(schema), s.conv.MaxColumns))
	}
	if err := checkSchemaSize(schema); err != nil {
		return Dataset{}, err
	}
	cols := make([]ColumnDef, len(schema))
	for i, c := range schema {
		schema[i].Type = strings.ToLower(c.Type)
		t, _ := DuckType(c.Type)
		cols[i] = ColumnDef{Name: c.Name, Type: t}
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	d, err := s.store.Insert(ctx, Dataset{
		OwnerID: ownerID, Name: name, Description: description, Schema: schema,
		Status: StatusProcessing, CreatedAt: now, UpdatedAt: now,
	})
	if err != nil {
		return Dataset{}, err
	}
	part, err := s.writeEmptyPart(ctx, d, cols)
	if err != nil {
		s.discard(ctx, d)
		return Dataset{}, err
	}
	ready := StatusReady
	d, err = s.store.Update(ctx, ownerID, d.ID, Changes{Status: &ready, Parts: []Part{part}})
	if err != nil {
		s.discard(ctx, d)
		return Dataset{}, err
	}
	if err := s.pub.Created(ctx, d); err != nil {
		s.log.WarnContext(ctx, "publish dataset created", "dataset_id", d.ID, "error", err)
	}
	return d, nil
}

func (s *Service) writeEmptyPart(ctx context.Context, d Dataset, cols []ColumnDef) (Part, error) {
	if err := os.MkdirAll(s.scratch, 0o700); err != nil {
		return Part{}, fmt.Errorf("scratch directory: %w", err)
	}
	path := filepath.Join(s.scratch, d.ID+"-empty.parquet")
	defer os.Remove(path)
	if err := s.engine.WriteEmptyParquet(ctx, path, cols); err != nil {
		return Part{}, err
	}
	return s.upload(ctx, path, PartKey(d.OwnerID, d.ID, 0))
}

// upload puts a local Parquet file at key.
func (s *Service) upload(ctx context.Context, path, key string) (Part, error) {
	f, err := os.Open(path)
	if err != nil {
		return Part{}, fmt.Errorf("open parquet: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Part{}, fmt.Errorf("stat parquet: %w", err)
	}
	etag, err := s.objects.Put(ctx, key, f, fi.Size(), parquetType)
	if err != nil {
		return Part{}, fmt.Errorf("upload parquet: %w", err)
	}
	return Part{Key: key, ETag: etag, Size: fi.Size()}, nil
}

// discard removes what a failed create left behind.
func (s *Service) discard(ctx context.Context, d Dataset) {
	ctx = context.WithoutCancel(ctx)
	if _, err := s.objects.DeletePrefix(ctx, DatasetPrefix(d.OwnerID, d.ID)); err != nil {
		s.log.WarnContext(ctx, "remove objects of a failed dataset", "dataset_id", d.ID, "error", err)
	}
	if _, err := s.store.Delete(ctx, d.OwnerID, d.ID); err != nil && !errors.Is(err, ErrNotFound) {
		s.log.WarnContext(ctx, "remove document of a failed dataset", "dataset_id", d.ID, "error", err)
	}
}

// List pages through the owner's datasets, newest first.
func (s *Service) List(ctx context.Context, ownerID string, skip, limit int) ([]Dataset, int, error) {
	return s.store.List(ctx, ownerID, skip, limit)
}

// Get returns one of the owner's datasets.
func (s *Service) Get(ctx context.Context, ownerID, id string) (Dataset, error) {
	return s.store.Get(ctx, ownerID, id)
}

// Update renames a dataset (name rules and uniqueness apply) or changes
// its description.
func (s *Service) Update(ctx context.Context, ownerID, id string, name, description *string) (Dataset, error) {
	if name != nil {
		if err := ValidateName(*name); err != nil {
			return Dataset{}, err
		}
	}
	before, err := s.store.Get(ctx, ownerID, id)
	if err != nil {
		return Dataset{}, err
	}
	d, err := s.store.Update(ctx, ownerID, id, Changes{Name: name, Description: description})
	if err != nil {
		return Dataset{}, err
	}
	previous := ""
	if d.Name != before.Name {
		previous = before.Name
	}
	if err := s.pub.Updated(ctx, d, previous); err != nil {
		s.log.WarnContext(ctx, "publish dataset updated", "dataset_id", d.ID, "error", err)
	}
	return d, nil
}

// UpdateSchema sets column descriptions by column name (case-insensitive);
// types never change here. An unknown column is a validation error.
func (s *Service) UpdateSchema(ctx context.Context, ownerID, id string, descriptions map[string]string) (Dataset, error) {
	d, err := s.store.Get(ctx, ownerID, id)
	if err != nil {
		return Dataset{}, err
	}
	schema := append([]Column(nil), d.Schema...)
	for name, desc := range descriptions {
		found := false
		for i := range schema {
			if strings.EqualFold(schema[i].Name, name) {
				schema[i].Desc = desc
				found = true
			}
		}
		if !found {
			return Dataset{}, invalid(name, "no such column in the dataset")
		}
	}
	if err := checkSchemaSize(schema); err != nil {
		return Dataset{}, err
	}
	return s.store.Update(ctx, ownerID, id, Changes{Schema: schema})
}

// Delete removes the dataset's objects, its document and cached copies.
func (s *Service) Delete(ctx context.Context, ownerID, id string) error {
	d, err := s.store.Get(ctx, ownerID, id)
	if err != nil {
		return err
	}
	if _, err := s.objects.DeletePrefix(ctx, DatasetPrefix(ownerID, d.ID)); err != nil {
		return fmt.Errorf("delete dataset objects: %w", err)
	}
	if _, err := s.store.Delete(ctx, ownerID, d.ID); err != nil {
		return err
	}
	s.engine.ForgetDataset(ownerID, d.ID)
	if err := s.pub.Deleted(ctx, d); err != nil {
		s.log.WarnContext(ctx, "publish dataset deleted", "dataset_id", d.ID, "error", err)
	}
	return nil
}

// Data returns rows [skip, skip+limit) in file order and the full count.
func (s *Service) Data(ctx context.Context, ownerID, id string, skip, limit int) (Result, int64, error) {
	d, err := s.store.Get(ctx, ownerID, id)
	if err != nil {
		return Result{}, 0, err
	}
	if d.Status != StatusReady || len(d.Parts) == 0 {
		return Result{}, 0, ErrNotReady
	}
	rows, err := s.engine.Window(ctx, ownerID, Table{Name: d.Name, DatasetID: d.ID, Parts: d.Parts}, skip, limit)
	if err != nil {
		return Result{}, 0, err
	}
	return rows, d.RowCount, nil
}

// EraseUser removes everything the service holds for a deleted user:
// sessions and cache on this instance, Parquet objects, documents.
// Idempotent.
func (s *Service) EraseUser(ctx context.Context, userID string) error {
	if err := s.engine.DropUser(userID); err != nil {
		return fmt.Errorf("drop sessions: %w", err)
	}
	if _, err := s.objects.DeletePrefix(ctx, UserPrefix(userID)); err != nil {
		return fmt.Errorf("delete dataset objects: %w", err)
	}
	if _, err := s.store.DeleteOwner(ctx, userID); err != nil {
		return fmt.Errorf("delete dataset documents: %w", err)
	}
	return nil
}
