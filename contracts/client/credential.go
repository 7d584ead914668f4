package client

import (
	"context"

	cv1 "github.com/nonefinity/backend/contracts/credentialv1"
	"github.com/nonefinity/backend/contracts/healthv1"
)

// Credential calls the credential service.
type Credential struct{ R Requester }

func (c Credential) Create(ctx context.Context, req cv1.CreateRequest) (cv1.Credential, error) {
	return call[cv1.Credential](ctx, c.R, cv1.Subject(cv1.OpCreate), req)
}

func (c Credential) List(ctx context.Context, req cv1.ListRequest) (cv1.ListReply, error) {
	return call[cv1.ListReply](ctx, c.R, cv1.Subject(cv1.OpList), req)
}

func (c Credential) Get(ctx context.Context, req cv1.GetRequest) (cv1.Credential, error) {
	return call[cv1.Credential](ctx, c.R, cv1.Subject(cv1.OpGet), req)
}

func (c Credential) Update(ctx context.Context, req cv1.UpdateRequest) (cv1.Credential, error) {
	return call[cv1.Credential](ctx, c.R, cv1.Subject(cv1.OpUpdate), req)
}

func (c Credential) Delete(ctx context.Context, req cv1.DeleteRequest) (cv1.DeleteReply, error) {
	return call[cv1.DeleteReply](ctx, c.R, cv1.Subject(cv1.OpDelete), req)
}

func (c Credential) Test(ctx context.Context, req cv1.TestRequest) (cv1.TestReply, error) {
	return call[cv1.TestReply](ctx, c.R, cv1.Subject(cv1.OpTest), req)
}

func (c Credential) ListByProvider(ctx context.Context, req cv1.ListByProviderRequest) (cv1.ListByProviderReply, error) {
	return call[cv1.ListByProviderReply](ctx, c.R, cv1.Subject(cv1.OpListByProvider), req)
}

func (c Credential) EncryptionHealth(ctx context.Context) (cv1.EncryptionHealthReply, error) {
	return call[cv1.EncryptionHealthReply](ctx, c.R, cv1.Subject(cv1.OpEncryptionHealth), noParams{})
}

func (c Credential) GenerateKey(ctx context.Context, req cv1.GenerateKeyRequest) (cv1.GenerateKeyReply, error) {
	return call[cv1.GenerateKeyReply](ctx, c.R, cv1.Subject(cv1.OpGenerateKey), req)
}

func (c Credential) ProvidersList(ctx context.Context, req cv1.ProvidersListRequest) (cv1.ProvidersListReply, error) {
	return call[cv1.ProvidersListReply](ctx, c.R, cv1.Subject(cv1.OpProvidersList), req)
}

func (c Credential) ProvidersRefresh(ctx context.Context) (cv1.ProvidersRefreshReply, error) {
	return call[cv1.ProvidersRefreshReply](ctx, c.R, cv1.Subject(cv1.OpProvidersRefresh), noParams{})
}

func (c Credential) Rotate(ctx context.Context, req cv1.RotateRequest) (cv1.RotateReply, error) {
	return call[cv1.RotateReply](ctx, c.R, cv1.Subject(cv1.OpRotate), req)
}

// Resolve returns a credential's decrypted key; for internal callers only,
// never routed from HTTP.
func (c Credential) Resolve(ctx context.Context, req cv1.ResolveRequest) (cv1.ResolveReply, error) {
	return call[cv1.ResolveReply](ctx, c.R, cv1.Subject(cv1.OpResolve), req)
}

func (c Credential) Health(ctx context.Context) (healthv1.Reply, error) {
	return call[healthv1.Reply](ctx, c.R, cv1.Subject(cv1.OpHealth), healthv1.Request{})
}
