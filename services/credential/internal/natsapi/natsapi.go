// Package natsapi serves the credential service's operations
// (svc.credential.v1.<op>) as micro endpoints. Each handler decodes the
// contract type, converts it, calls the core, maps the core's errors in one
// place (mapError) and converts the reply back.
package natsapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nonefinity/backend/contracts"
	cv1 "github.com/nonefinity/backend/contracts/credentialv1"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/fielderr"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/pkg/reqctx"
	"github.com/nonefinity/backend/services/credential/internal/credential"
)

// Concurrency of one instance per endpoint: database-bound operations, and
// key tests, which wait on a provider for up to their timeout.
const (
	dbConcurrency   = 8
	testConcurrency = 32
)

// Recommendation is what generate_key says about the key it returns.
const Recommendation = "Store it as CREDENTIAL_SECRET_KEY in a secret manager; never commit it. " +
	"To switch keys, move the current one to CREDENTIAL_PREVIOUS_SECRET_KEYS and run a rotation."

type api struct {
	core    *credential.Service
	metrics keyTestMetrics
}

// Register adds every operation of credentialv1 except health (which the
// app registers first) to the micro service.
// metrics, when set, receives the key test metrics.
func Register(svc *natsx.Service, core *credential.Service, metrics prometheus.Registerer) error {
	m, err := newKeyTestMetrics(metrics)
	if err != nil {
		return err
	}
	a := api{core: core, metrics: m}
	db := natsx.WithConcurrency(dbConcurrency)
	describe := natsx.WithDescription
	// The encryption, catalogue and admin operations act for no user's
	// data; the catalogue is public.
	anyone := natsx.WithoutUser()
	// A failed registration is reported, the others still tried: the
	// caller stops the service on any error.
	return errors.Join(
		natsx.Handle(svc, cv1.Subject(cv1.OpCreate), a.create, db, describe("store a provider API key, encrypted")),
		natsx.Handle(svc, cv1.Subject(cv1.OpList), a.list, db, describe("page through the caller's credentials")),
		natsx.Handle(svc, cv1.Subject(cv1.OpGet), a.get, db, describe("one credential with its masked key")),
		natsx.Handle(svc, cv1.Subject(cv1.OpUpdate), a.update, db, describe("change a credential")),
		natsx.Handle(svc, cv1.Subject(cv1.OpDelete), a.delete, db, describe("delete a credential")),
		natsx.Handle(svc, cv1.Subject(cv1.OpTest), a.test, natsx.WithConcurrency(testConcurrency), natsx.OutsideShare(), describe("run the provider's key probe")),
		natsx.Handle(svc, cv1.Subject(cv1.OpListByProvider), a.listByProvider, db, describe("the caller's credentials of one provider")),
		natsx.Handle(svc, cv1.Subject(cv1.OpEncryptionHealth), a.encryptionHealth, db, describe("encryption self test and rotation progress"), anyone),
		natsx.Handle(svc, cv1.Subject(cv1.OpGenerateKey), a.generateKey, describe("a random secret key"), anyone),
		natsx.Handle(svc, cv1.Subject(cv1.OpProvidersList), a.providersList, db, describe("the AI providers"), anyone),
		natsx.Handle(svc, cv1.Subject(cv1.OpProvidersRefresh), a.providersRefresh, describe("reload the providers file (admin)"), anyone, natsx.AdminOnly()),
		natsx.Handle(svc, cv1.Subject(cv1.OpRotate), a.rotate, describe("re-encrypt every key to the current secret (admin)"), anyone, natsx.AdminOnly()),
		natsx.Handle(svc, cv1.Subject(cv1.OpResolve), a.resolve, db, describe("a decrypted key for an internal caller")),
	)
}

