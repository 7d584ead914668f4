// Package credentialv1 is the contract of the credential service: AI
// providers and the users' encrypted provider API keys, reached over NATS at
// svc.credential.v1.<op>.
//
// Types that carry a plaintext key (CreateRequest, UpdateRequest,
// TestRequest, ResolveReply, GenerateKeyReply) redact it when printed with fmt
// or logged with slog; their JSON, the wire form, carries it unchanged.
package credentialv1

import (
	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/healthv1"
)

// Operation names, the last token of svc.credential.v1.<op>.
const (
	OpCreate           = "create"            // CreateRequest -> Credential
	OpList             = "list"              // ListRequest -> ListReply
	OpGet              = "get"               // GetRequest -> Credential (with APIKeyMasked)
	OpUpdate           = "update"            // UpdateRequest -> Credential
	OpDelete           = "delete"            // DeleteRequest -> DeleteReply
	OpTest             = "test"              // TestRequest -> TestReply
	OpListByProvider   = "list_by_provider"  // ListByProviderRequest -> ListByProviderReply
	OpEncryptionHealth = "encryption_health" // {} -> EncryptionHealthReply
	OpGenerateKey      = "generate_key"      // GenerateKeyRequest -> GenerateKeyReply
	OpProvidersList    = "providers_list"    // ProvidersListRequest -> ProvidersListReply
	OpProvidersRefresh = "providers_refresh" // {} -> ProvidersRefreshReply (admin)
	OpRotate           = "rotate"            // RotateRequest -> RotateReply (admin)
	// OpResolve hands out a decrypted key to an internal caller; the gateway
	// never routes it and NATS permissions limit who may call it.
	OpResolve = "resolve"   // ResolveRequest -> ResolveReply
	OpHealth  = healthv1.Op // {} -> healthv1.Reply
)

// Ops lists every operation of the service, for registration and checks.
func Ops() []string {
	return []string{
		OpCreate, OpList, OpGet, OpUpdate, OpDelete, OpTest, OpListByProvider,
		OpEncryptionHealth, OpGenerateKey, OpProvidersList, OpProvidersRefresh,
		OpRotate, OpResolve, OpHealth,
	}
}

// Subject is the request subject of one operation.
func Subject(op string) string {
	return contracts.RequestSubject(contracts.ServiceCredential, op)
}
