// Package store keeps datasets in the MongoDB collection "datasets", with
// the Python service's field names (owner_id, data_schema, row_count…).
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nonefinity/backend/pkg/mongox"
	"github.com/nonefinity/backend/services/datasetquery/internal/datasets"
)

// Collection is the datasets collection.
const Collection = "datasets"

// SchemasCollection keeps each dataset's columns apart from the dataset,
// under the dataset's _id.
//
// Why apart: FerretDB's SQLite backend (the embedded store) answers every
// filter but an exact {_id} by decoding every document of the collection,
// and a wide dataset's schema is thousands of strings. Inline, every
// owner-filtered read or conditional update of "datasets" (a name check,
// the pending count, the query catalog, a conversion's attempt) decoded
// every user's schemas; apart, a schema is read by its _id. On MongoDB it
// costs one more read by _id per dataset returned (one $in per list page).
const SchemasCollection = "dataset_schemas"

// schemaRecord is a document of SchemasCollection: the columns of the
// dataset with the same _id, and its owner for erasure.
//
// The columns are one binary value (the BSON of a columnsDoc), which only
// this store reads: FerretDB's SQLite backend finds even an {_id} by
// parsing the JSON of every row (its query's _id expression differs from
// its index's, so SQLite scans), and then decodes what it returns value by
// value. A binary is one JSON string to skip and one base64 to decode
// where 4,000 columns were 8,000 strings.
type schemaRecord struct {
	ID      bson.ObjectID `bson:"_id"`
	OwnerID string        `bson:"owner_id"`
	Columns []byte        `bson:"columns"`
}

type columnsDoc struct {
	Columns []columnDoc `bson:"columns"`
}

func toSchemaRecord(oid bson.ObjectID, ownerID string, cols []datasets.Column) (schemaRecord, error) {
	b, err := bson.Marshal(columnsDoc{Columns: toColumnDocs(cols)})
	return schemaRecord{ID: oid, OwnerID: ownerID, Columns: b}, err
}

func (r schemaRecord) columns() ([]columnDoc, error) {
	var d columnsDoc
	if err := bson.Unmarshal(r.Columns, &d); err != nil {
		return nil, fmt.Errorf("dataset %s: read columns: %w", r.ID.Hex(), err)
	}
	return d.Columns, nil
}

type columnDoc struct {
	ColumnName string `bson:"column_name"`
	ColumnType string `bson:"column_type"`
	Desc       string `bson:"desc,omitempty"`
}

type partDoc struct {
	Key  string `bson:"key"`
	ETag string `bson:"etag"`
	Size int64  `bson:"size"`
}

type datasetDoc struct {
	ID          bson.ObjectID `bson:"_id,omitempty"`
	Name        string        `bson:"name"`
	Description string        `bson:"description"`
	OwnerID     string        `bson:"owner_id"`
	// DataSchema is read from documents written before schemas moved to
	// SchemasCollection (the Python service's); nothing writes it now.
	DataSchema []columnDoc `bson:"data_schema,omitempty"`
	// HasSchema says SchemasCollection holds the dataset's columns.
	HasSchema    bool         `bson:"has_schema,omitempty"`
	RowCount     int64        `bson:"row_count"`
	Status       string       `bson:"status"`
	Error        string       `bson:"error,omitempty"`
	FileID       string       `bson:"file_id,omitempty"`
	Parts        []partDoc    `bson:"parts,omitempty"`
	RowsRead     *int64       `bson:"rows_read,omitempty"`
	RowsRejected *int64       `bson:"rows_rejected,omitempty"`
	Warnings     []warningDoc `bson:"warnings,omitempty"`
	Source       *sourceDoc   `bson:"source,omitempty"`
	Rejects      *partDoc     `bson:"rejects,omitempty"`
	// Attempts counts the conversion runs started (a crash or outage
	// retries one).
	Attempts int `bson:"attempts,omitempty"`
	// IdempotencyKey is the converting request's key prefixed with the
	// owner ("<owner_id>/<key>"): one field, so that a sparse unique index
	// makes keys unique per owner while datasets without one stay out of
	// it (a compound sparse index would still hold every dataset).
	IdempotencyKey     string    `bson:"idempotency_key,omitempty"`
	RequestFingerprint string    `bson:"request_fingerprint,omitempty"`
	CreatedAt          time.Time `bson:"created_at"`
	UpdatedAt          time.Time `bson:"updated_at"`
}

