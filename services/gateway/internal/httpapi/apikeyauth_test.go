package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	cv1 "github.com/nonefinity/backend/contracts/credentialv1"
	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	fv1 "github.com/nonefinity/backend/contracts/filev1"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/gateway/internal/access"
	"github.com/nonefinity/backend/services/gateway/internal/apikeys"
	"github.com/nonefinity/backend/services/gateway/internal/apikeystore"
	"github.com/nonefinity/backend/services/gateway/internal/httpapi"
)

func TestAPIKeyAuthenticates(t *testing.T) {
	var logs bytes.Buffer
	h, _, _ := newKeyHarness(t, keyConfig{}, func(o *httpapi.Options) { o.Log = newJSONLogger(&logs) })
	k := h.createKey(userToken, `{"name":"agent","scopes":["datasets:read","files:read","credentials:read"]}`)

	t.Run("bearer: the owner's id travels to the service", func(t *testing.T) {
		rec := h.do(request{method: http.MethodGet, path: "/api/v1/datasets/list", token: k.Key})
		if rec.Code != http.StatusOK {
			t.Fatalf("%d %s", rec.Code, rec.Body.String())
		}
		if m := h.stubs.lastCall(t, dv1.Subject(dv1.OpList)).Meta; m.UserID != userAID || m.Role != "user" {
			t.Fatalf("meta %+v", m)
		}
	})
	t.Run("X-API-Key", func(t *testing.T) {
		rec := h.do(request{method: http.MethodGet, path: "/api/v1/file/list", header: map[string]string{"X-API-Key": k.Key}})
		if rec.Code != http.StatusOK {
			t.Fatalf("%d %s", rec.Code, rec.Body.String())
		}
		if m := h.stubs.lastCall(t, fv1.Subject(fv1.OpList)).Meta; m.UserID != userAID {
			t.Fatalf("meta %+v", m)
		}
	})
	t.Run("credentials:read lists masked keys", func(t *testing.T) {
		if rec := h.do(request{method: http.MethodGet, path: "/api/v1/credentials", token: k.Key}); rec.Code != http.StatusOK {
			t.Fatalf("%d %s", rec.Code, rec.Body.String())
		}
	})
	t.Run("outside its scopes: 403 naming the scope", func(t *testing.T) {
		before := h.stubs.count(dv1.Subject(dv1.OpQuery))
		env := expectError(t, h.do(request{method: http.MethodPost, path: "/api/v1/datasets/query", token: k.Key, body: `{"query":"select 1"}`}),
			http.StatusForbidden, rpcerr.Forbidden, "")
		if !strings.Contains(env.Message, `"datasets:query"`) {
			t.Errorf("message %q does not name the scope", env.Message)
		}
		if h.stubs.count(dv1.Subject(dv1.OpQuery)) != before {
			t.Error("the refused query reached the service")
		}
		env = expectError(t, h.do(request{method: http.MethodDelete, path: "/api/v1/file/" + sampleID, token: k.Key}), http.StatusForbidden, rpcerr.Forbidden, "")
		if !strings.Contains(env.Message, `"files:write"`) {
			t.Errorf("message %q", env.Message)
		}
	})
	t.Run("session-only routes", func(t *testing.T) {
		for _, r := range []request{
			{method: http.MethodPost, path: "/api/v1/credentials", body: `{"name":"x","provider_name":"openai","api_key":"sk-1"}`},
			{method: http.MethodPost, path: "/api/v1/credentials/test", body: `{"credential_id":"` + sampleID + `"}`},
			{method: http.MethodGet, path: "/api/v1/auth/me"},
			{method: http.MethodGet, path: "/api/v1/auth/verify-token"},
		} {
			r.token = k.Key
			expectError(t, h.do(r), http.StatusForbidden, rpcerr.Forbidden, "")
		}
		if h.stubs.count(cv1.Subject(cv1.OpCreate)) != 0 {
			t.Error("a key created a credential")
		}
	})
	t.Run("a session keeps every scope", func(t *testing.T) {
		if rec := h.do(request{method: http.MethodPost, path: "/api/v1/datasets/query", token: userToken, body: `{"query":"select 1"}`}); rec.Code != http.StatusOK {
			t.Fatalf("%d %s", rec.Code, rec.Body.String())
		}
	})
	t.Run("unknown and malformed keys", func(t *testing.T) {
		for _, key := range []string{"nf_test_" + strings.Repeat("A", 43), "nf_test_short", k.Key + "x"} {
			expectError(t, h.do(request{method: http.MethodGet, path: "/api/v1/file/list", token: key}), http.StatusUnauthorized, rpcerr.Unauthorized, "")
			expectError(t, h.do(request{method: http.MethodGet, path: "/api/v1/file/list", header: map[string]string{"X-API-Key": key}}), http.StatusUnauthorized, rpcerr.Unauthorized, "")
		}
	})
	if strings.Contains(logs.String(), strings.TrimPrefix(k.Key, "nf_test_")) {
		t.Fatal("the key is in the logs")
	}
}

