// Package store keeps file documents in the MongoDB "files" collection,
// with the field names of the original service plus what processing adds.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nonefinity/backend/pkg/mongox"
	"github.com/nonefinity/backend/services/fileingest/internal/files"
)

// Collection is the collection the store uses.
const Collection = "files"

// PreviewsCollection keeps each file's preview apart from the file, under
// the file's _id.
//
// Why apart: FerretDB's SQLite backend (the embedded store) answers every
// filter but an exact {_id} by decoding every document of the collection,
// and a preview of a wide file is thousands of strings. Inline, every
// owner-filtered read of "files" (lists, quota sums, the processing
// updates) decoded every user's previews; apart, a preview is read only by
// its _id, by the single-file answers. On MongoDB it costs one more read by
// _id for a file that has a preview, and keeps the list scans small there
// too.
const PreviewsCollection = "file_previews"

// Store implements files.Store over one database.
type Store struct {
	coll         *mongo.Collection
	previews     *mongo.Collection
	reservations *mongo.Collection
	tickets      *mongo.Collection
}

// New returns a store over db. Call EnsureIndexes once at startup.
func New(db *mongo.Database) *Store {
	return &Store{
		coll:         db.Collection(Collection),
		previews:     db.Collection(PreviewsCollection),
		reservations: db.Collection(ReservationsCollection),
		tickets:      db.Collection(TicketsCollection),
	}
}

// Indexes are the indexes the store relies on: listing by owner in time
// order, one file per object (which makes commits idempotent), finding
// reservations by object and by due time, and one quota ticket per number.
func Indexes() []mongox.Index {
	return []mongox.Index{
		{Collection: Collection, Name: "owner_created", Keys: bson.D{{Key: "owner_id", Value: 1}, {Key: "created_at", Value: -1}}},
		{Collection: Collection, Name: "owner_file_path", Keys: bson.D{{Key: "owner_id", Value: 1}, {Key: "file_path", Value: 1}}, Unique: true},
		{Collection: ReservationsCollection, Name: "owner_object", Keys: bson.D{{Key: "owner_id", Value: 1}, {Key: "object_key", Value: 1}}},
		{Collection: ReservationsCollection, Name: "sweep_after", Keys: bson.D{{Key: "sweep_after", Value: 1}}},
		{Collection: TicketsCollection, Name: "owner_seq", Keys: bson.D{{Key: "owner_id", Value: 1}, {Key: "seq", Value: -1}}, Unique: true},
	}
}

// EnsureIndexes creates the indexes.
func (s *Store) EnsureIndexes(ctx context.Context, log *slog.Logger) error {
	_, err := mongox.EnsureIndexes(ctx, s.coll.Database(), Indexes(), log)
	return err
}

// fileDoc is a files document. The first fields are the original
// service's; status and the rest are processing's.
type fileDoc struct {
	ID       bson.ObjectID `bson:"_id,omitempty"`
	OwnerID  string        `bson:"owner_id"`
	Bucket   string        `bson:"bucket"`
	FilePath string        `bson:"file_path"`
	FileName string        `bson:"file_name"`
	FileExt  string        `bson:"file_ext"`
	FileType string        `bson:"file_type"`
	FileSize int64         `bson:"file_size"`
	URL      string        `bson:"url,omitempty"`
	ETag     string        `bson:"etag,omitempty"`

	Status       string `bson:"status"`
	Category     string `bson:"category,omitempty"`
	DetectedType string `bson:"detected_type,omitempty"`
	SHA256       string `bson:"sha256,omitempty"`
	Error        string `bson:"error,omitempty"`
	// Preview is read from documents written before previews moved to
	// PreviewsCollection; nothing writes it any more.
	Preview *previewDoc `bson:"preview,omitempty"`
	// HasPreview says PreviewsCollection holds this file's preview.
	HasPreview bool          `bson:"has_preview,omitempty"`
	Processing processingDoc `bson:"processing"`

	CreatedAt time.Time `bson:"created_at"`
	UpdatedAt time.Time `bson:"updated_at"`
}

