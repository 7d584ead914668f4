package all_test

import (
	"encoding/json"
	"net/http"
	"testing"

	cv1 "github.com/nonefinity/backend/contracts/credentialv1"
	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
)

// TestE2EInstanceWideCountsAreAdminOnly: what the whole instance holds
// (DuckDB sessions of every user, every user's records on old keys and the
// rotation over them) is answered to an admin token and not to a user's.
func TestE2EInstanceWideCountsAreAdminOnly(t *testing.T) {
	s := startCredentialE2E(t)
	user := s.user(t, "e2e_counts_user", "")
	admin := s.user(t, "e2e_counts_admin", "admin")
	if r := user.json(t, http.MethodPost, "/credentials", cv1.CreateRequest{Name: "k", ProviderName: "openai", APIKey: fakeProviderKey}); r.status != http.StatusCreated {
		t.Fatalf("create credential: %d %s", r.status, r.body)
	}

	if r := user.get(t, "/duckdb/stats"); r.status != http.StatusForbidden {
		t.Fatalf("a user reads /duckdb/stats: %d %s", r.status, r.body)
	}
	var stats dv1.DuckDBStatsReply
	expect(t, admin.get(t, "/duckdb/stats"), http.StatusOK, &stats)
	if stats.InstanceTTL <= 0 {
		t.Fatalf("admin stats = %+v", stats)
	}

	var asUser map[string]json.RawMessage
	health := user.get(t, "/credentials/encryption/health")
	expect(t, health, http.StatusOK, &asUser)
	if _, ok := asUser["encryption_healthy"]; !ok {
		t.Fatalf("user health lacks encryption_healthy: %s", health.body)
	}
	for _, field := range []string{"records_on_old_keys", "rotation"} {
		if v, ok := asUser[field]; ok {
			t.Errorf("a user sees %s = %s", field, v)
		}
	}
	var asAdmin cv1.EncryptionHealthReply
	expect(t, admin.get(t, "/credentials/encryption/health"), http.StatusOK, &asAdmin)
	if asAdmin.RecordsOnOldKeys == nil || *asAdmin.RecordsOnOldKeys != 0 || !asAdmin.EncryptionHealthy {
		t.Fatalf("admin health = %+v", asAdmin)
	}
}
