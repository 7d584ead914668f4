package mongox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Index describes one index a store needs at startup.
type Index struct {
	Collection string
	Keys       bson.D
	// Name is the index name; empty lets the server derive one from Keys.
	// Give TTL indexes a name so reports can say which one fell back.
	Name   string
	Unique bool
	// Sparse leaves documents without the (single) key field out of the
	// index, so a unique index holds only among documents that have it.
	// FerretDB v1 leaves them out of every index anyway.
	Sparse bool
	// ExpireAfter makes a TTL index (rounded up to whole seconds); zero means
	// no expiry.
	ExpireAfter time.Duration
}

// EnsureReport says what EnsureIndexes could not do as asked.
type EnsureReport struct {
	// TTLUnsupported names ("collection.index") the TTL indexes the server
	// refused; each was created as a plain index instead and the caller must
	// delete expired documents itself.
	TTLUnsupported []string
}

// NeedsSweep reports whether any TTL index fell back to a plain index.
func (r EnsureReport) NeedsSweep() bool { return len(r.TTLUnsupported) > 0 }

// EnsureIndexes creates every index in idx. It is idempotent: an index that
// already exists with the same keys and options is left alone. When the
// server refuses the TTL option (FerretDB v1 has no TTL indexes) the index is
// created without it, listed in the report, and one warning is logged for
// the whole call. Every other failure is returned, naming the index.
func EnsureIndexes(ctx context.Context, db *mongo.Database, idx []Index, log *slog.Logger) (EnsureReport, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var report EnsureReport
	for _, ix := range idx {
		if ix.Collection == "" || len(ix.Keys) == 0 {
			return report, fmt.Errorf("mongox: index %q needs a collection and keys", ix.Name)
		}
		label := ix.Collection + "." + indexLabel(ix)
		views := db.Collection(ix.Collection).Indexes()

		_, err := views.CreateOne(ctx, indexModel(ix, true))
		if err != nil && ix.ExpireAfter > 0 && isTTLRefused(err) {
			_, err = views.CreateOne(ctx, indexModel(ix, false))
			if err == nil {
				report.TTLUnsupported = append(report.TTLUnsupported, label)
			}
		}
		if err != nil {
			return report, fmt.Errorf("mongox: create index %s: %w", label, err)
		}
	}
	if report.NeedsSweep() {
		log.LogAttrs(ctx, slog.LevelWarn,
			"mongodb server does not support TTL indexes; created plain indexes, the caller must sweep expired documents",
			slog.String("indexes", strings.Join(report.TTLUnsupported, ",")))
	}
	return report, nil
}

func indexModel(ix Index, withTTL bool) mongo.IndexModel {
	o := options.Index()
	if ix.Name != "" {
		o.SetName(ix.Name)
	}
	if ix.Unique {
		o.SetUnique(true)
	}
	if ix.Sparse {
		o.SetSparse(true)
	}
	if withTTL && ix.ExpireAfter > 0 {
		o.SetExpireAfterSeconds(ttlSeconds(ix.ExpireAfter))
	}
	return mongo.IndexModel{Keys: ix.Keys, Options: o}
}

// ttlSeconds rounds up so a sub-second TTL still expires rather than being
// sent as 0 (which MongoDB reads as "expire at the date in the field").
func ttlSeconds(d time.Duration) int32 {
	s := math.Ceil(d.Seconds())
	if s > math.MaxInt32 {
		return math.MaxInt32
	}
	return int32(s)
}

func indexLabel(ix Index) string {
	if ix.Name != "" {
		return ix.Name
	}
	parts := make([]string, 0, len(ix.Keys))
	for _, e := range ix.Keys {
		parts = append(parts, fmt.Sprintf("%s_%v", e.Key, e.Value))
	}
	return strings.Join(parts, "_")
}

// isTTLRefused recognises a server that cannot build TTL indexes. FerretDB
// v1.24.2 answers NotImplemented (238) naming the "expireAfterSeconds"
// index option as unsupported; other MongoDB-compatible
// servers use CommandNotSupported (115) or InvalidIndexSpecificationOption
// (197) naming the option.
func isTTLRefused(err error) bool {
	var se mongo.ServerError
	if !errors.As(err, &se) {
		return false
	}
	if se.HasErrorMessage("expireAfterSeconds") {
		return true
	}
	return se.HasErrorCode(238) || se.HasErrorCode(115)
}