// previewRecord is a document of PreviewsCollection: the preview of the
// file with the same _id, and its owner for erasure.
//
// The preview is one binary value (the BSON of a previewDoc), which only
// this store reads: FerretDB's SQLite backend finds even an {_id} by
// parsing the JSON of every row (its query's _id expression differs from
// its index's, so SQLite scans), and then decodes what it returns value by
// value. A binary is one JSON string to skip and one base64 to decode
// where a 500-column preview was ~10,000 strings.
type previewRecord struct {
	ID      bson.ObjectID `bson:"_id"`
	OwnerID string        `bson:"owner_id"`
	Preview []byte        `bson:"preview"`
}

func toPreviewRecord(oid bson.ObjectID, owner string, p *files.Preview) (previewRecord, error) {
	b, err := bson.Marshal(toPreviewDoc(p))
	return previewRecord{ID: oid, OwnerID: owner, Preview: b}, err
}

func (r previewRecord) preview() (*files.Preview, error) {
	var d previewDoc
	if err := bson.Unmarshal(r.Preview, &d); err != nil {
		return nil, fmt.Errorf("file %s: read preview: %w", r.ID.Hex(), err)
	}
	return fromPreviewDoc(&d), nil
}

type previewDoc struct {
	Columns   []string `bson:"columns"`
	Encoding  string   `bson:"encoding,omitempty"`
	Delimiter string   `bson:"delimiter,omitempty"`
	HasHeader bool     `bson:"has_header"`
	SkipRows  int      `bson:"skip_rows,omitempty"`
	Rows      []rowDoc `bson:"rows"`
	Sheets    []string `bson:"sheets,omitempty"`
	Sheet     string   `bson:"sheet,omitempty"`
}

// rowDoc wraps one preview row: FerretDB v1 stores no arrays directly
// inside arrays.
type rowDoc struct {
	Cells []string `bson:"cells"`
}

type processingDoc struct {
	Attempts         int       `bson:"attempts"`
	StartedAt        time.Time `bson:"started_at,omitempty"`
	FinishedAt       time.Time `bson:"finished_at,omitempty"`
	OutcomePublished bool      `bson:"outcome_published"`
}

func toDoc(f files.File) fileDoc {
	return fileDoc{
		OwnerID: f.OwnerID, Bucket: f.Bucket, FilePath: f.FilePath, FileName: f.FileName,
		FileExt: f.FileExt, FileType: f.FileType, FileSize: f.FileSize, URL: f.URL, ETag: f.ETag,
		Status: string(f.Status), Category: f.Category, DetectedType: f.DetectedType,
		SHA256: f.SHA256, Error: f.Error,
		Processing: processingDoc{
			Attempts: f.Processing.Attempts, StartedAt: f.Processing.StartedAt,
			FinishedAt: f.Processing.FinishedAt, OutcomePublished: f.Processing.OutcomePublished,
		},
		CreatedAt: f.CreatedAt, UpdatedAt: f.UpdatedAt,
	}
}

func toPreviewDoc(p *files.Preview) *previewDoc {
	if p == nil {
		return nil
	}
	rows := make([]rowDoc, len(p.Rows))
	for i, r := range p.Rows {
		rows[i] = rowDoc{Cells: r}
	}
	return &previewDoc{
		Columns: p.Columns, Encoding: p.Encoding, Delimiter: p.Delimiter, HasHeader: p.HasHeader, SkipRows: p.SkipRows,
		Rows: rows, Sheets: p.Sheets, Sheet: p.Sheet,
	}
}

func fromDoc(d fileDoc) files.File {
	f := files.File{
		ID: d.ID.Hex(), OwnerID: d.OwnerID, Bucket: d.Bucket, FilePath: d.FilePath,
		FileName: d.FileName, FileExt: d.FileExt, FileType: d.FileType, FileSize: d.FileSize, URL: d.URL, ETag: d.ETag,
		Status: files.Status(d.Status), Category: d.Category, DetectedType: d.DetectedType,
		SHA256: d.SHA256, Error: d.Error,
		Processing: files.Processing{
			Attempts: d.Processing.Attempts, StartedAt: d.Processing.StartedAt.UTC(),
			FinishedAt: d.Processing.FinishedAt.UTC(), OutcomePublished: d.Processing.OutcomePublished,
		},
		CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(),
	}
	if f.Status == "" {
		// Documents written by the original service predate processing.
		f.Status = files.StatusUploaded
	}
	f.Preview = fromPreviewDoc(d.Preview)
	return f
}

