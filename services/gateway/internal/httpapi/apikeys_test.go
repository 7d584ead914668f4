package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/logx"
	"github.com/nonefinity/backend/pkg/mongox"
	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/gateway/internal/apikeyevents"
	"github.com/nonefinity/backend/services/gateway/internal/apikeys"
	"github.com/nonefinity/backend/services/gateway/internal/apikeystore"
	"github.com/nonefinity/backend/services/gateway/internal/httpapi"
)

const testPepper = "a-test-pepper-of-at-least-32-characters!"

// keyInstance is one gateway instance's API key core over the shared
// database, subscribed to the other instances' invalidations.
type keyInstance struct {
	svc   *apikeys.Service
	clock *testkit.Clock
}

type keyConfig struct {
	maxPerUser int
	cacheTTL   time.Duration
	clock      *testkit.Clock
	available  func() error
}

// withAPIKeys gives the harness a real API key core over db (FerretDB),
// publishing and hearing invalidations on the harness's NATS.
func withAPIKeys(t testing.TB, db *mongo.Database, kc keyConfig, out **keyInstance) option {
	return func(o *httpapi.Options) {
		*out = startKeys(t, db, o, kc)
		o.APIKeys = (*out).svc
	}
}

func startKeys(t testing.TB, db *mongo.Database, o *httpapi.Options, kc keyConfig) *keyInstance {
	t.Helper()
	store := apikeystore.New(db, nil)
	if err := store.EnsureIndexes(context.Background()); err != nil {
		t.Fatal(err)
	}
	if kc.clock == nil {
		kc.clock = testkit.NewClock(time.Now())
	}
	svc, err := apikeys.New(apikeys.Options{
		Store: store, Publisher: apikeyevents.Publisher{NC: o.NC}, Pepper: []byte(testPepper), Env: "test",
		MaxPerUser: kc.maxPerUser, CacheTTL: kc.cacheTTL, Log: o.Log, Now: kc.clock.Now, Available: kc.available,
	})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := apikeyevents.Subscribe(o.NC, svc.Evict, logx.Discard())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go svc.Run(ctx)
	t.Cleanup(func() { cancel(); _ = sub.Unsubscribe() })
	return &keyInstance{svc: svc, clock: kc.clock}
}

