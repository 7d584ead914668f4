package contracts_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	cv1 "github.com/nonefinity/backend/contracts/credentialv1"
	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	fv1 "github.com/nonefinity/backend/contracts/filev1"
	"github.com/nonefinity/backend/contracts/userv1"
)

// Documents the Python service wrote carry updated_at: null until their
// first update, which the stores read as the zero time. API.md omits null
// fields, so a zero created_at or updated_at is left out of every record
// the API shows, never written as 0001-01-01T00:00:00Z.
func TestZeroTimesAreOmitted(t *testing.T) {
	created := time.Date(2025, 9, 21, 15, 6, 45, 0, time.UTC)
	for name, v := range map[string]any{
		"user":       userv1.User{ID: "u", CreatedAt: created},
		"credential": cv1.Credential{ID: "c", CreatedAt: created},
		"provider":   cv1.Provider{ID: "p", CreatedAt: created},
		"file":       fv1.File{ID: "f", CreatedAt: created},
		"dataset":    dv1.Dataset{ID: "d", CreatedAt: created},
	} {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		if _, ok := m["updated_at"]; ok || strings.Contains(string(raw), "0001-01-01") {
			t.Errorf("%s: %s, want no updated_at", name, raw)
		}
		if m["created_at"] != "2025-09-21T15:06:45Z" {
			t.Errorf("%s: created_at %v", name, m["created_at"])
		}
	}
}