func fromPreviewDoc(p *previewDoc) *files.Preview {
	if p == nil {
		return nil
	}
	rows := make([][]string, len(p.Rows))
	for i, r := range p.Rows {
		rows[i] = r.Cells
		if rows[i] == nil {
			rows[i] = []string{}
		}
	}
	return &files.Preview{
		Columns: p.Columns, Encoding: p.Encoding, Delimiter: p.Delimiter, HasHeader: p.HasHeader, SkipRows: p.SkipRows,
		Rows: rows, Sheets: p.Sheets, Sheet: p.Sheet,
	}
}

// coreErrors are the core's sentinels for the driver errors it tells apart.
var coreErrors = mongox.CoreErrors{NotFound: files.ErrNotFound, Duplicate: files.ErrDuplicate, Unavailable: files.ErrDatabaseUnavailable}

// fail names the operation and gives a driver error the core's sentinel
// (see coreErrors).
func fail(op string, err error) error {
	return fmt.Errorf("%s: %w", op, coreErrors.Map(err))
}

// byID is the filter for one of owner's files; a malformed id matches
// nothing.
func byID(owner, id string) (bson.D, bool) {
	oid, err := bson.ObjectIDFromHex(id)
	if err != nil {
		return nil, false
	}
	return bson.D{{Key: "_id", Value: oid}, {Key: "owner_id", Value: owner}}, true
}

// ownedFile reads one of owner's files by its _id alone and checks the
// owner in Go (mongox.FindByID): the filter FerretDB's SQLite backend
// answers without a scan. The updates and deletes that follow it filter
// by _id alone too, which is as safe as {_id, owner_id} on MongoDB: a
// file's owner never changes and ids are never reused.
func (s *Store) ownedFile(ctx context.Context, op, owner, id string) (fileDoc, error) {
	oid, err := bson.ObjectIDFromHex(id)
	if err != nil {
		return fileDoc{}, fmt.Errorf("%s %q: %w", op, id, files.ErrNotFound)
	}
	d, err := mongox.FindByID(ctx, s.coll, oid, func(d *fileDoc) bool { return d.OwnerID == owner })
	if err != nil {
		return fileDoc{}, fail(op, err)
	}
	return d, nil
}

// withPreview is the file of d with its preview, read from
// PreviewsCollection when d has one there.
func (s *Store) withPreview(ctx context.Context, op string, d fileDoc) (files.File, error) {
	f := fromDoc(d)
	if !d.HasPreview {
		return f, nil
	}
	rec, err := mongox.FindByID(ctx, s.previews, d.ID, func(r *previewRecord) bool { return r.OwnerID == d.OwnerID })
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		// Not expected (the preview is written before the file points to
		// it); a file without its preview is still the file.
		return f, nil
	case err != nil:
		return files.File{}, fail(op+": read preview", err)
	}
	if f.Preview, err = rec.preview(); err != nil {
		return files.File{}, err
	}
	return f, nil
}

// Insert stores a new file; a file gets its preview when processing
// finishes (FinishProcessing), never here.
func (s *Store) Insert(ctx context.Context, f files.File) (files.File, error) {
	d := toDoc(f)
	d.ID = bson.NewObjectID()
	if _, err := s.coll.InsertOne(ctx, d); err != nil {
		return files.File{}, fail("insert file", err)
	}
	return fromDoc(d), nil
}

func (s *Store) Get(ctx context.Context, owner, id string) (files.File, error) {
	d, err := s.ownedFile(ctx, "get file", owner, id)
	if err != nil {
		return files.File{}, err
	}
	return s.withPreview(ctx, "get file", d)
}

func (s *Store) GetByPath(ctx context.Context, owner, path string) (files.File, error) {
	return s.findOne(ctx, "get file by path", bson.D{{Key: "owner_id", Value: owner}, {Key: "file_path", Value: path}})
}

func (s *Store) findOne(ctx context.Context, op string, filter bson.D) (files.File, error) {
	var d fileDoc
	if err := s.coll.FindOne(ctx, filter).Decode(&d); err != nil {
		return files.File{}, fail(op, err)
	}
	return s.withPreview(ctx, op, d)
}