// apiKeyReply is a key as the API answers it; key only at creation.
type apiKeyReply struct {
	Key        string     `json:"key"`
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	KeyPrefix  string     `json:"key_prefix"`
	Scopes     []string   `json:"scopes"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	IsActive   bool       `json:"is_active"`
}

func (h *harness) createKey(token, body string) apiKeyReply {
	h.t.Helper()
	rec := h.do(request{method: http.MethodPost, path: "/api/v1/api-keys", token: token, body: body})
	if rec.Code != http.StatusCreated {
		h.t.Fatalf("create key: %d %s", rec.Code, rec.Body.String())
	}
	var k apiKeyReply
	if err := json.Unmarshal(decodeEnvelope(h.t, rec).Data, &k); err != nil {
		h.t.Fatal(err)
	}
	return k
}

func newKeyHarness(t *testing.T, kc keyConfig, opts ...option) (*harness, *keyInstance, *mongo.Database) {
	t.Helper()
	db := testkit.Mongo(t)
	var ki *keyInstance
	h := newHarness(t, allServices, append([]option{withAPIKeys(t, db, kc, &ki)}, opts...)...)
	return h, ki, db
}

func TestAPIKeyRoutes2xx(t *testing.T) {
	h, _, db := newKeyHarness(t, keyConfig{})
	exp := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
	k := h.createKey(userToken, `{"name":" ci agent ","scopes":["datasets:read","datasets:query","datasets:read"],"expires_at":"`+exp.Format(time.RFC3339)+`"}`)
	if !strings.HasPrefix(k.Key, "nf_test_") || len(k.Key) != len("nf_test_")+43 || !strings.HasPrefix(k.Key, k.KeyPrefix) || len(k.KeyPrefix) != len("nf_test_")+8 {
		t.Fatalf("key %q prefix %q", k.Key, k.KeyPrefix)
	}
	if k.Name != "ci agent" || strings.Join(k.Scopes, ",") != "datasets:read,datasets:query" || !k.IsActive || k.ExpiresAt == nil || !k.ExpiresAt.Equal(exp) || k.LastUsedAt != nil {
		t.Fatalf("created %+v", k)
	}

	t.Run("stored only as a digest", func(t *testing.T) {
		var raw bson.M
		if err := db.Collection(apikeystore.Collection).FindOne(context.Background(), bson.M{}).Decode(&raw); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(raw)
		secret := strings.TrimPrefix(k.Key, "nf_test_")
		if bytes.Contains(b, []byte(secret)) || bytes.Contains(b, []byte(k.Key)) {
			t.Fatalf("the plaintext key is stored: %s", b)
		}
		if h, _ := raw["key_hash"].(string); len(h) != 64 {
			t.Fatalf("key_hash %v, want 64 hex digits", raw["key_hash"])
		}
	})

	t.Run("list and get show no secret", func(t *testing.T) {
		for _, path := range []string{"/api/v1/api-keys", "/api/v1/api-keys/" + k.ID} {
			rec := h.do(request{method: http.MethodGet, path: path, token: userToken})
			if rec.Code != http.StatusOK {
				t.Fatalf("%s: %d %s", path, rec.Code, rec.Body.String())
			}
			body := rec.Body.String()
			if strings.Contains(body, strings.TrimPrefix(k.Key, "nf_test_")) || strings.Contains(body, `"key"`) || strings.Contains(body, "hash") {
				t.Fatalf("%s shows the secret: %s", path, body)
			}
			if !strings.Contains(body, k.KeyPrefix) || !strings.Contains(body, `"is_active":true`) || !strings.Contains(body, `"last_used_at":null`) {
				t.Fatalf("%s: %s", path, body)
			}
		}
	})

	t.Run("update name and scopes", func(t *testing.T) {
		rec := h.do(request{method: http.MethodPut, path: "/api/v1/api-keys/" + k.ID, token: userToken, body: `{"name":"renamed","scopes":["files:read"]}`})
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"name":"renamed"`) || !strings.Contains(rec.Body.String(), `"scopes":["files:read"]`) {
			t.Fatalf("%d %s", rec.Code, rec.Body.String())
		}
	})

	t.Run("revoke then delete", func(t *testing.T) {
		for range 2 { // revoking twice answers the revoked key
			rec := h.do(request{method: http.MethodPost, path: "/api/v1/api-keys/" + k.ID + "/revoke", token: userToken})
			if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"is_active":false`) || !strings.Contains(rec.Body.String(), `"revoked_at":"`) {
				t.Fatalf("revoke: %d %s", rec.Code, rec.Body.String())
			}
		}
		rec := h.do(request{method: http.MethodDelete, path: "/api/v1/api-keys/" + k.ID, token: userToken})
		if rec.Code != http.StatusOK || !jsonEqual(t, decodeEnvelope(t, rec).Data, `{"id":"`+k.ID+`"}`) {
			t.Fatalf("delete: %d %s", rec.Code, rec.Body.String())
		}
		expectError(t, h.do(request{method: http.MethodGet, path: "/api/v1/api-keys/" + k.ID, token: userToken}), http.StatusNotFound, rpcerr.NotFound, "")
	})
}

