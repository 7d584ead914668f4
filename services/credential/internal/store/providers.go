package store

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nonefinity/backend/pkg/mongox"
	"github.com/nonefinity/backend/services/credential/internal/credential"
)

// providerDoc is a providers document: the Python service's fields plus the
// validation probe and static headers from the providers file.
type providerDoc struct {
	ID           bson.ObjectID     `bson:"_id,omitempty"`
	ProviderName string            `bson:"provider_name"`
	Name         string            `bson:"name"`
	BaseURL      string            `bson:"base_url"`
	APIKeyHeader string            `bson:"api_key_header"`
	APIKeyPrefix string            `bson:"api_key_prefix"`
	IsActive     bool              `bson:"is_active"`
	CreatedAt    time.Time         `bson:"created_at"`
	UpdatedAt    time.Time         `bson:"updated_at"`
	RequiresKey  *bool             `bson:"requires_key,omitempty"`
	Headers      map[string]string `bson:"headers,omitempty"`
	Validation   *probeDoc         `bson:"validation,omitempty"`
}

type probeDoc struct {
	Method       string `bson:"method"`
	Path         string `bson:"path"`
	ExpectStatus []int  `bson:"expect_status,omitempty"`
	ModelsField  string `bson:"models_field,omitempty"`
}

// defaultProbe is the probe of a provider document written before probes
// were stored: the OpenAI-style model list.
var defaultProbe = credential.Probe{Method: "GET", Path: "/models", ExpectStatus: []int{200}, ModelsField: "data[].id"}

func (d providerDoc) toCore() credential.Provider {
	p := credential.Provider{
		ID: d.ID.Hex(), Name: d.ProviderName, DisplayName: d.Name, BaseURL: d.BaseURL,
		APIKeyHeader: d.APIKeyHeader, APIKeyPrefix: d.APIKeyPrefix, RequiresKey: true,
		Headers: d.Headers, IsActive: d.IsActive, Probe: defaultProbe,
		CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(),
	}
	if d.RequiresKey != nil {
		p.RequiresKey = *d.RequiresKey
	}
	if d.Validation != nil {
		p.Probe = credential.Probe{Method: d.Validation.Method, Path: d.Validation.Path, ExpectStatus: d.Validation.ExpectStatus, ModelsField: d.Validation.ModelsField}
	}
	return p
}

// UpsertProviders writes each provider by provider_name; created_at is set
// only on insert.
func (s *Store) UpsertProviders(ctx context.Context, ps []credential.Provider, now time.Time) (int, error) {
	n := 0
	for _, p := range ps {
		requires := p.RequiresKey
		set := bson.M{
			"name": p.DisplayName, "base_url": p.BaseURL, "api_key_header": p.APIKeyHeader,
			"api_key_prefix": p.APIKeyPrefix, "is_active": p.IsActive, "updated_at": now,
			"requires_key": &requires, "headers": p.Headers,
			"validation": probeDoc{Method: p.Probe.Method, Path: p.Probe.Path, ExpectStatus: p.Probe.ExpectStatus, ModelsField: p.Probe.ModelsField},
		}
		upsert := func() error {
			_, err := s.providers.UpdateOne(ctx, bson.M{"provider_name": p.Name},
				bson.M{"$set": set, "$setOnInsert": bson.M{"created_at": now}},
				options.UpdateOne().SetUpsert(true))
			return err
		}
		err := upsert()
		if mongox.IsDuplicateKey(err) {
			// Two instances inserted the same new provider at once and the
			// unique index refused the second insert; run again, it now
			// finds the document and updates it.
			err = upsert()
		}
		if err != nil {
			return n, dbErr("upsert provider "+p.Name, err)
		}
		n++
	}
	return n, nil
}

// ListProviders returns the providers by name.
func (s *Store) ListProviders(ctx context.Context, activeOnly bool) ([]credential.Provider, error) {
	filter := bson.M{}
	if activeOnly {
		filter["is_active"] = true
	}
	cur, err := s.providers.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "provider_name", Value: 1}}))
	if err != nil {
		return nil, dbErr("list providers", err)
	}
	var docs []providerDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, dbErr("read providers", err)
	}
	out := make([]credential.Provider, len(docs))
	for i, d := range docs {
		out[i] = d.toCore()
	}
	return out, nil
}