type warningDoc struct {
	Code    string  `bson:"code"`
	Message string  `bson:"message"`
	Count   int64   `bson:"count,omitempty"`
	Lines   []int64 `bson:"lines,omitempty"`
	Column  string  `bson:"column,omitempty"`
}

type sourceDoc struct {
	FileID    string       `bson:"file_id,omitempty"`
	Format    string       `bson:"format"`
	Encoding  string       `bson:"encoding,omitempty"`
	Delimiter string       `bson:"delimiter,omitempty"`
	Quote     string       `bson:"quote"`
	Header    bool         `bson:"header"`
	SkipRows  int          `bson:"skip_rows"`
	Preamble  []string     `bson:"preamble,omitempty"`
	Sheet     string       `bson:"sheet,omitempty"`
	HeaderRow int          `bson:"header_row,omitempty"`
	Columns   []readingDoc `bson:"columns,omitempty"`
}

type readingDoc struct {
	Column           string   `bson:"column"`
	NullTokens       []string `bson:"null_tokens,omitempty"`
	DecimalSeparator string   `bson:"decimal_separator,omitempty"`
	Exact            bool     `bson:"exact,omitempty"`
	Duration         bool     `bson:"duration,omitempty"`
}

// Store implements datasets.Store.
type Store struct {
	coll    *mongo.Collection
	schemas *mongo.Collection
	now     func() time.Time
}

// New returns a store over db. Call EnsureIndexes once at startup.
func New(db *mongo.Database) *Store {
	return &Store{coll: db.Collection(Collection), schemas: db.Collection(SchemasCollection), now: time.Now}
}

// Indexes are the collection's indexes: names unique per owner, and the
// owner's listing order.
func Indexes() []mongox.Index {
	return []mongox.Index{
		{Collection: Collection, Keys: bson.D{{Key: "owner_id", Value: 1}, {Key: "name", Value: 1}}, Unique: true, Name: "owner_name_unique"},
		{Collection: Collection, Keys: bson.D{{Key: "owner_id", Value: 1}, {Key: "created_at", Value: -1}}, Name: "owner_created"},
		{Collection: Collection, Keys: bson.D{{Key: "idempotency_key", Value: 1}}, Unique: true, Sparse: true, Name: "idempotency_key_unique"},
	}
}

// idempotencyKey is the stored form of an owner's key.
func idempotencyKey(ownerID, key string) string {
	if key == "" {
		return ""
	}
	return ownerID + "/" + key
}

// EnsureIndexes creates the indexes.
func (s *Store) EnsureIndexes(ctx context.Context, log *slog.Logger) error {
	_, err := mongox.EnsureIndexes(ctx, s.coll.Database(), Indexes(), log)
	return err
}

// byID is the filter FerretDB's SQLite backend answers without a scan.
func byID(oid bson.ObjectID) bson.D { return bson.D{{Key: "_id", Value: oid}} }

// owned reads one of the owner's datasets by its _id alone and checks the
// owner in Go (mongox.FindByID). The updates and deletes that follow it
// filter by _id alone too, which is as safe as {_id, owner_id} on
// MongoDB: a dataset's owner never changes and ids are never reused.
func (s *Store) owned(ctx context.Context, ownerID, id string) (datasetDoc, error) {
	oid, err := bson.ObjectIDFromHex(id)
	if err != nil {
		return datasetDoc{}, datasets.ErrNotFound
	}
	doc, err := mongox.FindByID(ctx, s.coll, oid, func(d *datasetDoc) bool { return d.OwnerID == ownerID })
	if err != nil {
		return datasetDoc{}, mapErr(err)
	}
	return doc, nil
}

// putSchema stores a dataset's columns in SchemasCollection.
func (s *Store) putSchema(ctx context.Context, oid bson.ObjectID, ownerID string, cols []datasets.Column) error {
	rec, err := toSchemaRecord(oid, ownerID, cols)
	if err != nil {
		return err
	}
	_, err = s.schemas.ReplaceOne(ctx, byID(oid), rec, options.Replace().SetUpsert(true))
	return mapErr(err)
}

// dropSchema deletes a dataset's columns from SchemasCollection; an error
// leaves a record nothing reads (the owner's erasure still removes it).
func (s *Store) dropSchema(ctx context.Context, oid bson.ObjectID) {
	s.schemas.DeleteOne(context.WithoutCancel(ctx), byID(oid))
}