var newestFirst = bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}

// listed is how lists read documents: newest first, without the preview,
// which can be large and which only the single-file answers carry.
func listed(limit int) *options.FindOptionsBuilder {
	return options.Find().SetSort(newestFirst).SetLimit(int64(limit)).SetProjection(bson.D{{Key: "preview", Value: 0}})
}

// inPage narrows filter to the files after p.After in newestFirst order.
func inPage(op string, filter bson.D, p files.Page) (bson.D, error) {
	if p.After == nil {
		return filter, nil
	}
	oid, err := bson.ObjectIDFromHex(p.After.ID)
	if err != nil {
		return nil, fmt.Errorf("%s after %q: %w", op, p.After.ID, files.ErrInvalid)
	}
	at := p.After.CreatedAt
	older := bson.A{
		bson.D{{Key: "created_at", Value: bson.D{{Key: "$lt", Value: at}}}},
		bson.D{{Key: "created_at", Value: at}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: oid}}}},
	}
	return append(filter, bson.E{Key: "$or", Value: older}), nil
}

func (s *Store) List(ctx context.Context, owner string, p files.Page) ([]files.File, error) {
	filter, err := inPage("list files", bson.D{{Key: "owner_id", Value: owner}}, p)
	if err != nil {
		return nil, err
	}
	return s.find(ctx, "list files", filter, listed(p.Limit))
}

func (s *Store) Search(ctx context.Context, owner string, q files.SearchQuery) ([]files.File, error) {
	filter := bson.D{{Key: "owner_id", Value: owner}}
	if q.Name != "" {
		// Literal: every regex metacharacter in the user's text is escaped.
		filter = append(filter, bson.E{Key: "file_name", Value: bson.Regex{Pattern: regexp.QuoteMeta(q.Name), Options: "i"}})
	}
	if q.TypePrefix != "" {
		filter = append(filter, bson.E{Key: "file_type", Value: bson.Regex{Pattern: "^" + regexp.QuoteMeta(q.TypePrefix), Options: "i"}})
	}
	return s.find(ctx, "search files", filter, listed(q.Limit))
}

func (s *Store) ReadyOfTypes(ctx context.Context, owner string, types []string, p files.Page) ([]files.File, error) {
	filter, err := inPage("list convertible files", bson.D{
		{Key: "owner_id", Value: owner},
		{Key: "status", Value: string(files.StatusReady)},
		{Key: "detected_type", Value: bson.D{{Key: "$in", Value: types}}},
	}, p)
	if err != nil {
		return nil, err
	}
	return s.find(ctx, "list convertible files", filter, listed(p.Limit))
}

func (s *Store) find(ctx context.Context, op string, filter bson.D, opts *options.FindOptionsBuilder) ([]files.File, error) {
	cur, err := s.coll.Find(ctx, filter, opts)
	if err != nil {
		return nil, fail(op, err)
	}
	var docs []fileDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fail(op, err)
	}
	out := make([]files.File, len(docs))
	for i, d := range docs {
		out[i] = fromDoc(d)
	}
	return out, nil
}

func (s *Store) Rename(ctx context.Context, owner, id, name string, now time.Time) (files.File, error) {
	d, err := s.ownedFile(ctx, "rename file", owner, id)
	if err != nil {
		return files.File{}, err
	}
	update := bson.D{{Key: "$set", Value: bson.D{{Key: "file_name", Value: name}, {Key: "updated_at", Value: now}}}}
	return s.findOneAndUpdate(ctx, "rename file", bson.D{{Key: "_id", Value: d.ID}}, update)
}

func (s *Store) findOneAndUpdate(ctx context.Context, op string, filter, update bson.D) (files.File, error) {
	var d fileDoc
	err := s.coll.FindOneAndUpdate(ctx, filter, update, options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&d)
	if err != nil {
		return files.File{}, fail(op, err)
	}
	return s.withPreview(ctx, op, d)
}