// mapError maps the core's errors to wire errors. Errors it does not know (a
// bug, an undecryptable record) stay as they are: natsx logs them with an
// error id and answers a generic internal error.
func mapError(err error) error {
	if err == nil {
		return nil
	}
	var fe *fielderr.Error
	switch {
	case errors.As(err, &fe):
		return rpcerr.Field(rpcerr.Validation, fe.Field, fe.Message)
	case errors.Is(err, credential.ErrNoUser):
		return rpcerr.New(rpcerr.Unauthorized, "the request names no user")
	case errors.Is(err, credential.ErrNotFound):
		return rpcerr.New(rpcerr.NotFound, "Credential not found")
	case errors.Is(err, credential.ErrDuplicateName):
		return rpcerr.Field(rpcerr.Conflict, "name", "A credential with this name already exists")
	case errors.Is(err, credential.ErrNothingToUpdate):
		return rpcerr.New(rpcerr.BadRequest, "No fields to update")
	case errors.Is(err, credential.ErrInactive):
		return rpcerr.New(rpcerr.Conflict, "Credential is inactive")
	case errors.Is(err, credential.ErrProviderNotFound):
		return rpcerr.Field(rpcerr.NotFound, "provider_name", "Provider not found")
	case errors.Is(err, credential.ErrDatabaseUnavailable):
		return fmt.Errorf("%w: %w", rpcerr.New(rpcerr.Unavailable, "database unavailable"), err)
	case errors.Is(err, credential.ErrInvalidCatalog):
		// The message names the file and line; only admins get here.
		return rpcerr.New(rpcerr.Validation, err.Error())
	}
	return err
}

// ---- credentials ----

func fromCore(c credential.Credential) cv1.Credential {
	return cv1.Credential{
		ID: c.ID, Name: c.Name, ProviderName: c.ProviderName, BaseURL: c.BaseURL,
		AdditionalHeaders: c.AdditionalHeaders, IsActive: c.IsActive,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		LastTestedAt: c.LastTestedAt, LastTestOK: c.LastTestOK, LastUsedAt: c.LastUsedAt,
	}
}