func TestAPIKeyRoutes4xx(t *testing.T) {
	h, _, db := newKeyHarness(t, keyConfig{maxPerUser: 2})
	post := func(token, body string) *httptest.ResponseRecorder {
		return h.do(request{method: http.MethodPost, path: "/api/v1/api-keys", token: token, body: body})
	}
	for _, tc := range []struct {
		name, body, field string
	}{
		{"unknown scope", `{"name":"a","scopes":["datasets:read","admin:all"]}`, "scopes"},
		{"no scopes", `{"name":"a","scopes":[]}`, "scopes"},
		{"empty name", `{"name":"  ","scopes":["files:read"]}`, "name"},
		{"long name", `{"name":"` + strings.Repeat("n", 101) + `","scopes":["files:read"]}`, "name"},
		{"expiry in the past", `{"name":"a","scopes":["files:read"],"expires_at":"2020-01-01T00:00:00Z"}`, "expires_at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := expectError(t, post(userToken, tc.body), http.StatusUnprocessableEntity, rpcerr.Validation, tc.field)
			if tc.name == "unknown scope" && !strings.Contains(env.Message, `"admin:all"`) {
				t.Errorf("message %q does not name the scope", env.Message)
			}
		})
	}
	if n, _ := db.Collection(apikeystore.Collection).CountDocuments(context.Background(), bson.M{}); n != 0 {
		t.Fatalf("refused creations stored %d keys", n)
	}

	mine := h.createKey(userToken, `{"name":"a","scopes":["files:read"]}`)
	theirs := h.createKey(userBToken, `{"name":"b","scopes":["files:read"]}`)

	t.Run("another user's key is a missing key", func(t *testing.T) {
		for _, id := range []string{theirs.ID, "65f2a1b3c4d5e6f708192fff", "not-an-id"} {
			for _, r := range []request{
				{method: http.MethodGet, path: "/api/v1/api-keys/" + id},
				{method: http.MethodPut, path: "/api/v1/api-keys/" + id, body: `{"name":"stolen"}`},
				{method: http.MethodPost, path: "/api/v1/api-keys/" + id + "/revoke"},
				{method: http.MethodDelete, path: "/api/v1/api-keys/" + id},
			} {
				r.token = userToken
				env := expectError(t, h.do(r), http.StatusNotFound, rpcerr.NotFound, "")
				if env.Message != "API key not found" {
					t.Errorf("%s %s: message %q", r.method, r.path, env.Message)
				}
			}
		}
		// B's key is untouched and still works.
		rec := h.do(request{method: http.MethodGet, path: "/api/v1/file/list", token: theirs.Key})
		if rec.Code != http.StatusOK {
			t.Fatalf("B's key after A's attempts: %d %s", rec.Code, rec.Body.String())
		}
		rec = h.do(request{method: http.MethodGet, path: "/api/v1/api-keys", token: userToken})
		if strings.Contains(rec.Body.String(), theirs.ID) {
			t.Fatalf("A's list shows B's key: %s", rec.Body.String())
		}
	})

	t.Run("update without fields", func(t *testing.T) {
		expectError(t, h.do(request{method: http.MethodPut, path: "/api/v1/api-keys/" + mine.ID, token: userToken, body: `{}`}), http.StatusBadRequest, rpcerr.BadRequest, "")
		expectError(t, h.do(request{method: http.MethodPut, path: "/api/v1/api-keys/" + mine.ID, token: userToken, body: `{"scopes":["nope"]}`}), http.StatusUnprocessableEntity, rpcerr.Validation, "scopes")
	})

	t.Run("a key cannot manage keys", func(t *testing.T) {
		for _, r := range []request{
			{method: http.MethodPost, path: "/api/v1/api-keys", body: `{"name":"x","scopes":["files:read"]}`},
			{method: http.MethodGet, path: "/api/v1/api-keys"},
			{method: http.MethodPost, path: "/api/v1/api-keys/" + mine.ID + "/revoke"},
			{method: http.MethodDelete, path: "/api/v1/api-keys/" + mine.ID},
		} {
			r.token = mine.Key
			expectError(t, h.do(r), http.StatusForbidden, rpcerr.Forbidden, "")
		}
	})

	t.Run("at most N keys", func(t *testing.T) {
		h.createKey(userToken, `{"name":"second","scopes":["files:read"]}`)
		env := expectError(t, post(userToken, `{"name":"third","scopes":["files:read"]}`), http.StatusConflict, rpcerr.Conflict, "")
		if !strings.Contains(env.Message, "at most 2") {
			t.Errorf("message %q", env.Message)
		}
	})

	t.Run("a revoked key cannot be changed", func(t *testing.T) {
		h.do(request{method: http.MethodPost, path: "/api/v1/api-keys/" + mine.ID + "/revoke", token: userToken})
		expectError(t, h.do(request{method: http.MethodPut, path: "/api/v1/api-keys/" + mine.ID, token: userToken, body: `{"name":"again"}`}), http.StatusConflict, rpcerr.Conflict, "")
	})
}