func (s *Store) Delete(ctx context.Context, owner, id string) error {
	d, err := s.ownedFile(ctx, "delete file", owner, id)
	if err != nil {
		return err
	}
	byID := bson.D{{Key: "_id", Value: d.ID}}
	res, err := s.coll.DeleteOne(ctx, byID)
	if err != nil {
		return fail("delete file", err)
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("delete file %q: %w", id, files.ErrNotFound)
	}
	// After the file: a preview left by a failure here is unreachable
	// (and goes with the owner's erasure), a file without its preview is
	// not.
	if _, err := s.previews.DeleteOne(ctx, byID); err != nil {
		return fail("delete file's preview", err)
	}
	return nil
}

func (s *Store) DeleteOwner(ctx context.Context, owner string) (int64, error) {
	byOwner := bson.D{{Key: "owner_id", Value: owner}}
	res, err := s.coll.DeleteMany(ctx, byOwner)
	if err != nil {
		return 0, fail("delete owner's files", err)
	}
	if _, err := s.previews.DeleteMany(ctx, byOwner); err != nil {
		return 0, fail("delete owner's previews", err)
	}
	if _, err := s.reservations.DeleteMany(ctx, byOwner); err != nil {
		return 0, fail("delete owner's reservations", err)
	}
	if _, err := s.tickets.DeleteMany(ctx, byOwner); err != nil {
		return 0, fail("delete owner's quota tickets", err)
	}
	return res.DeletedCount, nil
}

// UsedBytes sums the owner's file sizes.
func (s *Store) UsedBytes(ctx context.Context, owner string) (int64, error) {
	return sumSizes(ctx, s.coll, owner, "file_size", "sum file sizes")
}

// sumSizes sums one field over the owner's documents, with one $sum in the
// $group: FerretDB answers 0 for any further accumulator of the same
// $group stage.
func sumSizes(ctx context.Context, coll *mongo.Collection, owner, field, op string) (int64, error) {
	pipeline := mongo.Pipeline{
		{{Key: "$match", Value: bson.D{{Key: "owner_id", Value: owner}}}},
		{{Key: "$group", Value: bson.D{{Key: "_id", Value: nil}, {Key: "total", Value: bson.D{{Key: "$sum", Value: "$" + field}}}}}},
	}
	cur, err := coll.Aggregate(ctx, pipeline)
	if err != nil {
		return 0, fail(op, err)
	}
	var rows []struct {
		Total int64 `bson:"total"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return 0, fail(op, err)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	return rows[0].Total, nil
}

func (s *Store) TypeSizes(ctx context.Context, owner string) ([]files.TypeSize, error) {
	opts := options.Find().SetProjection(bson.D{{Key: "file_type", Value: 1}, {Key: "file_size", Value: 1}})
	cur, err := s.coll.Find(ctx, bson.D{{Key: "owner_id", Value: owner}}, opts)
	if err != nil {
		return nil, fail("read file types", err)
	}
	var rows []struct {
		Type string `bson:"file_type"`
		Size int64  `bson:"file_size"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, fail("read file types", err)
	}
	out := make([]files.TypeSize, len(rows))
	for i, r := range rows {
		out[i] = files.TypeSize{Type: r.Type, Size: r.Size}
	}
	return out, nil
}