func fromCoreList(cs []credential.Credential) []cv1.Credential {
	out := make([]cv1.Credential, len(cs))
	for i, c := range cs {
		out[i] = fromCore(c)
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (a api) create(ctx context.Context, req cv1.CreateRequest) (cv1.Credential, error) {
	c, err := a.core.Create(ctx, natsx.UserID(ctx), credential.NewCredential{
		Name: req.Name, ProviderName: req.ProviderName, APIKey: req.APIKey,
		BaseURL: deref(req.BaseURL), AdditionalHeaders: req.AdditionalHeaders,
	})
	if err != nil {
		return cv1.Credential{}, mapError(err)
	}
	return fromCore(c), nil
}

func (a api) list(ctx context.Context, req cv1.ListRequest) (cv1.ListReply, error) {
	page := req.Page.Normalize()
	cs, total, err := a.core.List(ctx, natsx.UserID(ctx), page.Skip, page.Limit)
	if err != nil {
		return cv1.ListReply{}, mapError(err)
	}
	return cv1.ListReply{Credentials: fromCoreList(cs), Total: int(total), Page: page.Number(), Size: page.Limit}, nil
}

func (a api) get(ctx context.Context, req cv1.GetRequest) (cv1.Credential, error) {
	c, masked, err := a.core.Get(ctx, natsx.UserID(ctx), req.ID)
	if err != nil {
		return cv1.Credential{}, mapError(err)
	}
	out := fromCore(c)
	out.APIKeyMasked = masked
	return out, nil
}

func (a api) update(ctx context.Context, req cv1.UpdateRequest) (cv1.Credential, error) {
	c, err := a.core.Update(ctx, natsx.UserID(ctx), req.ID, credential.Changes{
		Name: req.Name, APIKey: req.APIKey, BaseURL: req.BaseURL, IsActive: req.IsActive,
		AdditionalHeaders: req.AdditionalHeaders,
	})
	if err != nil {
		return cv1.Credential{}, mapError(err)
	}
	return fromCore(c), nil
}

func (a api) delete(ctx context.Context, req cv1.DeleteRequest) (cv1.DeleteReply, error) {
	if err := a.core.Delete(ctx, natsx.UserID(ctx), req.ID); err != nil {
		return cv1.DeleteReply{}, mapError(err)
	}
	return cv1.DeleteReply{CredentialID: req.ID}, nil
}

func (a api) listByProvider(ctx context.Context, req cv1.ListByProviderRequest) (cv1.ListByProviderReply, error) {
	cs, err := a.core.ListByProvider(ctx, natsx.UserID(ctx), req.ProviderName)
	if err != nil {
		return cv1.ListByProviderReply{}, mapError(err)
	}
	return cv1.ListByProviderReply{Credentials: fromCoreList(cs), Total: len(cs), ProviderName: req.ProviderName}, nil
}

func (a api) test(ctx context.Context, req cv1.TestRequest) (cv1.TestReply, error) {
	res, err := a.core.TestKey(ctx, natsx.UserID(ctx), credential.TestInput{
		CredentialID: req.CredentialID, ProviderName: req.ProviderName, APIKey: req.APIKey, BaseURL: req.BaseURL,
	})
	if err != nil {
		err = mapError(err)
		a.metrics.observe(false, 0, err)
		return cv1.TestReply{}, err
	}
	a.metrics.observe(res.IsValid, res.ResponseTime, nil)
	return cv1.TestReply{
		IsValid: res.IsValid, Message: res.Message, ResponseTimeMS: res.ResponseTime.Milliseconds(),
		ErrorDetails: res.ErrorDetails, Models: res.Models,
	}, nil
}

func (a api) resolve(ctx context.Context, req cv1.ResolveRequest) (cv1.ResolveReply, error) {
	r, err := a.core.Resolve(ctx, natsx.UserID(ctx), req.CredentialID)
	if err != nil {
		return cv1.ResolveReply{}, mapError(err)
	}
	return cv1.ResolveReply{
		ProviderName: r.ProviderName, APIKey: r.APIKey, APIKeyHeader: r.APIKeyHeader,
		APIKeyPrefix: r.APIKeyPrefix, BaseURL: r.BaseURL, Headers: r.Headers,
	}, nil
}

// ---- encryption ----

func fromCoreRotation(p credential.RotationProgress) cv1.RotationProgress {
	return cv1.RotationProgress{
		State: p.State, TargetKeyID: p.TargetKeyID, Total: p.Total, Processed: p.Processed, Failed: p.Failed,
		StartedAt: p.StartedAt, FinishedAt: p.FinishedAt, LastError: p.LastError,
	}
}

func (a api) encryptionHealth(ctx context.Context, _ struct{}) (cv1.EncryptionHealthReply, error) {
	h, err := a.core.EncryptionHealth(ctx, reqctx.From(ctx).Role == contracts.RoleAdmin)
	if err != nil {
		return cv1.EncryptionHealthReply{}, mapError(err)
	}
	out := cv1.EncryptionHealthReply{
		EncryptionHealthy: h.Healthy, TestPassed: h.TestPassed, EncryptionAlgorithm: h.Algorithm,
		KDFIterations: h.Iterations, KeyID: h.KeyID, RecordsOnOldKeys: h.RecordsOnOldKeys,
		Timestamp: h.Timestamp, Error: h.Error,
	}
	if h.Rotation != nil {
		r := fromCoreRotation(*h.Rotation)
		out.Rotation = &r
	}
	return out, nil
}

func (a api) generateKey(_ context.Context, req cv1.GenerateKeyRequest) (cv1.GenerateKeyReply, error) {
	key, n, err := credential.GenerateKey(req.Length)
	if err != nil {
		return cv1.GenerateKeyReply{}, mapError(err)
	}
	return cv1.GenerateKeyReply{SecureKey: key, Length: n, Timestamp: time.Now().UTC(), Recommendation: Recommendation}, nil
}

func (a api) rotate(ctx context.Context, req cv1.RotateRequest) (cv1.RotateReply, error) {
	if req.BatchSize < 0 || req.BatchSize > 10000 {
		return cv1.RotateReply{}, rpcerr.Invalid("batch_size", "must be between 1 and 10000, or 0 for the default")
	}
	started, p, err := a.core.StartRotation(ctx, req.BatchSize)
	if err != nil {
		return cv1.RotateReply{}, mapError(err)
	}
	return cv1.RotateReply{Started: started, Rotation: fromCoreRotation(p)}, nil
}

// ---- providers ----

func (a api) providersList(ctx context.Context, req cv1.ProvidersListRequest) (cv1.ProvidersListReply, error) {
	ps, err := a.core.Providers(ctx, req.ActiveOnly)
	if err != nil {
		return cv1.ProvidersListReply{}, mapError(err)
	}
	out := make([]cv1.Provider, len(ps))
	for i, p := range ps {
		out[i] = cv1.Provider{
			ID: p.ID, ProviderName: p.Name, Name: p.DisplayName, BaseURL: p.BaseURL,
			APIKeyHeader: p.APIKeyHeader, APIKeyPrefix: p.APIKeyPrefix, IsActive: p.IsActive,
			CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
		}
	}
	return cv1.ProvidersListReply{Providers: out, Total: len(out)}, nil
}

func (a api) providersRefresh(ctx context.Context, _ struct{}) (cv1.ProvidersRefreshReply, error) {
	n, err := a.core.RefreshProviders(ctx)
	if err != nil {
		return cv1.ProvidersRefreshReply{}, mapError(err)
	}
	return cv1.ProvidersRefreshReply{ProcessedCount: n}, nil
}
