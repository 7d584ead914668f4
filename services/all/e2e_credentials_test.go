package all_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	cv1 "github.com/nonefinity/backend/contracts/credentialv1"
	credential "github.com/nonefinity/backend/services/credential/app"
)

// fakeProviderKey is the only key the fake provider accepts.
const fakeProviderKey = "sk-e2e-valid-key-0123456789"

// fakeProvider answers the OpenAI-style validation probe GET /v1/models:
// 200 with a model list for fakeProviderKey, 401 for anything else.
func fakeProvider(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/models" {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+fakeProviderKey {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"message":"invalid api key"}}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"object":"list","data":[{"id":"fake-model-a"},{"id":"fake-model-b"}]}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func startCredentialE2E(t *testing.T) *e2eStack {
	t.Helper()
	return startE2E(t, e2eOptions{Credentials: func(s *credential.Settings) { s.AllowedHosts = []string{"127.0.0.1"} }})
}

func TestE2ECredentials(t *testing.T) {
	s := startCredentialE2E(t)
	provider := fakeProvider(t)
	a := s.user(t, "e2e_cred_a", "")
	b := s.user(t, "e2e_cred_b", "")
	admin := s.user(t, "e2e_cred_admin", "admin")

	t.Run("providers", func(t *testing.T) {
		var all cv1.ProvidersListReply
		expect(t, s.anonymous().get(t, "/providers?active_only=false"), http.StatusOK, &all)
		var active cv1.ProvidersListReply
		expect(t, s.anonymous().get(t, "/providers?active_only=true"), http.StatusOK, &active)
		if active.Total == 0 || active.Total != len(active.Providers) || all.Total < active.Total {
			t.Fatalf("providers: all %d, active %d (%d listed)", all.Total, active.Total, len(active.Providers))
		}
		i := slices.IndexFunc(active.Providers, func(p cv1.Provider) bool { return p.ProviderName == "openai" })
		if i < 0 {
			t.Fatalf("openai not among active providers: %+v", active.Providers)
		}
		if p := active.Providers[i]; !p.IsActive || p.BaseURL == "" || p.APIKeyHeader != "Authorization" || p.ID == "" {
			t.Fatalf("openai provider = %+v", p)
		}
		for _, p := range active.Providers {
			if !p.IsActive {
				t.Fatalf("inactive provider %q listed with active_only=true", p.ProviderName)
			}
		}
	})

	t.Run("refresh admin 200 user 403", func(t *testing.T) {
		var reply cv1.ProvidersRefreshReply
		expect(t, admin.do(t, http.MethodPost, "/providers/refresh", nil, ""), http.StatusOK, &reply)
		if reply.ProcessedCount < 1 {
			t.Fatalf("processed_count = %d", reply.ProcessedCount)
		}
		expect(t, a.do(t, http.MethodPost, "/providers/refresh", nil, ""), http.StatusForbidden, nil)
		expect(t, s.anonymous().do(t, http.MethodPost, "/providers/refresh", nil, ""), http.StatusUnauthorized, nil)
	})

	var formCred, jsonCred cv1.Credential
	t.Run("create form and JSON 201 without the key", func(t *testing.T) {
		r := a.form(t, http.MethodPost, "/credentials", url.Values{
			"name": {"form key"}, "provider_name": {"openai"}, "api_key": {fakeProviderKey}, "base_url": {provider.URL + "/v1"},
		})
		expect(t, r, http.StatusCreated, &formCred)
		if strings.Contains(string(r.body), fakeProviderKey) || strings.Contains(string(r.body), "api_key\"") {
			t.Fatalf("create answered with the key: %s", r.body)
		}
		if formCred.ID == "" || formCred.Name != "form key" || formCred.ProviderName != "openai" || formCred.BaseURL != provider.URL+"/v1" || !formCred.IsActive {
			t.Fatalf("form credential = %+v", formCred)
		}
		r = a.json(t, http.MethodPost, "/credentials", map[string]any{
			"name": "json key", "provider_name": "openai", "api_key": "sk-wrong-key-abcdefghijkl",
			"base_url": provider.URL + "/v1", "additional_headers": map[string]string{"OpenAI-Organization": "org-e2e"},
		})
		expect(t, r, http.StatusCreated, &jsonCred)
		if strings.Contains(string(r.body), "sk-wrong-key") {
			t.Fatalf("create answered with the key: %s", r.body)
		}
		if jsonCred.AdditionalHeaders["OpenAI-Organization"] != "org-e2e" {
			t.Fatalf("json credential = %+v", jsonCred)
		}
	})

	t.Run("create rejects", func(t *testing.T) {
		expect(t, a.json(t, http.MethodPost, "/credentials", map[string]any{
			"name": "form key", "provider_name": "openai", "api_key": "sk-another-key-123456",
		}), http.StatusConflict, nil)
		env := expect(t, a.json(t, http.MethodPost, "/credentials", map[string]any{
			"name": "bad url", "provider_name": "openai", "api_key": "sk-another-key-123456", "base_url": "not a url",
		}), http.StatusUnprocessableEntity, nil)
		if len(env.Errors) == 0 || env.Errors[0].Field != "base_url" {
			t.Fatalf("invalid base_url errors = %+v", env.Errors)
		}
		env = expect(t, a.json(t, http.MethodPost, "/credentials", map[string]any{
			"name": "empty key", "provider_name": "openai", "api_key": "",
		}), http.StatusUnprocessableEntity, nil)
		if len(env.Errors) == 0 || env.Errors[0].Field != "api_key" {
			t.Fatalf("empty key errors = %+v", env.Errors)
		}
		r := a.json(t, http.MethodPost, "/credentials", map[string]any{
			"name": "nowhere", "provider_name": "no-such-provider", "api_key": "sk-another-key-123456",
		})
		if r.status < 400 || r.status >= 500 {
			t.Fatalf("unknown provider: %d %s", r.status, r.body)
		}
		// The same name is free for another user.
		var other cv1.Credential
		expect(t, b.json(t, http.MethodPost, "/credentials", map[string]any{
			"name": "form key", "provider_name": "openai", "api_key": "sk-b-owns-this-key-99",
		}), http.StatusCreated, &other)
	})

	t.Run("list pages", func(t *testing.T) {
		var page cv1.ListReply
		expect(t, a.get(t, "/credentials?skip=0&limit=1"), http.StatusOK, &page)
		if page.Total != 2 || len(page.Credentials) != 1 || page.Page != 1 || page.Size != 1 {
			t.Fatalf("first page = %+v", page)
		}
		var second cv1.ListReply
		expect(t, a.get(t, "/credentials?skip=1&limit=1"), http.StatusOK, &second)
		if second.Total != 2 || len(second.Credentials) != 1 || second.Page != 2 || second.Credentials[0].ID == page.Credentials[0].ID {
			t.Fatalf("second page = %+v (first %+v)", second, page)
		}
		got := []string{page.Credentials[0].ID, second.Credentials[0].ID}
		want := []string{formCred.ID, jsonCred.ID}
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Fatalf("listed %v, want %v", got, want)
		}
		var bList cv1.ListReply
		expect(t, b.get(t, "/credentials"), http.StatusOK, &bList)
		if bList.Total != 1 {
			t.Fatalf("B sees %d credentials", bList.Total)
		}
	})

	t.Run("get masks the key", func(t *testing.T) {
		var got cv1.Credential
		r := a.get(t, "/credentials/"+formCred.ID)
		expect(t, r, http.StatusOK, &got)
		// 27 characters: first 4, 19 stars, last 4.
		if want := "sk-e" + strings.Repeat("*", len(fakeProviderKey)-8) + "6789"; got.APIKeyMasked != want {
			t.Fatalf("api_key_masked = %q, want %q", got.APIKeyMasked, want)
		}
		if strings.Contains(string(r.body), fakeProviderKey) {
			t.Fatalf("get answered with the key: %s", r.body)
		}
		// Masking bounds: ≤8 all stars, ≤12 first and last 2.
		for key, want := range map[string]string{
			"sk-12345":     "********",
			"sk-123456789": "sk********89",
		} {
			var c cv1.Credential
			expect(t, a.json(t, http.MethodPost, "/credentials", map[string]any{
				"name": "mask " + key, "provider_name": "openai", "api_key": key,
			}), http.StatusCreated, &c)
			expect(t, a.get(t, "/credentials/"+c.ID), http.StatusOK, &c)
			if c.APIKeyMasked != want {
				t.Errorf("mask of %d chars = %q, want %q", len(key), c.APIKeyMasked, want)
			}
			expect(t, a.do(t, http.MethodDelete, "/credentials/"+c.ID, nil, ""), http.StatusOK, nil)
		}
	})

	t.Run("update", func(t *testing.T) {
		expect(t, a.form(t, http.MethodPut, "/credentials/"+jsonCred.ID, url.Values{}), http.StatusBadRequest, nil)
		var got cv1.Credential
		expect(t, a.form(t, http.MethodPut, "/credentials/"+jsonCred.ID, url.Values{"name": {"renamed key"}, "is_active": {"false"}}), http.StatusOK, &got)
		if got.Name != "renamed key" || got.IsActive {
			t.Fatalf("updated = %+v", got)
		}
		expect(t, a.json(t, http.MethodPut, "/credentials/"+jsonCred.ID, map[string]any{"name": "form key"}), http.StatusConflict, nil)
	})

	t.Run("test against the provider", func(t *testing.T) {
		var ok cv1.TestReply
		expect(t, a.form(t, http.MethodPost, "/credentials/test", url.Values{"credential_id": {formCred.ID}}), http.StatusOK, &ok)
		if !ok.IsValid || !slices.Equal(ok.Models, []string{"fake-model-a", "fake-model-b"}) {
			t.Fatalf("stored valid key test = %+v", ok)
		}
		var bad cv1.TestReply
		expect(t, a.json(t, http.MethodPost, "/credentials/test", map[string]any{"credential_id": jsonCred.ID}), http.StatusOK, &bad)
		if bad.IsValid || bad.Message == "" {
			t.Fatalf("stored wrong key test = %+v", bad)
		}
		var adhoc cv1.TestReply
		expect(t, a.json(t, http.MethodPost, "/credentials/test", map[string]any{
			"provider_name": "openai", "api_key": fakeProviderKey, "base_url": provider.URL + "/v1",
		}), http.StatusOK, &adhoc)
		if !adhoc.IsValid {
			t.Fatalf("ad hoc valid key test = %+v", adhoc)
		}
		var adhocBad cv1.TestReply
		r := a.json(t, http.MethodPost, "/credentials/test", map[string]any{
			"provider_name": "openai", "api_key": "sk-not-the-right-one-42", "base_url": provider.URL + "/v1",
		})
		expect(t, r, http.StatusOK, &adhocBad)
		if adhocBad.IsValid || strings.Contains(string(r.body), "sk-not-the-right-one-42") {
			t.Fatalf("ad hoc wrong key test = %s", r.body)
		}
	})

	t.Run("list by provider", func(t *testing.T) {
		var reply cv1.ListByProviderReply
		expect(t, a.get(t, "/credentials/provider/openai"), http.StatusOK, &reply)
		if reply.ProviderName != "openai" || reply.Total != 2 || len(reply.Credentials) != 2 {
			t.Fatalf("by provider = %+v", reply)
		}
		var none cv1.ListByProviderReply
		expect(t, a.get(t, "/credentials/provider/groq"), http.StatusOK, &none)
		if none.Total != 0 || none.Credentials == nil {
			t.Fatalf("by provider groq = %+v", none)
		}
	})

	t.Run("encryption", func(t *testing.T) {
		var h cv1.EncryptionHealthReply
		expect(t, a.get(t, "/credentials/encryption/health"), http.StatusOK, &h)
		if !h.EncryptionHealthy || !h.TestPassed || h.EncryptionAlgorithm == "" || h.KDFIterations <= 0 || h.Timestamp.IsZero() {
			t.Fatalf("encryption health = %+v", h)
		}
		var k cv1.GenerateKeyReply
		expect(t, a.do(t, http.MethodPost, "/credentials/encryption/generate-key", nil, ""), http.StatusOK, &k)
		if k.Length != 32 || len(k.SecureKey) < 32 || k.Recommendation == "" {
			t.Fatalf("default key = %+v", k)
		}
		expect(t, a.form(t, http.MethodPost, "/credentials/encryption/generate-key", url.Values{"length": {"128"}}), http.StatusOK, &k)
		if k.Length != 128 {
			t.Fatalf("128 key = %+v", k)
		}
		for _, n := range []string{"15", "129", "-1"} {
			r := a.form(t, http.MethodPost, "/credentials/encryption/generate-key", url.Values{"length": {n}})
			if r.status != http.StatusUnprocessableEntity && r.status != http.StatusBadRequest {
				t.Fatalf("length %s: %d %s", n, r.status, r.body)
			}
		}
	})

	t.Run("B gets 404 on A's credentials", func(t *testing.T) {
		for _, id := range []string{formCred.ID, jsonCred.ID} {
			expect(t, b.get(t, "/credentials/"+id), http.StatusNotFound, nil)
			expect(t, b.json(t, http.MethodPut, "/credentials/"+id, map[string]any{"name": "stolen"}), http.StatusNotFound, nil)
			expect(t, b.do(t, http.MethodDelete, "/credentials/"+id, nil, ""), http.StatusNotFound, nil)
			expect(t, b.json(t, http.MethodPost, "/credentials/test", map[string]any{"credential_id": id}), http.StatusNotFound, nil)
		}
		var still cv1.Credential
		expect(t, a.get(t, "/credentials/"+jsonCred.ID), http.StatusOK, &still)
		if still.Name != "renamed key" {
			t.Fatalf("B changed A's credential: %+v", still)
		}
	})

	t.Run("malformed id 404", func(t *testing.T) {
		for _, id := range []string{"not-an-id", "123", "zzzzzzzzzzzzzzzzzzzzzzzz"} {
			expect(t, a.get(t, "/credentials/"+id), http.StatusNotFound, nil)
			expect(t, a.json(t, http.MethodPut, "/credentials/"+id, map[string]any{"name": "x"}), http.StatusNotFound, nil)
			expect(t, a.do(t, http.MethodDelete, "/credentials/"+id, nil, ""), http.StatusNotFound, nil)
		}
	})

	t.Run("delete", func(t *testing.T) {
		var reply cv1.DeleteReply
		expect(t, a.do(t, http.MethodDelete, "/credentials/"+jsonCred.ID, nil, ""), http.StatusOK, &reply)
		if reply.CredentialID != jsonCred.ID {
			t.Fatalf("delete = %+v", reply)
		}
		expect(t, a.get(t, "/credentials/"+jsonCred.ID), http.StatusNotFound, nil)
		expect(t, a.do(t, http.MethodDelete, "/credentials/"+jsonCred.ID, nil, ""), http.StatusNotFound, nil)
		var page cv1.ListReply
		expect(t, a.get(t, "/credentials"), http.StatusOK, &page)
		if page.Total != 1 || page.Credentials[0].ID != formCred.ID {
			t.Fatalf("after delete = %+v", page)
		}
	})

	t.Run("service stopped 503", func(t *testing.T) {
		s.stopCreds()
		start := time.Now()
		env := expect(t, a.get(t, "/credentials"), http.StatusServiceUnavailable, nil)
		if len(env.Errors) == 0 || env.Errors[0].Code != "unavailable" {
			t.Fatalf("errors = %+v", env.Errors)
		}
		t.Logf("503 after %v", time.Since(start))
		// Providers come from the credential service too.
		expect(t, s.anonymous().get(t, "/providers"), http.StatusServiceUnavailable, nil)
	})
}

