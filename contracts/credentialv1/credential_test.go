package credentialv1_test

import (
	"encoding/json"
	"flag"
	"testing"
	"time"

	cv1 "github.com/nonefinity/backend/contracts/credentialv1"
	"github.com/nonefinity/backend/contracts/internal/golden"
	"github.com/nonefinity/backend/contracts/paging"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the current types")

var (
	created = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	updated = time.Date(2025, 6, 1, 12, 0, 0, 123000000, time.UTC)
)

func ptr[T any](v T) *T { return &v }

func sampleProvider() cv1.Provider {
	return cv1.Provider{
		ID: "65f2a1b3c4d5e6f708192a01", ProviderName: "openai", Name: "OpenAI",
		BaseURL: "https://api.openai.com/v1", APIKeyHeader: "Authorization", APIKeyPrefix: "Bearer ",
		IsActive: true, CreatedAt: created, UpdatedAt: updated,
	}
}

func sampleCredential() cv1.Credential {
	return cv1.Credential{
		ID: "65f2a1b3c4d5e6f708192a3c", Name: "work key", ProviderName: "openai",
		BaseURL:           "https://proxy.example.com/v1",
		AdditionalHeaders: map[string]string{"OpenAI-Organization": "org-123"},
		IsActive:          true, CreatedAt: created, UpdatedAt: updated,
		APIKeyMasked: "sk-p*********************wxyz",
		LastTestedAt: ptr(updated), LastTestOK: ptr(false), LastUsedAt: ptr(created),
	}
}

func TestWireFormat(t *testing.T) {
	plain := cv1.Credential{
		ID: "65f2a1b3c4d5e6f708192a3d", Name: "hobby", ProviderName: "openrouter",
		IsActive: false, CreatedAt: created, UpdatedAt: created,
	}
	golden.CheckAll(t, []golden.Case{
		{Name: "provider", Value: sampleProvider()},
		{Name: "providers_list_request", Value: cv1.ProvidersListRequest{ActiveOnly: true}},
		{Name: "providers_list_reply", Value: cv1.ProvidersListReply{Providers: []cv1.Provider{sampleProvider()}, Total: 1}},
		{Name: "providers_refresh_reply", Value: cv1.ProvidersRefreshReply{ProcessedCount: 11}},
		{Name: "create_request", Value: cv1.CreateRequest{
			Name: "work key", ProviderName: "openai", APIKey: "sk-test-0123456789",
			BaseURL: ptr("https://proxy.example.com/v1"), AdditionalHeaders: map[string]string{"OpenAI-Organization": "org-123"},
		}},
		{Name: "credential", Value: sampleCredential()},
		{Name: "credential_minimal", Value: plain},
		{Name: "list_request", Value: cv1.ListRequest{Page: paging.Page{Skip: 20, Limit: 10}}},
		{Name: "list_reply", Value: cv1.ListReply{Credentials: []cv1.Credential{sampleCredential(), plain}, Total: 22, Page: 3, Size: 10}},
		{Name: "get_request", Value: cv1.GetRequest{ID: "65f2a1b3c4d5e6f708192a3c"}},
		{Name: "update_request", Value: cv1.UpdateRequest{
			ID: "65f2a1b3c4d5e6f708192a3c", Name: ptr("renamed"), APIKey: ptr("sk-new-key-987654"),
			BaseURL: ptr(""), IsActive: ptr(false), AdditionalHeaders: &map[string]string{},
		}},
		{Name: "update_request_name_only", Value: cv1.UpdateRequest{ID: "65f2a1b3c4d5e6f708192a3c", Name: ptr("renamed")}},
		{Name: "delete_request", Value: cv1.DeleteRequest{ID: "65f2a1b3c4d5e6f708192a3c"}},
		{Name: "delete_reply", Value: cv1.DeleteReply{CredentialID: "65f2a1b3c4d5e6f708192a3c"}},
		{Name: "test_request_stored", Value: cv1.TestRequest{CredentialID: "65f2a1b3c4d5e6f708192a3c"}},
		{Name: "test_request_adhoc", Value: cv1.TestRequest{ProviderName: "ollama", APIKey: "none", BaseURL: "http://ollama.lan:11434/v1"}},
		{Name: "test_reply_valid", Value: cv1.TestReply{IsValid: true, Message: "API key is valid", ResponseTimeMS: 231, Models: []string{"gpt-4o", "gpt-4o-mini"}}},
		{Name: "test_reply_invalid", Value: cv1.TestReply{IsValid: false, Message: "Invalid API key", ResponseTimeMS: 88, ErrorDetails: "provider answered 401"}},
		{Name: "list_by_provider_request", Value: cv1.ListByProviderRequest{ProviderName: "openai"}},
		{Name: "list_by_provider_reply", Value: cv1.ListByProviderReply{Credentials: []cv1.Credential{sampleCredential()}, Total: 1, ProviderName: "openai"}},
		{Name: "encryption_health_reply", Value: cv1.EncryptionHealthReply{
			EncryptionHealthy: true, TestPassed: true, EncryptionAlgorithm: "AES-256-GCM", KDFIterations: 100000,
			KeyID: "k2", RecordsOnOldKeys: ptr[int64](40),
			Rotation: &cv1.RotationProgress{
				State: cv1.RotationRunning, TargetKeyID: "k2", Total: 100, Processed: 60, Failed: 1,
				StartedAt: ptr(created), LastError: "record 65f2a1b3c4d5e6f708192a3e: undecryptable",
			},
			Timestamp: updated,
		}},
		{Name: "encryption_health_reply_broken", Value: cv1.EncryptionHealthReply{Timestamp: updated, Error: "round-trip test failed"}},
		{Name: "generate_key_request", Value: cv1.GenerateKeyRequest{Length: 48}},
		{Name: "generate_key_reply", Value: cv1.GenerateKeyReply{
			SecureKey: "q7h2bG9uZy1yYW5kb20ta2V5LWJhc2U2NHVybA", Length: 32, Timestamp: updated,
			Recommendation: "Store it as CREDENTIAL_SECRET_KEY in a secret manager; never commit it.",
		}},
		{Name: "rotate_request", Value: cv1.RotateRequest{BatchSize: 200}},
		{Name: "rotate_reply", Value: cv1.RotateReply{Started: true, Rotation: cv1.RotationProgress{
			State: cv1.RotationDone, TargetKeyID: "k2", Total: 100, Processed: 100,
			StartedAt: ptr(created), FinishedAt: ptr(updated),
		}}},
		{Name: "resolve_request", Value: cv1.ResolveRequest{CredentialID: "65f2a1b3c4d5e6f708192a3c"}},
		{Name: "resolve_reply", Value: cv1.ResolveReply{
			ProviderName: "anthropic", APIKey: "sk-ant-secret", APIKeyHeader: "x-api-key",
			BaseURL: "https://api.anthropic.com/v1", Headers: map[string]string{"anthropic-version": "2023-06-01"},
		}},
	}, *update)
}

func TestEmptyListsEncodeAsArrays(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{cv1.ProvidersListReply{}, `{"providers":[],"total":0}`},
		{cv1.ListReply{Page: 1, Size: 100}, `{"credentials":[],"total":0,"page":1,"size":100}`},
		{cv1.ListByProviderReply{ProviderName: "xai"}, `{"credentials":[],"total":0,"provider_name":"xai"}`},
	} {
		b, err := json.Marshal(tc.v)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tc.want {
			t.Errorf("%T: got %s, want %s", tc.v, b, tc.want)
		}
	}
}

func TestSubject(t *testing.T) {
	if got := cv1.Subject(cv1.OpListByProvider); got != "svc.credential.v1.list_by_provider" {
		t.Errorf("Subject = %q", got)
	}
	if n := len(cv1.Ops()); n != 14 {
		t.Errorf("Ops() has %d ops, want 14", n)
	}
}