func (s *Store) Types(ctx context.Context, owner string) ([]string, error) {
	pipeline := mongo.Pipeline{
		{{Key: "$match", Value: bson.D{{Key: "owner_id", Value: owner}}}},
		{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$file_type"}}}},
	}
	cur, err := s.coll.Aggregate(ctx, pipeline)
	if err != nil {
		return nil, fail("distinct file types", err)
	}
	var rows []struct {
		ID any `bson:"_id"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, fail("distinct file types", err)
	}
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		if t, ok := r.ID.(string); ok {
			out = append(out, t)
		}
	}
	return out, nil
}

func (s *Store) StartProcessing(ctx context.Context, owner, id string, now time.Time) (files.File, bool, error) {
	filter, ok := byID(owner, id)
	if !ok {
		return files.File{}, false, fmt.Errorf("start processing %q: %w", id, files.ErrNotFound)
	}
	pending := append(filter, bson.E{Key: "status", Value: bson.D{{Key: "$in", Value: bson.A{
		string(files.StatusUploaded), string(files.StatusProcessing),
	}}}})
	update := bson.D{
		{Key: "$set", Value: bson.D{
			{Key: "status", Value: string(files.StatusProcessing)},
			{Key: "processing.started_at", Value: now},
			{Key: "updated_at", Value: now},
		}},
		{Key: "$inc", Value: bson.D{{Key: "processing.attempts", Value: 1}}},
	}
	f, err := s.findOneAndUpdate(ctx, "start processing", pending, update)
	if err == nil {
		return f, true, nil
	}
	if !errors.Is(err, files.ErrNotFound) {
		return files.File{}, false, err
	}
	// Not pending: finished already, or gone.
	f, err = s.findOne(ctx, "start processing", filter)
	return f, false, err
}

func (s *Store) FinishProcessing(ctx context.Context, owner, id string, o files.Outcome, now time.Time) (files.File, bool, error) {
	filter, ok := byID(owner, id)
	if !ok {
		return files.File{}, false, fmt.Errorf("finish processing %q: %w", id, files.ErrNotFound)
	}
	if o.Preview != nil {
		// The preview first, so a file never points to a preview that
		// is not there; it is dropped again below when the outcome is
		// not applied to a file that could show it.
		d, err := s.ownedFile(ctx, "finish processing", owner, id)
		if err != nil {
			return files.File{}, false, err
		}
		rec, err := toPreviewRecord(d.ID, owner, o.Preview)
		if err != nil {
			return files.File{}, false, fmt.Errorf("finish processing: %w", err)
		}
		if _, err := s.previews.ReplaceOne(ctx, bson.D{{Key: "_id", Value: d.ID}}, rec, options.Replace().SetUpsert(true)); err != nil {
			return files.File{}, false, fail("finish processing: store preview", err)
		}
	}
	from := bson.A{string(files.StatusProcessing)}
	if o.Status == files.StatusFailed {
		// Giving up may happen before any attempt got to start.
		from = append(from, string(files.StatusUploaded))
	}
	open := append(filter, bson.E{Key: "status", Value: bson.D{{Key: "$in", Value: from}}})
	set := bson.D{
		{Key: "status", Value: string(o.Status)},
		{Key: "processing.finished_at", Value: now},
		{Key: "processing.outcome_published", Value: false},
		{Key: "updated_at", Value: now},
	}
	for _, kv := range []struct{ key, value string }{
		{"category", o.Category}, {"detected_type", o.DetectedType}, {"sha256", o.SHA256}, {"error", o.Error},
	} {
		if kv.value != "" {
			set = append(set, bson.E{Key: kv.key, Value: kv.value})
		}
	}
	if o.Preview != nil {
		set = append(set, bson.E{Key: "has_preview", Value: true})
	}
	f, err := s.findOneAndUpdate(ctx, "finish processing", open, bson.D{{Key: "$set", Value: set}})
	if err == nil {
		return f, true, nil
	}
	if !errors.Is(err, files.ErrNotFound) {
		return files.File{}, false, err
	}
	var d fileDoc
	err = s.coll.FindOne(ctx, filter).Decode(&d)
	if o.Preview != nil && (errors.Is(err, mongo.ErrNoDocuments) || err == nil && !d.HasPreview) {
		// Finished without a preview, or gone: the one written above
		// belongs to nothing. (A file finished with one keeps it: both
		// came from the same committed object.)
		if _, derr := s.previews.DeleteOne(ctx, bson.D{{Key: "_id", Value: filter[0].Value}}); derr != nil {
			return files.File{}, false, fail("finish processing: drop preview", derr)
		}
	}
	if err != nil {
		return files.File{}, false, fail("finish processing", err)
	}
	f, err = s.withPreview(ctx, "finish processing", d)
	return f, false, err
}

func (s *Store) MarkOutcomePublished(ctx context.Context, owner, id string) error {
	d, err := s.ownedFile(ctx, "mark outcome published", owner, id)
	if err != nil {
		return err
	}
	res, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: d.ID}}, bson.D{{Key: "$set", Value: bson.D{{Key: "processing.outcome_published", Value: true}}}})
	if err != nil {
		return fail("mark outcome published", err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("mark outcome published %q: %w", id, files.ErrNotFound)
	}
	return nil
}

var _ files.Store = (*Store)(nil)