// withSchema is the dataset of doc with its columns.
func (s *Store) withSchema(ctx context.Context, doc datasetDoc) (datasets.Dataset, error) {
	if !doc.HasSchema {
		return fromDoc(doc, doc.DataSchema), nil
	}
	rec, err := mongox.FindByID(ctx, s.schemas, doc.ID, func(r *schemaRecord) bool { return r.OwnerID == doc.OwnerID })
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return datasets.Dataset{}, mapErr(err)
	}
	if err != nil {
		// A record missing (not expected: it is written before the
		// dataset points to it) leaves the dataset without columns.
		return fromDoc(doc, nil), nil
	}
	cols, err := rec.columns()
	if err != nil {
		return datasets.Dataset{}, err
	}
	return fromDoc(doc, cols), nil
}

// Insert stores a new dataset and returns it with its id.
func (s *Store) Insert(ctx context.Context, d datasets.Dataset) (datasets.Dataset, error) {
	doc := toDoc(d)
	doc.ID = bson.NewObjectID()
	if len(d.Schema) > 0 {
		// The columns first, so a dataset never points to a record that
		// is not there.
		if err := s.putSchema(ctx, doc.ID, d.OwnerID, d.Schema); err != nil {
			return datasets.Dataset{}, err
		}
		doc.HasSchema = true
	}
	if _, err := s.coll.InsertOne(ctx, doc); err != nil {
		if doc.HasSchema {
			s.dropSchema(ctx, doc.ID)
		}
		return datasets.Dataset{}, mapErr(err)
	}
	return fromDoc(doc, toColumnDocs(d.Schema)), nil
}

// List returns a page of the owner's datasets, newest first, and the total.
func (s *Store) List(ctx context.Context, ownerID string, skip, limit int) ([]datasets.Dataset, int, error) {
	filter := bson.M{"owner_id": ownerID}
	total, err := s.coll.CountDocuments(ctx, filter)
	if err != nil {
		return nil, 0, mapErr(err)
	}
	cur, err := s.coll.Find(ctx, filter, options.Find().
		SetSort(bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}).
		SetSkip(int64(skip)).SetLimit(int64(limit)))
	if err != nil {
		return nil, 0, mapErr(err)
	}
	var docs []datasetDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, 0, mapErr(err)
	}
	cols, err := s.schemasOf(ctx, ownerID, docs)
	if err != nil {
		return nil, 0, err
	}
	out := make([]datasets.Dataset, len(docs))
	for i, d := range docs {
		if d.HasSchema {
			out[i] = fromDoc(d, cols[d.ID])
		} else {
			out[i] = fromDoc(d, d.DataSchema)
		}
	}
	return out, int(total), nil
}