func TestAdminsKeyIsNoAdmin(t *testing.T) {
	h, _, _ := newKeyHarness(t, keyConfig{})
	k := h.createKey(adminToken, `{"name":"admin's","scopes":["datasets:read"]}`)
	expectError(t, h.do(request{method: http.MethodGet, path: "/api/v1/duckdb/stats", token: k.Key}), http.StatusForbidden, rpcerr.Forbidden, "")
	if rec := h.do(request{method: http.MethodGet, path: "/api/v1/duckdb/stats", token: adminToken}); rec.Code != http.StatusOK {
		t.Fatalf("admin session: %d", rec.Code)
	}
}

func TestExpiredKeyIs401(t *testing.T) {
	clock := testkit.NewClock(time.Now())
	h, _, _ := newKeyHarness(t, keyConfig{clock: clock}, func(o *httpapi.Options) { o.Now = clock.Now })
	exp := clock.Now().Add(time.Hour).UTC()
	k := h.createKey(userToken, `{"name":"short","scopes":["files:read"],"expires_at":"`+exp.Format(time.RFC3339Nano)+`"}`)
	if rec := h.do(request{method: http.MethodGet, path: "/api/v1/file/list", token: k.Key}); rec.Code != http.StatusOK {
		t.Fatalf("before expiry: %d %s", rec.Code, rec.Body.String())
	}
	clock.Advance(time.Hour)
	env := expectError(t, h.do(request{method: http.MethodGet, path: "/api/v1/file/list", token: k.Key}), http.StatusUnauthorized, rpcerr.Unauthorized, "")
	if env.Message != apikeys.ErrKeyExpired.Error() {
		t.Errorf("message %q", env.Message)
	}
	rec := h.do(request{method: http.MethodGet, path: "/api/v1/api-keys/" + k.ID, token: userToken})
	if !strings.Contains(rec.Body.String(), `"is_active":false`) {
		t.Errorf("expired key listed active: %s", rec.Body.String())
	}
}

func TestBannedOwnersKeyIs403(t *testing.T) {
	h, ki, _ := newKeyHarness(t, keyConfig{})
	c, err := ki.svc.Create(context.Background(), apikeys.Owner{UserID: bannedID, ClerkID: "banned_1"}, apikeys.NewKey{Name: "b", Scopes: []string{string(access.FilesRead)}})
	if err != nil {
		t.Fatal(err)
	}
	env := expectError(t, h.do(request{method: http.MethodGet, path: "/api/v1/file/list", token: c.Plaintext}), http.StatusForbidden, rpcerr.Forbidden, "")
	if !strings.Contains(env.Message, "banned") {
		t.Errorf("message %q", env.Message)
	}
}

// Revoking on one instance refuses the key on another within seconds: the
// caches' TTL is an hour here, so only the invalidation event can do it.
func TestRevokedKeyIsRefusedByAnotherInstance(t *testing.T) {
	db := testkit.Mongo(t)
	var a *keyInstance
	h := newHarness(t, allServices, withAPIKeys(t, db, keyConfig{cacheTTL: time.Hour}, &a))
	optsB := h.opts
	b := startKeys(t, db, &optsB, keyConfig{cacheTTL: time.Hour})
	optsB.APIKeys = b.svc
	apiB, err := httpapi.New(optsB)
	if err != nil {
		t.Fatal(err)
	}
	hb := &harness{t: t, ns: h.ns, nc: h.nc, api: apiB, handler: apiB.Router(), stubs: h.stubs, opts: optsB}

	for _, tc := range []struct {
		name, path string
		method     string
	}{
		{"revoked", "/revoke", http.MethodPost},
		{"deleted", "", http.MethodDelete},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := h.createKey(userToken, `{"name":"`+tc.name+`","scopes":["files:read"]}`)
			if rec := hb.do(request{method: http.MethodGet, path: "/api/v1/file/list", token: k.Key}); rec.Code != http.StatusOK {
				t.Fatalf("instance B before: %d %s", rec.Code, rec.Body.String())
			}
			if rec := h.do(request{method: tc.method, path: "/api/v1/api-keys/" + k.ID + tc.path, token: userToken}); rec.Code != http.StatusOK {
				t.Logf("%s", rec.Body.String())
				t.Fatalf("on A: %d %s", rec.Code, rec.Body.String())
			}
			testkit.Eventually(t, 5*time.Second, func() error {
				if rec := hb.do(request{method: http.MethodGet, path: "/api/v1/file/list", token: k.Key}); rec.Code != http.StatusUnauthorized {
					return fmt.Errorf("instance B answers %d", rec.Code)
				}
				return nil
			})
		})
	}

	t.Run("narrowed scopes", func(t *testing.T) {
		k := h.createKey(userToken, `{"name":"narrowed","scopes":["files:read","datasets:read"]}`)
		if rec := hb.do(request{method: http.MethodGet, path: "/api/v1/datasets/list", token: k.Key}); rec.Code != http.StatusOK {
			t.Fatalf("before: %d", rec.Code)
		}
		h.do(request{method: http.MethodPut, path: "/api/v1/api-keys/" + k.ID, token: userToken, body: `{"scopes":["files:read"]}`})
		testkit.Eventually(t, 5*time.Second, func() error {
			if rec := hb.do(request{method: http.MethodGet, path: "/api/v1/datasets/list", token: k.Key}); rec.Code != http.StatusForbidden {
				return fmt.Errorf("instance B answers %d", rec.Code)
			}
			return nil
		})
	})
}

