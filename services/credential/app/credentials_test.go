package app

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nonefinity/backend/contracts/credentialv1"
	"github.com/nonefinity/backend/contracts/paging"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/reqctx"
	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/credential/internal/store"
)

func TestServiceDownIsUnavailable(t *testing.T) {
	e := newEnv(t)
	_, err := e.cl.List(as(userA), credentialv1.ListRequest{})
	testkit.WantCode(t, err, rpcerr.Unavailable)
}

func TestProvidersList(t *testing.T) {
	e := newEnv(t)
	e.start(t, e.config(t, "secret-one"), hooks{})
	// No user needed: GET /providers is public.
	reply, err := e.cl.ProvidersList(context.Background(), credentialv1.ProvidersListRequest{ActiveOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if reply.Total != 10 || len(reply.Providers) != 10 {
		t.Fatalf("total = %d, want the 10 default providers", reply.Total)
	}
	byName := map[string]credentialv1.Provider{}
	for _, p := range reply.Providers {
		byName[p.ProviderName] = p
		if len(p.ID) != 24 || p.CreatedAt.IsZero() || !p.IsActive {
			t.Errorf("provider %+v incomplete", p)
		}
	}
	if p := byName["anthropic"]; p.APIKeyHeader != "x-api-key" || p.BaseURL != "https://api.anthropic.com/v1" {
		t.Errorf("anthropic = %+v", p)
	}
	if p := byName["openai"]; p.APIKeyHeader != "Authorization" || p.APIKeyPrefix != "Bearer " {
		t.Errorf("openai = %+v", p)
	}
}

func TestCredentialLifecycle(t *testing.T) {
	e := newEnv(t)
	e.start(t, e.config(t, "secret-one"), hooks{})
	ctxA, ctxB := as(userA), as(userB)

	created, err := e.cl.Create(ctxA, credentialv1.CreateRequest{
		Name: "  work key ", ProviderName: "openai", APIKey: " " + goodKey + " ",
		AdditionalHeaders: map[string]string{"OpenAI-Organization": "org-1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if created.Name != "work key" || created.ProviderName != "openai" || !created.IsActive || len(created.ID) != 24 ||
		created.CreatedAt.IsZero() || created.APIKeyMasked != "" || created.AdditionalHeaders["OpenAI-Organization"] != "org-1" {
		t.Fatalf("created = %+v", created)
	}

	t.Run("stored document", func(t *testing.T) {
		oid, _ := bson.ObjectIDFromHex(created.ID)
		raw, err := e.db.Collection(store.CredentialsCollection).FindOne(context.Background(), bson.M{"_id": oid}).Raw()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(raw.String(), goodKey) || strings.Contains(raw.String(), goodKey[3:15]) {
			t.Fatalf("the stored document holds the plaintext key: %s", raw)
		}
		var doc bson.M
		_ = bson.Unmarshal(raw, &doc)
		for _, f := range []string{"owner_id", "name", "provider_name", "api_key", "base_url", "additional_headers", "is_active",
			"is_deleted", "deleted_at", "created_at", "updated_at", "key_last4", "key_fingerprint", "deleted_marker"} {
			if _, ok := doc[f]; !ok {
				t.Errorf("stored document lacks %s", f)
			}
		}
		if doc["owner_id"] != userA || !strings.HasPrefix(doc["api_key"].(string), "v2:") || doc["key_last4"] != "cdef" ||
			len(doc["key_fingerprint"].(string)) != 64 || doc["deleted_marker"] != "" || doc["base_url"] != nil {
			t.Fatalf("stored document = %v", doc)
		}
	})

	t.Run("create 4xx", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			req   credentialv1.CreateRequest
			code  rpcerr.Code
			field string
		}{
			{"empty name", credentialv1.CreateRequest{Name: " ", ProviderName: "openai", APIKey: "k"}, rpcerr.Validation, "name"},
			{"long name", credentialv1.CreateRequest{Name: strings.Repeat("n", 101), ProviderName: "openai", APIKey: "k"}, rpcerr.Validation, "name"},
			{"unknown provider", credentialv1.CreateRequest{Name: "x", ProviderName: "nope", APIKey: "k"}, rpcerr.Validation, "provider_name"},
			{"empty key", credentialv1.CreateRequest{Name: "x", ProviderName: "openai", APIKey: "  "}, rpcerr.Validation, "api_key"},
			{"huge key", credentialv1.CreateRequest{Name: "x", ProviderName: "openai", APIKey: strings.Repeat("k", 4097)}, rpcerr.Validation, "api_key"},
			{"relative base url", credentialv1.CreateRequest{Name: "x", ProviderName: "openai", APIKey: "k", BaseURL: ptr("/v1")}, rpcerr.Validation, "base_url"},
			{"key header override", credentialv1.CreateRequest{Name: "x", ProviderName: "openai", APIKey: "k",
				AdditionalHeaders: map[string]string{"authorization": "Bearer other"}}, rpcerr.Validation, "additional_headers"},
			{"duplicate name", credentialv1.CreateRequest{Name: "work key", ProviderName: "anthropic", APIKey: "k"}, rpcerr.Conflict, "name"},
		} {
			_, err := e.cl.Create(ctxA, tc.req)
			if re := testkit.WantCode(t, err, tc.code); re.Field != tc.field {
				t.Errorf("%s: field %q, want %q", tc.name, re.Field, tc.field)
			}
		}
		_, err := e.cl.Create(context.Background(), credentialv1.CreateRequest{Name: "x", ProviderName: "openai", APIKey: "k"})
		testkit.WantCode(t, err, rpcerr.Unauthorized)
		// Names are unique per user: B may use A's name.
		if _, err := e.cl.Create(ctxB, credentialv1.CreateRequest{Name: "work key", ProviderName: "openai", APIKey: "sk-b-key-000000000"}); err != nil {
			t.Fatalf("B with A's name: %v", err)
		}
	})

	t.Run("get", func(t *testing.T) {
		got, err := e.cl.Get(ctxA, credentialv1.GetRequest{ID: created.ID})
		if err != nil {
			t.Fatal(err)
		}
		if got.APIKeyMasked != "sk-t*********************cdef" || got.Name != "work key" || !got.CreatedAt.Equal(created.CreatedAt) {
			t.Fatalf("get = %+v", got)
		}
		_, err = e.cl.Get(ctxA, credentialv1.GetRequest{ID: "not-an-id"})
		testkit.WantCode(t, err, rpcerr.NotFound)
		_, err = e.cl.Get(ctxA, credentialv1.GetRequest{ID: bson.NewObjectID().Hex()})
		testkit.WantCode(t, err, rpcerr.NotFound)
	})

	t.Run("other user's id is not found", func(t *testing.T) {
		_, err := e.cl.Get(ctxB, credentialv1.GetRequest{ID: created.ID})
		testkit.WantCode(t, err, rpcerr.NotFound)
		_, err = e.cl.Update(ctxB, credentialv1.UpdateRequest{ID: created.ID, Name: ptr("stolen")})
		testkit.WantCode(t, err, rpcerr.NotFound)
		_, err = e.cl.Delete(ctxB, credentialv1.DeleteRequest{ID: created.ID})
		testkit.WantCode(t, err, rpcerr.NotFound)
		_, err = e.cl.Test(ctxB, credentialv1.TestRequest{CredentialID: created.ID})
		testkit.WantCode(t, err, rpcerr.NotFound)
		_, err = e.cl.Resolve(ctxB, credentialv1.ResolveRequest{CredentialID: created.ID})
		testkit.WantCode(t, err, rpcerr.NotFound)
		// …and A's credential is untouched.
		got, err := e.cl.Get(ctxA, credentialv1.GetRequest{ID: created.ID})
		if err != nil || got.Name != "work key" {
			t.Fatalf("A's credential after B's attempts: %+v, %v", got, err)
		}
	})

	t.Run("update", func(t *testing.T) {
		_, err := e.cl.Update(ctxA, credentialv1.UpdateRequest{ID: created.ID})
		testkit.WantCode(t, err, rpcerr.BadRequest)
		other, err := e.cl.Create(ctxA, credentialv1.CreateRequest{Name: "other", ProviderName: "anthropic", APIKey: "sk-ant-000000000000"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.cl.Update(ctxA, credentialv1.UpdateRequest{ID: other.ID, Name: ptr("work key")})
		if re := testkit.WantCode(t, err, rpcerr.Conflict); re.Field != "name" {
			t.Errorf("conflict field = %q", re.Field)
		}
		_, err = e.cl.Update(ctxA, credentialv1.UpdateRequest{ID: other.ID, AdditionalHeaders: &map[string]string{"X-API-Key": "x"}})
		testkit.WantCode(t, err, rpcerr.Validation)
		upd, err := e.cl.Update(ctxA, credentialv1.UpdateRequest{ID: other.ID, Name: ptr(" renamed "), IsActive: ptr(false),
			BaseURL: ptr("https://proxy.example.com/v1/"), APIKey: ptr("sk-ant-new-key-1234567")})
		if err != nil {
			t.Fatal(err)
		}
		if upd.Name != "renamed" || upd.IsActive || upd.BaseURL != "https://proxy.example.com/v1" || !upd.UpdatedAt.After(other.UpdatedAt) && !upd.UpdatedAt.Equal(other.UpdatedAt) {
			t.Fatalf("updated = %+v", upd)
		}
		got, _ := e.cl.Get(ctxA, credentialv1.GetRequest{ID: other.ID})
		if got.APIKeyMasked != "sk-a**************4567" {
			t.Fatalf("mask after key change = %q", got.APIKeyMasked)
		}
		// An inactive credential is not handed out.
		_, err = e.cl.Resolve(ctxA, credentialv1.ResolveRequest{CredentialID: other.ID})
		testkit.WantCode(t, err, rpcerr.Conflict)
		// "" clears the base URL back to the provider's.
		upd, err = e.cl.Update(ctxA, credentialv1.UpdateRequest{ID: other.ID, BaseURL: ptr(""), IsActive: ptr(true)})
		if err != nil || upd.BaseURL != "" {
			t.Fatalf("clear base url: %+v, %v", upd, err)
		}
		r, err := e.cl.Resolve(ctxA, credentialv1.ResolveRequest{CredentialID: other.ID})
		if err != nil {
			t.Fatal(err)
		}
		if r.APIKey != "sk-ant-new-key-1234567" || r.APIKeyHeader != "x-api-key" || r.APIKeyPrefix != "" ||
			r.BaseURL != "https://api.anthropic.com/v1" || r.Headers["anthropic-version"] != "2023-06-01" {
			t.Fatalf("resolve = %v (key ok: %v)", r, r.APIKey == "sk-ant-new-key-1234567")
		}
	})

	t.Run("resolve records the use", func(t *testing.T) {
		r, err := e.cl.Resolve(ctxA, credentialv1.ResolveRequest{CredentialID: created.ID})
		if err != nil {
			t.Fatal(err)
		}
		if r.APIKey != goodKey || r.ProviderName != "openai" || r.APIKeyHeader != "Authorization" || r.APIKeyPrefix != "Bearer " ||
			r.BaseURL != "https://api.openai.com/v1" || r.Headers["OpenAI-Organization"] != "org-1" {
			t.Fatalf("resolve = %v", r)
		}
		got, _ := e.cl.Get(ctxA, credentialv1.GetRequest{ID: created.ID})
		if got.LastUsedAt == nil || time.Since(*got.LastUsedAt) > time.Minute {
			t.Fatalf("last_used_at = %v", got.LastUsedAt)
		}
	})

	t.Run("delete and reuse the name", func(t *testing.T) {
		del, err := e.cl.Delete(ctxA, credentialv1.DeleteRequest{ID: created.ID})
		if err != nil || del.CredentialID != created.ID {
			t.Fatalf("delete = %+v, %v", del, err)
		}
		_, err = e.cl.Get(ctxA, credentialv1.GetRequest{ID: created.ID})
		testkit.WantCode(t, err, rpcerr.NotFound)
		_, err = e.cl.Delete(ctxA, credentialv1.DeleteRequest{ID: created.ID})
		testkit.WantCode(t, err, rpcerr.NotFound)
		_, err = e.cl.Resolve(ctxA, credentialv1.ResolveRequest{CredentialID: created.ID})
		testkit.WantCode(t, err, rpcerr.NotFound)
		// The deleted document keeps no key.
		oid, _ := bson.ObjectIDFromHex(created.ID)
		var doc bson.M
		if err := e.db.Collection(store.CredentialsCollection).FindOne(context.Background(), bson.M{"_id": oid}).Decode(&doc); err != nil {
			t.Fatal(err)
		}
		if doc["is_deleted"] != true || doc["deleted_at"] == nil || doc["api_key"] != "" || doc["deleted_marker"] != created.ID {
			t.Fatalf("deleted document = %v", doc)
		}
		again, err := e.cl.Create(ctxA, credentialv1.CreateRequest{Name: "work key", ProviderName: "openai", APIKey: goodKey})
		if err != nil {
			t.Fatalf("reusing a deleted name: %v", err)
		}
		if again.ID == created.ID {
			t.Fatal("the new credential reused the deleted one's id")
		}
		// Deleting the second one too must not clash with the first in the
		// unique index.
		if _, err := e.cl.Delete(ctxA, credentialv1.DeleteRequest{ID: again.ID}); err != nil {
			t.Fatalf("second delete of the same name: %v", err)
		}
	})
}

func TestListPagingAndByProvider(t *testing.T) {
	e := newEnv(t)
	e.start(t, e.config(t, "secret-one"), hooks{})
	ctxA, ctxB := as(userA), as(userB)
	var ids []string
	for i := range 7 {
		provider := "openai"
		if i%3 == 0 {
			provider = "groq"
		}
		c, err := e.cl.Create(ctxA, credentialv1.CreateRequest{Name: fmt.Sprintf("key %d", i), ProviderName: provider, APIKey: fmt.Sprintf("sk-list-key-%08d", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	if _, err := e.cl.Create(ctxB, credentialv1.CreateRequest{Name: "b only", ProviderName: "groq", APIKey: "sk-b-000000000000"}); err != nil {
		t.Fatal(err)
	}

	all, err := e.cl.List(ctxA, credentialv1.ListRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if all.Total != 7 || len(all.Credentials) != 7 || all.Page != 1 || all.Size != paging.DefaultLimit {
		t.Fatalf("list = total %d, %d items, page %d size %d", all.Total, len(all.Credentials), all.Page, all.Size)
	}
	// Newest first.
	if all.Credentials[0].ID != ids[6] || all.Credentials[6].ID != ids[0] {
		t.Errorf("order = %s … %s", all.Credentials[0].Name, all.Credentials[6].Name)
	}
	for _, c := range all.Credentials {
		if c.APIKeyMasked != "" {
			t.Errorf("list shows a mask: %+v", c)
		}
	}
	page, err := e.cl.List(ctxA, credentialv1.ListRequest{Page: paging.Page{Skip: 3, Limit: 3}})
	if err != nil {
		t.Fatal(err)
	}
	if page.Total != 7 || len(page.Credentials) != 3 || page.Page != 2 || page.Size != 3 || page.Credentials[0].ID != ids[3] {
		t.Fatalf("page 2 = %+v", page)
	}
	last, _ := e.cl.List(ctxA, credentialv1.ListRequest{Page: paging.Page{Skip: 6, Limit: 3}})
	beyond, _ := e.cl.List(ctxA, credentialv1.ListRequest{Page: paging.Page{Skip: 30, Limit: 3}})
	if len(last.Credentials) != 1 || len(beyond.Credentials) != 0 || beyond.Total != 7 {
		t.Fatalf("last page %d items, beyond %d items (total %d)", len(last.Credentials), len(beyond.Credentials), beyond.Total)
	}

	groq, err := e.cl.ListByProvider(ctxA, credentialv1.ListByProviderRequest{ProviderName: "groq"})
	if err != nil {
		t.Fatal(err)
	}
	if groq.Total != 3 || groq.ProviderName != "groq" || len(groq.Credentials) != 3 {
		t.Fatalf("by provider = %+v", groq)
	}
	for _, c := range groq.Credentials {
		if c.ProviderName != "groq" {
			t.Errorf("by provider returned %s", c.ProviderName)
		}
	}
	none, err := e.cl.ListByProvider(ctxA, credentialv1.ListByProviderRequest{ProviderName: "xai"})
	if err != nil || none.Total != 0 {
		t.Fatalf("by provider with none = %+v, %v", none, err)
	}
	bList, _ := e.cl.List(ctxB, credentialv1.ListRequest{})
	if bList.Total != 1 || bList.Credentials[0].Name != "b only" {
		t.Fatalf("B's list = %+v", bList)
	}
	_, err = e.cl.List(context.Background(), credentialv1.ListRequest{})
	testkit.WantCode(t, err, rpcerr.Unauthorized)
}

func TestKeyTest(t *testing.T) {
	e := newEnv(t)
	provider := fakeOpenAI(t)
	e.start(t, e.config(t, "secret-one"), hooks{})
	ctxA := as(userA)

	good, err := e.cl.Create(ctxA, credentialv1.CreateRequest{Name: "good", ProviderName: "openai", APIKey: goodKey, BaseURL: ptr(provider.URL)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.cl.Test(ctxA, credentialv1.TestRequest{CredentialID: good.ID})
	if err != nil {
		t.Fatal(err)
	}
	if !res.IsValid || res.Message != "API key is valid" || strings.Join(res.Models, ",") != "gpt-4o,gpt-4o-mini" {
		t.Fatalf("stored test = %+v", res)
	}
	got, _ := e.cl.Get(ctxA, credentialv1.GetRequest{ID: good.ID})
	if got.LastTestedAt == nil || got.LastTestOK == nil || !*got.LastTestOK {
		t.Fatalf("test outcome not recorded: %+v", got)
	}

	bad, _ := e.cl.Create(ctxA, credentialv1.CreateRequest{Name: "bad", ProviderName: "openai", APIKey: "sk-wrong-000000000", BaseURL: ptr(provider.URL)})
	res, err = e.cl.Test(ctxA, credentialv1.TestRequest{CredentialID: bad.ID})
	if err != nil || res.IsValid || res.Message != "Invalid API key" {
		t.Fatalf("bad key test = %+v, %v", res, err)
	}
	got, _ = e.cl.Get(ctxA, credentialv1.GetRequest{ID: bad.ID})
	if got.LastTestOK == nil || *got.LastTestOK {
		t.Fatalf("failed test not recorded: %+v", got)
	}

	adhoc, err := e.cl.Test(ctxA, credentialv1.TestRequest{ProviderName: "openai", APIKey: goodKey, BaseURL: provider.URL})
	if err != nil || !adhoc.IsValid {
		t.Fatalf("ad-hoc test = %+v, %v", adhoc, err)
	}
	// A base URL ending in "?" or "#" would turn the probe path into its
	// query or fragment and leave the caller the path the key is sent to.
	for _, base := range []string{provider.URL + "/admin?", provider.URL + "/admin/#", provider.URL + "/admin?x=1"} {
		_, err := e.cl.Test(ctxA, credentialv1.TestRequest{ProviderName: "openai", APIKey: goodKey, BaseURL: base})
		if re := testkit.WantCode(t, err, rpcerr.Validation); re.Field != "base_url" || !strings.Contains(re.Message, "query or fragment") {
			t.Errorf("base url %q: %+v", base, re)
		}
		_, err = e.cl.Create(ctxA, credentialv1.CreateRequest{Name: "q", ProviderName: "openai", APIKey: goodKey, BaseURL: ptr(base)})
		if re := testkit.WantCode(t, err, rpcerr.Validation); re.Field != "base_url" {
			t.Errorf("create with base url %q: %+v", base, re)
		}
	}
	// The guard: the metadata address is refused without a connection.
	ssrf, err := e.cl.Test(ctxA, credentialv1.TestRequest{ProviderName: "openai", APIKey: goodKey, BaseURL: "http://169.254.169.254/latest"})
	if err != nil || ssrf.IsValid || ssrf.Message != "Address not allowed" {
		t.Fatalf("metadata address test = %+v, %v", ssrf, err)
	}
	_, err = e.cl.Test(ctxA, credentialv1.TestRequest{})
	testkit.WantCode(t, err, rpcerr.Validation)
	_, err = e.cl.Test(ctxA, credentialv1.TestRequest{ProviderName: "openai"})
	testkit.WantCode(t, err, rpcerr.Validation)
	_, err = e.cl.Test(ctxA, credentialv1.TestRequest{CredentialID: bson.NewObjectID().Hex()})
	testkit.WantCode(t, err, rpcerr.NotFound)
}

func TestAdminOperations(t *testing.T) {
	e := newEnv(t)
	e.start(t, e.config(t, "secret-one"), hooks{})
	_, err := e.cl.ProvidersRefresh(as(userA))
	testkit.WantCode(t, err, rpcerr.Forbidden)
	_, err = e.cl.Rotate(as(userA), credentialv1.RotateRequest{})
	testkit.WantCode(t, err, rpcerr.Forbidden)
	reply, err := e.cl.ProvidersRefresh(asAdmin())
	if err != nil || reply.ProcessedCount != 10 {
		t.Fatalf("refresh = %+v, %v", reply, err)
	}
	_, err = e.cl.Rotate(asAdmin(), credentialv1.RotateRequest{BatchSize: -1})
	testkit.WantCode(t, err, rpcerr.Validation)
}

func TestEncryptionHealthAndGenerateKey(t *testing.T) {
	e := newEnv(t)
	e.start(t, e.config(t, "secret-one"), hooks{})
	if _, err := e.cl.Create(as(userA), credentialv1.CreateRequest{Name: "k", ProviderName: "openai", APIKey: goodKey}); err != nil {
		t.Fatal(err)
	}
	h, err := e.cl.EncryptionHealth(as(userA))
	if err != nil {
		t.Fatal(err)
	}
	if !h.EncryptionHealthy || !h.TestPassed || h.EncryptionAlgorithm != "AES-256-GCM" || h.KDFIterations != testIterations ||
		len(h.KeyID) != 12 || h.Error != "" || h.Timestamp.IsZero() {
		t.Fatalf("health = %+v", h)
	}
	// How many records the instance holds is not a user's business.
	if h.RecordsOnOldKeys != nil || h.Rotation != nil {
		t.Fatalf("a user sees instance-wide counts: %+v", h)
	}
	if _, err := e.cl.Rotate(asAdmin(), credentialv1.RotateRequest{}); err != nil {
		t.Fatal(err)
	}
	if h, _ = e.cl.EncryptionHealth(as(userA)); h.RecordsOnOldKeys != nil || h.Rotation != nil {
		t.Fatalf("a user sees the rotation: %+v", h)
	}
	if h, err = e.cl.EncryptionHealth(asAdmin()); err != nil || oldKeys(h) != 0 || h.Rotation == nil || !h.EncryptionHealthy {
		t.Fatalf("admin health = %+v, %v", h, err)
	}
	k, err := e.cl.GenerateKey(as(userA), credentialv1.GenerateKeyRequest{})
	if err != nil || k.Length != 32 || len(k.SecureKey) != 43 || k.Recommendation == "" {
		t.Fatalf("generate = len %d, %d chars, %v", k.Length, len(k.SecureKey), err)
	}
	k2, _ := e.cl.GenerateKey(as(userA), credentialv1.GenerateKeyRequest{Length: 128})
	if k2.Length != 128 || len(k2.SecureKey) != 171 || k2.SecureKey == k.SecureKey {
		t.Fatalf("generate 128 = %d chars", len(k2.SecureKey))
	}
	for _, n := range []int{8, 129} {
		_, err := e.cl.GenerateKey(as(userA), credentialv1.GenerateKeyRequest{Length: n})
		if re := testkit.WantCode(t, err, rpcerr.Validation); re.Field != "length" {
			t.Errorf("length %d: field %q", n, re.Field)
		}
	}
}

// A ciphertext copied onto another user's record does not decrypt there:
// the record answers a generic internal error, never the other user's key.
func TestCiphertextCopiedToAnotherUserFails(t *testing.T) {
	e := newEnv(t)
	e.start(t, e.config(t, "secret-one"), hooks{})
	a, _ := e.cl.Create(as(userA), credentialv1.CreateRequest{Name: "a", ProviderName: "openai", APIKey: goodKey})
	b, _ := e.cl.Create(as(userB), credentialv1.CreateRequest{Name: "b", ProviderName: "openai", APIKey: "sk-b-key-0000000000"})
	coll := e.db.Collection(store.CredentialsCollection)
	aID, _ := bson.ObjectIDFromHex(a.ID)
	bID, _ := bson.ObjectIDFromHex(b.ID)
	var doc struct {
		APIKey string `bson:"api_key"`
	}
	if err := coll.FindOne(context.Background(), bson.M{"_id": aID}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if _, err := coll.UpdateOne(context.Background(), bson.M{"_id": bID}, bson.M{"$set": bson.M{"api_key": doc.APIKey, "key_masked": ""}}); err != nil {
		t.Fatal(err)
	}
	_, err := e.cl.Resolve(as(userB), credentialv1.ResolveRequest{CredentialID: b.ID})
	re := testkit.WantCode(t, err, rpcerr.Internal)
	if re.ErrorID == "" || strings.Contains(re.Message, "decrypt") {
		t.Fatalf("internal error = %+v", re)
	}
	// A's own record is unaffected.
	if r, err := e.cl.Resolve(as(userA), credentialv1.ResolveRequest{CredentialID: a.ID}); err != nil || r.APIKey != goodKey {
		t.Fatalf("A's resolve: %v", err)
	}
}

func TestNoUserHeaderIsUnauthorized(t *testing.T) {
	e := newEnv(t)
	e.start(t, e.config(t, "secret-one"), hooks{})
	ctx := reqctx.With(context.Background(), reqctx.Meta{Role: "user"})
	for name, call := range map[string]func() error{
		"get": func() error { _, err := e.cl.Get(ctx, credentialv1.GetRequest{ID: userA}); return err },
		"resolve": func() error {
			_, err := e.cl.Resolve(ctx, credentialv1.ResolveRequest{CredentialID: userA})
			return err
		},
		"test":   func() error { _, err := e.cl.Test(ctx, credentialv1.TestRequest{CredentialID: userA}); return err },
		"delete": func() error { _, err := e.cl.Delete(ctx, credentialv1.DeleteRequest{ID: userA}); return err },
	} {
		err := call()
		if re, ok := rpcerr.As(err); !ok || re.Code != rpcerr.Unauthorized {
			t.Errorf("%s without a user: %v", name, err)
		}
	}
}

// Each instance keeps owners' lists in memory. A change on one instance is
// in the very next list of every instance: the other instance applies the
// announcement, which reached it before the next request, before it
// answers from memory.
func TestListChangesReachEveryInstanceBeforeTheNextRequest(t *testing.T) {
	e := newEnv(t)
	cfg := e.config(t, "secret-one")
	e.start(t, cfg, hooks{})
	e.start(t, cfg, hooks{})
	ctxA, ctxB := as(userA), as(userB)
	names := func(ctx context.Context) map[string]int {
		t.Helper()
		seen := map[string]int{}
		for range 20 {
			list, err := e.cl.List(ctx, credentialv1.ListRequest{})
			if err != nil {
				t.Fatal(err)
			}
			key := ""
			for _, c := range list.Credentials {
				key += c.Name + ";"
			}
			seen[key]++
		}
		return seen
	}
	if _, err := e.cl.Create(ctxB, credentialv1.CreateRequest{Name: "b", ProviderName: "openai", APIKey: "sk-b-key-000000000"}); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"k0;", "k1;k0;", "k2;k1;k0;"} {
		// Both instances keep the lists from before (the requests are
		// spread over them).
		names(ctxA)
		names(ctxB)
		created, err := e.cl.Create(ctxA, credentialv1.CreateRequest{Name: fmt.Sprintf("k%d", i), ProviderName: "openai", APIKey: "sk-a-key-000000000"})
		if err != nil {
			t.Fatal(err)
		}
		if seen := names(ctxA); seen[want] != 20 {
			t.Fatalf("after creating %s, lists %v, want %q every time", created.Name, seen, want)
		}
		if seen := names(ctxB); seen["b;"] != 20 {
			t.Fatalf("user B's lists %v", seen)
		}
	}
	created, _ := e.cl.List(ctxA, credentialv1.ListRequest{})
	if _, err := e.cl.Delete(ctxA, credentialv1.DeleteRequest{ID: created.Credentials[0].ID}); err != nil {
		t.Fatal(err)
	}
	if seen := names(ctxA); seen["k1;k0;"] != 20 {
		t.Fatalf("after a delete, lists %v", seen)
	}
}