// listCredentialsStack has one user with 100 credentials.
func listCredentialsStack(b *testing.B) apiUser {
	b.Helper()
	s := startE2E(b, e2eOptions{})
	u := s.user(b, "e2e_bench", "")
	for i := range 100 {
		expect(b, u.json(b, http.MethodPost, "/credentials", map[string]any{
			"name": fmt.Sprintf("bench key %03d", i), "provider_name": "openai", "api_key": fmt.Sprintf("sk-bench-%020d", i),
		}), http.StatusCreated, nil)
	}
	return u
}

func listHundred(b *testing.B, u apiUser) {
	r := u.get(b, "/credentials?limit=100")
	if r.status != http.StatusOK {
		b.Fatalf("list: %d %s", r.status, r.body)
	}
	var page struct {
		Data struct {
			Credentials []json.RawMessage `json:"credentials"`
		} `json:"data"`
	}
	if err := json.Unmarshal(r.body, &page); err != nil || len(page.Data.Credentials) != 100 {
		b.Fatalf("list: %v, %d credentials", err, len(page.Data.Credentials))
	}
}

// BenchmarkListCredentials100ViaGateway lists a page of 100 credentials
// over loopback HTTP through the gateway, NATS and MongoDB.
func BenchmarkListCredentials100ViaGateway(b *testing.B) {
	u := listCredentialsStack(b)
	for b.Loop() {
		listHundred(b, u)
	}
}

// BenchmarkListCredentials100Latency sends the same requests one after
// another and reports their latency distribution and rate.
func BenchmarkListCredentials100Latency(b *testing.B) {
	u := listCredentialsStack(b)
	var lat []time.Duration
	start := time.Now()
	for b.Loop() {
		t0 := time.Now()
		listHundred(b, u)
		lat = append(lat, time.Since(t0))
	}
	elapsed := time.Since(start)
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
}