func TestPerKeyRateLimit(t *testing.T) {
	h, _, _ := newKeyHarness(t, keyConfig{}, func(o *httpapi.Options) {
		o.KeyRateLimit = 2
		o.KeyRateLimiter = httpapi.NewMemoryRateLimiter(2)
	})
	k1 := h.createKey(userToken, `{"name":"one","scopes":["files:read"]}`)
	k2 := h.createKey(userToken, `{"name":"two","scopes":["files:read"]}`)
	for i := range 2 {
		if rec := h.do(request{method: http.MethodGet, path: "/api/v1/file/list", token: k1.Key}); rec.Code != http.StatusOK {
			t.Fatalf("request %d: %d", i, rec.Code)
		}
	}
	expectError(t, h.do(request{method: http.MethodGet, path: "/api/v1/file/list", token: k1.Key}), http.StatusTooManyRequests, rpcerr.RateLimited, "")
	// Another key of the same user, and the user's session, have their own.
	for _, token := range []string{k2.Key, userToken, userToken, userToken} {
		if rec := h.do(request{method: http.MethodGet, path: "/api/v1/file/list", token: token}); rec.Code != http.StatusOK {
			t.Fatalf("%d %s", rec.Code, rec.Body.String())
		}
	}
}

// A key's use is recorded off the request path, and at most once a minute.
func TestKeyUseIsRecorded(t *testing.T) {
	clock := testkit.NewClock(time.Now())
	h, _, db := newKeyHarness(t, keyConfig{clock: clock}, func(o *httpapi.Options) { o.Now = clock.Now })
	k := h.createKey(userToken, `{"name":"used","scopes":["files:read"]}`)
	lastUsed := func() (*time.Time, error) {
		rec := h.do(request{method: http.MethodGet, path: "/api/v1/api-keys/" + k.ID, token: userToken})
		var got apiKeyReply
		if err := json.Unmarshal(decodeEnvelope(t, rec).Data, &got); err != nil {
			return nil, err
		}
		return got.LastUsedAt, nil
	}
	use := func() {
		if rec := h.do(request{method: http.MethodGet, path: "/api/v1/file/list", token: k.Key}); rec.Code != http.StatusOK {
			t.Fatalf("%d %s", rec.Code, rec.Body.String())
		}
	}
	first := clock.Now().UTC().Truncate(time.Millisecond)
	use()
	testkit.Eventually(t, 5*time.Second, func() error {
		if at, err := lastUsed(); err != nil || at == nil || !at.Equal(first) {
			return fmt.Errorf("last_used_at %v (%v), want %v", at, err, first)
		}
		return nil
	})
	clock.Advance(30 * time.Second)
	use() // within the minute: nothing to write
	clock.Advance(31 * time.Second)
	second := clock.Now().UTC().Truncate(time.Millisecond)
	use()
	testkit.Eventually(t, 5*time.Second, func() error {
		if at, err := lastUsed(); err != nil || at == nil || !at.Equal(second) {
			return fmt.Errorf("last_used_at %v (%v), want %v", at, err, second)
		}
		return nil
	})
	if n, _ := db.Collection(apikeystore.UsageCollection).CountDocuments(context.Background(), bson.M{}); n != 1 {
		t.Fatalf("%d usage documents, want 1", n)
	}
}

// Concurrent creations fill the limit exactly: each key takes a free slot
// under a unique index, and a creation that loses a slot takes the next.
func TestKeyLimitHoldsUnderConcurrentCreations(t *testing.T) {
	h, _, db := newKeyHarness(t, keyConfig{maxPerUser: 3})
	codes := make(chan int, 8)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := h.do(request{method: http.MethodPost, path: "/api/v1/api-keys", token: userToken, body: fmt.Sprintf(`{"name":"k%d","scopes":["files:read"]}`, i)})
			codes <- rec.Code
		}()
	}
	wg.Wait()
	close(codes)
	created := 0
	for c := range codes {
		switch c {
		case http.StatusCreated:
			created++
		case http.StatusConflict:
		default:
			t.Fatalf("status %d", c)
		}
	}
	n, err := db.Collection(apikeystore.Collection).CountDocuments(context.Background(), bson.M{"owner_id": userAID})
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 || created != 3 {
		t.Fatalf("%d keys stored, %d creations answered 201; the limit is 3", n, created)
	}
}