// schemasOf reads the columns of a page of datasets in one query.
func (s *Store) schemasOf(ctx context.Context, ownerID string, docs []datasetDoc) (map[bson.ObjectID][]columnDoc, error) {
	var ids bson.A
	for _, d := range docs {
		if d.HasSchema {
			ids = append(ids, d.ID)
		}
	}
	out := map[bson.ObjectID][]columnDoc{}
	if len(ids) == 0 {
		return out, nil
	}
	cur, err := s.schemas.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}, {Key: "owner_id", Value: ownerID}})
	if err != nil {
		return nil, mapErr(err)
	}
	var recs []schemaRecord
	if err := cur.All(ctx, &recs); err != nil {
		return nil, mapErr(err)
	}
	for _, r := range recs {
		if out[r.ID], err = r.columns(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Get returns one of the owner's datasets.
func (s *Store) Get(ctx context.Context, ownerID, id string) (datasets.Dataset, error) {
	doc, err := s.owned(ctx, ownerID, id)
	if err != nil {
		return datasets.Dataset{}, err
	}
	return s.withSchema(ctx, doc)
}

// GetByName returns the owner's dataset of that name.
func (s *Store) GetByName(ctx context.Context, ownerID, name string) (datasets.Dataset, error) {
	var doc datasetDoc
	if err := s.coll.FindOne(ctx, bson.M{"owner_id": ownerID, "name": name}).Decode(&doc); err != nil {
		return datasets.Dataset{}, mapErr(err)
	}
	return s.withSchema(ctx, doc)
}

// GetByIdempotencyKey returns the owner's dataset made by the request with
// that key.
func (s *Store) GetByIdempotencyKey(ctx context.Context, ownerID, key string) (datasets.Dataset, error) {
	if key == "" {
		return datasets.Dataset{}, datasets.ErrNotFound
	}
	var doc datasetDoc
	filter := bson.M{"owner_id": ownerID, "idempotency_key": idempotencyKey(ownerID, key)}
	if err := s.coll.FindOne(ctx, filter).Decode(&doc); err != nil {
		return datasets.Dataset{}, mapErr(err)
	}
	return s.withSchema(ctx, doc)
}

// Update sets the changed fields and returns the dataset after the update.
func (s *Store) Update(ctx context.Context, ownerID, id string, c datasets.Changes) (datasets.Dataset, error) {
	cur, err := s.owned(ctx, ownerID, id)
	if err != nil {
		return datasets.Dataset{}, err
	}
	set := bson.M{"updated_at": s.now().UTC().Truncate(time.Millisecond)}
	if c.Name != nil {
		set["name"] = *c.Name
	}
	if c.Description != nil {
		set["description"] = *c.Description
	}
	if c.Schema != nil {
		if err := s.putSchema(ctx, cur.ID, ownerID, c.Schema); err != nil {
			return datasets.Dataset{}, err
		}
		set["has_schema"] = true
	}
	if c.Status != nil {
		set["status"] = string(*c.Status)
	}
	if c.Error != nil {
		set["error"] = *c.Error
	}
	if c.RowCount != nil {
		set["row_count"] = *c.RowCount
	}
	if c.Parts != nil {
		set["parts"] = toPartDocs(c.Parts)
	}
	update := bson.M{}
	if c.Report != nil {
		r := toReportDoc(*c.Report)
		set["rows_read"], set["rows_rejected"], set["source"] = r.RowsRead, r.RowsRejected, r.Source
		if len(r.Warnings) > 0 {
			set["warnings"] = r.Warnings
		}
	}
	if c.Rejects != nil {
		set["rejects"] = partDoc{Key: c.Rejects.Key, ETag: c.Rejects.ETag, Size: c.Rejects.Size}
	}
	// A re-run's report replaces the last one whole: what it does not
	// set goes.
	unset := bson.M{}
	if c.ClearReport || c.Report != nil {
		for _, f := range []string{"rows_read", "rows_rejected", "warnings", "source", "rejects"} {
			if _, ok := set[f]; !ok {
				unset[f] = ""
			}
		}
	}
	if c.Schema != nil && cur.DataSchema != nil {
		unset["data_schema"] = "" // a document from before SchemasCollection
	}
	update["$set"] = set
	if len(unset) > 0 {
		update["$unset"] = unset
	}
	var doc datasetDoc
	err = s.coll.FindOneAndUpdate(ctx, byID(cur.ID), update,
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&doc)
	if err != nil {
		if c.Schema != nil && errors.Is(err, mongo.ErrNoDocuments) {
			s.dropSchema(ctx, cur.ID) // deleted meanwhile
		}
		return datasets.Dataset{}, mapErr(err)
	}
	return s.withSchema(ctx, doc)
}

// Delete removes one of the owner's datasets and returns what it was.
func (s *Store) Delete(ctx context.Context, ownerID, id string) (datasets.Dataset, error) {
	cur, err := s.owned(ctx, ownerID, id)
	if err != nil {
		return datasets.Dataset{}, err
	}
	d, err := s.withSchema(ctx, cur)
	if err != nil {
		return datasets.Dataset{}, err
	}
	var doc datasetDoc
	if err := s.coll.FindOneAndDelete(ctx, byID(cur.ID)).Decode(&doc); err != nil {
		return datasets.Dataset{}, mapErr(err)
	}
	// After the dataset: a record left by a failure here is unreachable
	// (and goes with the owner's erasure).
	if doc.HasSchema {
		if _, err := s.schemas.DeleteOne(ctx, byID(cur.ID)); err != nil {
			return datasets.Dataset{}, mapErr(err)
		}
	}
	return fromDoc(doc, toColumnDocs(d.Schema)), nil
}

// CountProcessing counts the owner's datasets being converted.
func (s *Store) CountProcessing(ctx context.Context, ownerID string) (int, error) {
	n, err := s.coll.CountDocuments(ctx, bson.M{"owner_id": ownerID, "status": string(datasets.StatusProcessing)})
	if err != nil {
		return 0, mapErr(err)
	}
	return int(n), nil
}

// AddAttempt counts one more conversion run of a processing dataset and
// returns the count; a dataset that is gone or no longer processing is
// ErrNotFound.
func (s *Store) AddAttempt(ctx context.Context, ownerID, id string) (int, error) {
	oid, err := bson.ObjectIDFromHex(id)
	if err != nil {
		return 0, datasets.ErrNotFound
	}
	var doc struct {
		Attempts int `bson:"attempts"`
	}
	err = s.coll.FindOneAndUpdate(ctx,
		bson.M{"_id": oid, "owner_id": ownerID, "status": string(datasets.StatusProcessing)},
		bson.M{"$inc": bson.M{"attempts": 1}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&doc)
	if err != nil {
		return 0, mapErr(err)
	}
	return doc.Attempts, nil
}

// DeleteOwner removes every dataset of the owner.
func (s *Store) DeleteOwner(ctx context.Context, ownerID string) (int, error) {
	res, err := s.coll.DeleteMany(ctx, bson.M{"owner_id": ownerID})
	if err != nil {
		return 0, mapErr(err)
	}
	if _, err := s.schemas.DeleteMany(ctx, bson.M{"owner_id": ownerID}); err != nil {
		return 0, mapErr(err)
	}
	return int(res.DeletedCount), nil
}

// ReadyTables lists the owner's ready datasets with their Parquet parts,
// for the query sessions (duck.Catalog).
func (s *Store) ReadyTables(ctx context.Context, ownerID string) ([]datasets.Table, error) {
	cur, err := s.coll.Find(ctx, bson.M{"owner_id": ownerID, "status": string(datasets.StatusReady)},
		options.Find().SetProjection(bson.M{"name": 1, "parts": 1}))
	if err != nil {
		return nil, mapErr(err)
	}
	var docs []datasetDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, mapErr(err)
	}
	out := make([]datasets.Table, len(docs))
	for i, d := range docs {
		out[i] = datasets.Table{Name: d.Name, DatasetID: d.ID.Hex(), Parts: fromPartDocs(d.Parts)}
	}
	return out, nil
}

// coreErrors are the core's sentinels for the driver errors it tells apart.
var coreErrors = mongox.CoreErrors{NotFound: datasets.ErrNotFound, Duplicate: datasets.ErrDuplicateName, Unavailable: datasets.ErrDatabaseUnavailable}

// mapErr gives a driver error the core's sentinel (see coreErrors).
func mapErr(err error) error { return coreErrors.Map(err) }

// toDoc is the dataset's document without its columns (see
// SchemasCollection).
func toDoc(d datasets.Dataset) datasetDoc {
	doc := datasetDoc{
		Name: d.Name, Description: d.Description, OwnerID: d.OwnerID,
		RowCount: d.RowCount, Status: string(d.Status), Error: d.Error, FileID: d.FileID, Parts: toPartDocs(d.Parts),
		IdempotencyKey: idempotencyKey(d.OwnerID, d.IdempotencyKey), RequestFingerprint: d.RequestFingerprint,
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
	}
	if d.ID != "" {
		doc.ID, _ = bson.ObjectIDFromHex(d.ID)
	}
	return doc
}

// fromDoc is the dataset of doc with the columns cols.
func fromDoc(doc datasetDoc, cols []columnDoc) datasets.Dataset {
	schema := make([]datasets.Column, len(cols))
	for i, c := range cols {
		schema[i] = datasets.Column{Name: c.ColumnName, Type: c.ColumnType, Desc: c.Desc}
	}
	d := datasets.Dataset{
		ID: doc.ID.Hex(), OwnerID: doc.OwnerID, Name: doc.Name, Description: doc.Description, Schema: schema,
		RowCount: doc.RowCount, Status: statusOf(doc), Error: doc.Error, FileID: doc.FileID,
		Parts:          fromPartDocs(doc.Parts),
		IdempotencyKey: strings.TrimPrefix(doc.IdempotencyKey, doc.OwnerID+"/"), RequestFingerprint: doc.RequestFingerprint,
		CreatedAt: doc.CreatedAt.UTC(), UpdatedAt: doc.UpdatedAt.UTC(),
	}
	if doc.RowsRead != nil || doc.Source != nil {
		d.Report = fromReportDoc(doc)
	}
	if doc.Rejects != nil {
		d.Rejects = &datasets.Part{Key: doc.Rejects.Key, ETag: doc.Rejects.ETag, Size: doc.Rejects.Size}
	}
	return d
}

// statusOf reads a document's status. The Python service wrote no status:
// a dataset existed once its table did, so a document without one is ready.
func statusOf(doc datasetDoc) datasets.Status {
	if doc.Status == "" {
		return datasets.StatusReady
	}
	return datasets.Status(doc.Status)
}

// reportDoc is a Report as the document's top-level fields.
type reportDoc struct {
	RowsRead, RowsRejected int64
	Warnings               []warningDoc
	Source                 sourceDoc
}

func toReportDoc(r datasets.Report) reportDoc {
	out := reportDoc{RowsRead: r.RowsRead, RowsRejected: r.RowsRejected}
	for _, w := range r.Warnings {
		out.Warnings = append(out.Warnings, warningDoc{Code: w.Code, Message: w.Message, Count: w.Count, Lines: w.Lines, Column: w.Column})
	}
	s := r.Source
	out.Source = sourceDoc{FileID: s.FileID, Format: s.Format, Encoding: s.Encoding, Delimiter: s.Delimiter, Quote: s.Quote,
		Header: s.Header, SkipRows: s.SkipRows, Preamble: s.Preamble, Sheet: s.Sheet, HeaderRow: s.HeaderRow}
	for _, c := range s.Columns {
		out.Source.Columns = append(out.Source.Columns, readingDoc{Column: c.Column, NullTokens: c.NullTokens,
			DecimalSeparator: c.DecimalSeparator, Exact: c.Exact, Duration: c.Duration})
	}
	return out
}

func fromReportDoc(doc datasetDoc) *datasets.Report {
	r := &datasets.Report{}
	if doc.RowsRead != nil {
		r.RowsRead = *doc.RowsRead
	}
	if doc.RowsRejected != nil {
		r.RowsRejected = *doc.RowsRejected
	}
	for _, w := range doc.Warnings {
		r.Warnings = append(r.Warnings, datasets.Warning{Code: w.Code, Message: w.Message, Count: w.Count, Lines: w.Lines, Column: w.Column})
	}
	if s := doc.Source; s != nil {
		r.Source = datasets.Source{FileID: s.FileID, Format: s.Format, Encoding: s.Encoding, Delimiter: s.Delimiter, Quote: s.Quote,
			Header: s.Header, SkipRows: s.SkipRows, Preamble: s.Preamble, Sheet: s.Sheet, HeaderRow: s.HeaderRow}
		for _, c := range s.Columns {
			r.Source.Columns = append(r.Source.Columns, datasets.ColumnReading{Column: c.Column, NullTokens: c.NullTokens,
				DecimalSeparator: c.DecimalSeparator, Exact: c.Exact, Duration: c.Duration})
		}
	}
	return r
}

func toColumnDocs(cols []datasets.Column) []columnDoc {
	out := make([]columnDoc, len(cols))
	for i, c := range cols {
		out[i] = columnDoc{ColumnName: c.Name, ColumnType: c.Type, Desc: c.Desc}
	}
	return out
}

func toPartDocs(parts []datasets.Part) []partDoc {
	if parts == nil {
		return nil
	}
	out := make([]partDoc, len(parts))
	for i, p := range parts {
		out[i] = partDoc{Key: p.Key, ETag: p.ETag, Size: p.Size}
	}
	return out
}

func fromPartDocs(parts []partDoc) []datasets.Part {
	out := make([]datasets.Part, len(parts))
	for i, p := range parts {
		out[i] = datasets.Part{Key: p.Key, ETag: p.ETag, Size: p.Size}
	}
	return out
}

// AppendPart adds a part and its rows to a dataset that still has
// expectParts parts, in one update, so a concurrent insert cannot lose
// either's rows; otherwise datasets.ErrConcurrentChange (or ErrNotFound).
func (s *Store) AppendPart(ctx context.Context, ownerID, id string, expectParts int, p datasets.Part, rows int64) (datasets.Dataset, error) {
	oid, err := bson.ObjectIDFromHex(id)
	if err != nil {
		return datasets.Dataset{}, datasets.ErrNotFound
	}
	filter := bson.M{"_id": oid, "owner_id": ownerID, "parts": bson.M{"$size": expectParts}}
	update := bson.M{
		"$push": bson.M{"parts": partDoc{Key: p.Key, ETag: p.ETag, Size: p.Size}},
		"$inc":  bson.M{"row_count": rows},
		"$set":  bson.M{"updated_at": s.now().UTC().Truncate(time.Millisecond)},
	}
	var doc datasetDoc
	err = s.coll.FindOneAndUpdate(ctx, filter, update, options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		if _, gerr := s.Get(ctx, ownerID, id); gerr != nil {
			return datasets.Dataset{}, gerr
		}
		return datasets.Dataset{}, datasets.ErrConcurrentChange
	}
	if err != nil {
		return datasets.Dataset{}, mapErr(err)
	}
	return s.withSchema(ctx, doc)
}