// The document says which scope an API key needs for each operation it may
// call, and offers no key scheme where only a session is admitted.
func TestOpenAPIDocumentsKeyScopes(t *testing.T) {
	h, _, _ := newKeyHarness(t, keyConfig{})
	doc, _ := fetchOpenAPI(t, h)
	security := func(path, method string) []map[string][]string {
		var op struct {
			Security []map[string][]string `json:"security"`
		}
		if err := json.Unmarshal(doc.Paths[path][method], &op); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return op.Security
	}
	for _, tc := range []struct {
		path, method, scope string
	}{
		{"/api/v1/datasets/query", "post", "datasets:query"},
		{"/api/v1/file/list", "get", "files:read"},
		{"/api/v1/credentials/{id}", "get", "credentials:read"},
		{"/api/v1/credentials", "post", ""},
		{"/api/v1/api-keys", "post", ""},
		{"/api/v1/duckdb/stats", "get", ""},
	} {
		got := security(tc.path, tc.method)
		scopes, hasKey := map[string][]string{}, false
		for _, req := range got {
			for name, s := range req {
				scopes[name] = s
				hasKey = hasKey || name != "bearer"
			}
		}
		switch {
		case tc.scope == "" && hasKey:
			t.Errorf("%s %s is for sessions but documents key schemes: %v", tc.method, tc.path, got)
		case tc.scope != "" && (len(scopes["apiKeyBearer"]) != 1 || scopes["apiKeyBearer"][0] != tc.scope || len(scopes["apiKeyHeader"]) != 1):
			t.Errorf("%s %s: security %v, want the key schemes with %s", tc.method, tc.path, got, tc.scope)
		}
	}
}

// While the database is known to be down, a cached key still works, and
// whatever needs the database is a 503 at once.
func TestAPIKeysWhileTheDatabaseIsDown(t *testing.T) {
	var down atomic.Bool
	h, _, _ := newKeyHarness(t, keyConfig{available: func() error {
		if down.Load() {
			return mongox.ErrUnavailable
		}
		return nil
	}})
	warm := h.createKey(userToken, `{"name":"warm","scopes":["files:read"]}`)
	cold := h.createKey(userToken, `{"name":"cold","scopes":["files:read"]}`)
	if rec := h.do(request{method: http.MethodGet, path: "/api/v1/file/list", token: warm.Key}); rec.Code != http.StatusOK {
		t.Fatalf("%d", rec.Code)
	}
	down.Store(true)
	if rec := h.do(request{method: http.MethodGet, path: "/api/v1/file/list", token: warm.Key}); rec.Code != http.StatusOK {
		t.Fatalf("a cached key while the database is down: %d %s", rec.Code, rec.Body.String())
	}
	expectError(t, h.do(request{method: http.MethodGet, path: "/api/v1/file/list", token: cold.Key}), http.StatusServiceUnavailable, rpcerr.Unavailable, "")
	expectError(t, h.do(request{method: http.MethodGet, path: "/api/v1/api-keys", token: userToken}), http.StatusServiceUnavailable, rpcerr.Unavailable, "")
	expectError(t, h.do(request{method: http.MethodPost, path: "/api/v1/api-keys", token: userToken, body: `{"name":"x","scopes":["files:read"]}`}),
		http.StatusServiceUnavailable, rpcerr.Unavailable, "")
}
