package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/nonefinity/backend/contracts/credentialv1"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/contracts/userv1"
	"github.com/nonefinity/backend/pkg/config"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/credential/internal/credential"
	"github.com/nonefinity/backend/services/credential/internal/keyring"
	"github.com/nonefinity/backend/services/credential/internal/keyring/legacytest"
	"github.com/nonefinity/backend/services/credential/internal/providers"
	"github.com/nonefinity/backend/services/credential/internal/store"
)

const (
	oldSecret = "the-old-secret"
	newSecret = "the-new-secret"
)

// insertPythonRecord writes a credentials document as the Python service
// did: only its fields, the key as base64url(Fernet token).
func (e *env) insertPythonRecord(t *testing.T, secret, owner, name, plaintext string, deleted bool) string {
	t.Helper()
	id := bson.NewObjectID()
	now := time.Now().UTC().Truncate(time.Millisecond)
	doc := bson.M{
		"_id": id, "owner_id": owner, "name": name, "provider_name": "openai",
		"api_key":  legacytest.PythonValue(t, secret, testSalt, testIterations, plaintext),
		"base_url": nil, "additional_headers": nil, "is_active": true,
		"is_deleted": deleted, "deleted_at": nil, "created_at": now, "updated_at": now,
	}
	if deleted {
		doc["deleted_at"] = now
	}
	if _, err := e.db.Collection(store.CredentialsCollection).InsertOne(context.Background(), doc); err != nil {
		t.Fatal(err)
	}
	return id.Hex()
}

func (e *env) storedKey(t *testing.T, id string) string {
	t.Helper()
	oid, _ := bson.ObjectIDFromHex(id)
	var doc struct {
		APIKey string `bson:"api_key"`
	}
	if err := e.db.Collection(store.CredentialsCollection).FindOne(context.Background(), bson.M{"_id": oid}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc.APIKey
}

func keyringFor(t *testing.T, secret string, previous ...string) *keyring.Keyring {
	t.Helper()
	kr, err := keyring.New(keyring.Options{Secret: secret, PreviousSecrets: previous, Salt: testSalt, Iterations: testIterations})
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// A database the Python service filled is used as is: its Fernet values
// decrypt, and a rotation that is killed halfway and resumed moves every
// record, legacy ones included, to v2 under the new secret without losing
// one.
func TestLegacyRecordsAndResumedRotation(t *testing.T) {
	e := newEnv(t)
	legacyID := e.insertPythonRecord(t, oldSecret, userA, "python era", "sk-python-era-000111", false)
	deletedID := e.insertPythonRecord(t, oldSecret, userA, "python era", "sk-python-deleted-0", true)

	// 1. The Go service on the old secret reads the Python record.
	stop := e.start(t, e.config(t, oldSecret), hooks{})
	r, err := e.cl.Resolve(as(userA), credentialv1.ResolveRequest{CredentialID: legacyID})
	if err != nil || r.APIKey != "sk-python-era-000111" {
		t.Fatalf("resolve of the Python record = %v", err)
	}
	got, err := e.cl.Get(as(userA), credentialv1.GetRequest{ID: legacyID})
	if err != nil || got.APIKeyMasked != "sk-p************0111" || got.Name != "python era" {
		t.Fatalf("get of the Python record = %+v, %v", got, err)
	}
	plaintexts := map[string]string{legacyID: "sk-python-era-000111"}
	owners := map[string]string{legacyID: userA}
	for i := range 11 {
		owner := []string{userA, userB}[i%2]
		key := fmt.Sprintf("sk-rotate-%02d-abcdefgh", i)
		c, err := e.cl.Create(as(owner), credentialv1.CreateRequest{Name: fmt.Sprintf("k%d", i), ProviderName: "openai", APIKey: key})
		if err != nil {
			t.Fatal(err)
		}
		plaintexts[c.ID], owners[c.ID] = key, owner
	}
	h, _ := e.cl.EncryptionHealth(asAdmin())
	if n := oldKeys(h); n != 2 {
		t.Fatalf("records on old keys = %d, want the 2 Python records", n)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// 2. The secret changes; a rotation is killed after two batches.
	kr := keyringFor(t, newSecret, oldSecret)
	st := store.New(e.db)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	batches := 0
	killed := credential.NewService(credential.Options{
		Store: st, Cipher: kr, Catalog: providers.Catalog{}, RotationBatchSize: 4,
		OnRotationProgress: func(credential.RotationProgress) {
			if batches++; batches == 2 {
				cancel()
			}
		},
	})
	p, err := killed.RunRotation(ctx, 0)
	killed.Close()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("killed rotation returned %v", err)
	}
	if p.State != credential.RotationRunning || p.Processed != 8 || p.Total != 13 || p.LastID == "" {
		t.Fatalf("progress after the kill = %+v", p)
	}
	stored, _, _ := st.LoadRotation(context.Background())
	if stored.State != credential.RotationRunning || stored.Processed != 8 || stored.LastID != p.LastID {
		t.Fatalf("stored progress after the kill = %+v", stored)
	}
	if left, _ := st.CountNotOnKey(context.Background(), kr.KeyID()); left != 5 {
		t.Fatalf("records left on old keys after the kill = %d, want 5", left)
	}

	// 3. The next start resumes where the killed run stopped.
	finished := make(chan credential.RotationProgress, 1)
	stop = e.start(t, e.config(t, newSecret, oldSecret), hooks{onRotationProgress: func(p credential.RotationProgress) {
		if p.State != credential.RotationRunning {
			finished <- p
		}
	}})
	select {
	case p = <-finished:
	case <-time.After(30 * time.Second):
		t.Fatal("the resumed rotation did not finish within 30s")
	}
	if p.State != credential.RotationDone || p.Total != 13 || p.Processed != 13 || p.Failed != 0 {
		t.Fatalf("resumed rotation = %+v", p)
	}
	h, _ = e.cl.EncryptionHealth(asAdmin())
	if oldKeys(h) != 0 || h.Rotation == nil || h.Rotation.State != credentialv1.RotationDone || h.Rotation.FinishedAt == nil ||
		h.KeyID != kr.KeyID() || !h.EncryptionHealthy {
		t.Fatalf("health after rotation = %+v (rotation %+v)", h, h.Rotation)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// 4. Without the old secret every record still decrypts: all are v2
	// under the new key, none was lost or altered.
	e.start(t, e.config(t, newSecret), hooks{})
	prefix := "v2:" + kr.KeyID() + ":"
	for id, want := range plaintexts {
		r, err := e.cl.Resolve(as(owners[id]), credentialv1.ResolveRequest{CredentialID: id})
		if err != nil || r.APIKey != want {
			t.Fatalf("record %s after rotation: %v (key matches: %v)", id, err, r.APIKey == want)
		}
		if v := e.storedKey(t, id); !strings.HasPrefix(v, prefix) {
			t.Fatalf("record %s is stored as %.16s…, want %s", id, v, prefix)
		}
	}
	if v := e.storedKey(t, deletedID); !strings.HasPrefix(v, prefix) {
		t.Fatalf("the deleted Python record is stored as %.16s…", v)
	}
	list, _ := e.cl.List(as(userA), credentialv1.ListRequest{})
	if list.Total != 7 {
		t.Fatalf("user A has %d credentials, want 7", list.Total)
	}
}

// An update moves a record on an old key to the current one.
func TestWriteReencryptsOldRecord(t *testing.T) {
	e := newEnv(t)
	legacyID := e.insertPythonRecord(t, oldSecret, userA, "python era", "sk-python-era-000111", false)
	e.start(t, e.config(t, newSecret, oldSecret), hooks{})
	if _, err := e.cl.Update(as(userA), credentialv1.UpdateRequest{ID: legacyID, Name: ptr("renamed")}); err != nil {
		t.Fatal(err)
	}
	kid := keyringFor(t, newSecret).KeyID()
	if v := e.storedKey(t, legacyID); !strings.HasPrefix(v, "v2:"+kid+":") {
		t.Fatalf("after an update the record is stored as %.16s…", v)
	}
	got, _ := e.cl.Get(as(userA), credentialv1.GetRequest{ID: legacyID})
	if got.Name != "renamed" || got.APIKeyMasked != "sk-p************0111" {
		t.Fatalf("get = %+v", got)
	}
}

func TestRotateThroughNATS(t *testing.T) {
	e := newEnv(t)
	stop := e.start(t, e.config(t, oldSecret), hooks{})
	for i := range 5 {
		if _, err := e.cl.Create(as(userA), credentialv1.CreateRequest{Name: fmt.Sprintf("k%d", i), ProviderName: "openai", APIKey: fmt.Sprintf("sk-nats-rotate-%02d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	firstBatch, release := make(chan struct{}), make(chan struct{})
	finished := make(chan credential.RotationProgress, 1)
	batches := 0
	e.start(t, e.config(t, newSecret, oldSecret), hooks{onRotationProgress: func(p credential.RotationProgress) {
		if p.State != credential.RotationRunning {
			finished <- p
			return
		}
		if batches++; batches == 1 {
			close(firstBatch)
			<-release
		}
	}})
	// Registered after start, so it runs before the service is stopped.
	releaseRotation := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseRotation)
	h, _ := e.cl.EncryptionHealth(asAdmin())
	if n := oldKeys(h); n != 5 {
		t.Fatalf("records on old keys = %d", n)
	}
	reply, err := e.cl.Rotate(asAdmin(), credentialv1.RotateRequest{BatchSize: 2})
	if err != nil || !reply.Started || reply.Rotation.State != credentialv1.RotationRunning || reply.Rotation.Total != 5 {
		t.Fatalf("rotate = %+v, %v", reply, err)
	}
	<-firstBatch
	again, err := e.cl.Rotate(asAdmin(), credentialv1.RotateRequest{})
	if err != nil || again.Started || again.Rotation.State != credentialv1.RotationRunning || again.Rotation.Processed != 2 {
		t.Fatalf("second rotate while running = %+v, %v", again, err)
	}
	// Reads keep working during the rotation.
	list, err := e.cl.List(as(userA), credentialv1.ListRequest{})
	if err != nil || list.Total != 5 {
		t.Fatalf("list during rotation: %v", err)
	}
	for _, c := range list.Credentials {
		if _, err := e.cl.Resolve(as(userA), credentialv1.ResolveRequest{CredentialID: c.ID}); err != nil {
			t.Fatalf("resolve during rotation: %v", err)
		}
	}
	releaseRotation()
	select {
	case p := <-finished:
		if p.State != credential.RotationDone || p.Processed != 5 {
			t.Fatalf("rotation = %+v", p)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("rotation did not finish within 30s")
	}
	h, _ = e.cl.EncryptionHealth(asAdmin())
	if oldKeys(h) != 0 || h.Rotation.State != credentialv1.RotationDone {
		t.Fatalf("health = %+v", h)
	}
}

// A second instance cannot take a lease that a live holder keeps renewing,
// and takes it over once it expired (the holder crashed).
func TestRotationLease(t *testing.T) {
	db := testkit.Mongo(t)
	st := store.New(db)
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	if _, ok, err := st.ClaimRotation(ctx, "a", t0, t0.Add(time.Minute)); err != nil || !ok {
		t.Fatalf("first claim: %v %v", ok, err)
	}
	if err := st.SaveRotation(ctx, "a", credential.RotationProgress{State: credential.RotationRunning, TargetKeyID: "k", Total: 9, Processed: 3, LastID: "65f2a1b3c4d5e6f708192a3c"}, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := st.ClaimRotation(ctx, "b", t0.Add(30*time.Second), t0.Add(90*time.Second)); err != nil || ok {
		t.Fatalf("claim of a held lease: %v %v", ok, err)
	}
	if err := st.SaveRotation(ctx, "b", credential.RotationProgress{State: credential.RotationDone}, t0); !errors.Is(err, credential.ErrRotationLeaseLost) {
		t.Fatalf("save without the lease: %v", err)
	}
	p, ok, err := st.ClaimRotation(ctx, "b", t0.Add(2*time.Minute), t0.Add(3*time.Minute))
	if err != nil || !ok || p.Processed != 3 || p.LastID != "65f2a1b3c4d5e6f708192a3c" || p.State != credential.RotationRunning {
		t.Fatalf("takeover of an expired lease = %+v, %v, %v", p, ok, err)
	}
	if err := st.SaveRotation(ctx, "a", p, t0.Add(4*time.Minute)); !errors.Is(err, credential.ErrRotationLeaseLost) {
		t.Fatalf("the old holder still writes: %v", err)
	}
}

func TestUserDeletedErasesCredentials(t *testing.T) {
	e := newEnv(t)
	e.start(t, e.config(t, "secret-one"), hooks{})
	var deleteMe string
	for i := range 3 {
		c, err := e.cl.Create(as(userA), credentialv1.CreateRequest{Name: fmt.Sprintf("a%d", i), ProviderName: "openai", APIKey: "sk-a-000000000000"})
		if err != nil {
			t.Fatal(err)
		}
		deleteMe = c.ID
	}
	if _, err := e.cl.Delete(as(userA), credentialv1.DeleteRequest{ID: deleteMe}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := e.cl.Create(as(userB), credentialv1.CreateRequest{Name: fmt.Sprintf("b%d", i), ProviderName: "openai", APIKey: "sk-b-000000000000"}); err != nil {
			t.Fatal(err)
		}
	}

	// The consumer acknowledges only after the delete is stored: its ack
	// is the event to wait for.
	nc := e.ns.Conn(t)
	acks, err := nc.SubscribeSync("$JS.ACK.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	ev := userv1.UserDeleted{UserID: userA, ClerkID: "user_clerk_a", DeletedAt: time.Now().UTC()}
	if err := natsx.Publish(context.Background(), e.ns.JetStream(t), ev.Subject(), "user.deleted."+userA, ev); err != nil {
		t.Fatal(err)
	}
	ack := testkit.WaitMsg(t, acks, 20*time.Second)
	if !strings.HasPrefix(string(ack.Data), "+ACK") {
		t.Fatalf("the consumer answered %q", ack.Data)
	}
	coll := e.db.Collection(store.CredentialsCollection)
	if n, _ := coll.CountDocuments(context.Background(), bson.M{"owner_id": userA}); n != 0 {
		t.Fatalf("%d documents of the deleted user remain (deleted ones included)", n)
	}
	if n, _ := coll.CountDocuments(context.Background(), bson.M{"owner_id": userB}); n != 2 {
		t.Fatalf("user B has %d documents, want 2", n)
	}
	if l, _ := e.cl.List(as(userB), credentialv1.ListRequest{}); l.Total != 2 {
		t.Fatalf("user B lists %d", l.Total)
	}
}

func TestWrongSecretStopsStartup(t *testing.T) {
	e := newEnv(t)
	stop := e.start(t, e.config(t, "secret-one"), hooks{})
	c, err := e.cl.Create(as(userA), credentialv1.CreateRequest{Name: "k", ProviderName: "openai", APIKey: goodKey})
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	err = e.runUntilError(t, e.config(t, "secret-two"))
	if !errors.Is(err, credential.ErrCanaryMismatch) || !strings.Contains(err.Error(), "CREDENTIAL_PREVIOUS_SECRET_KEYS") {
		t.Fatalf("wrong secret: %v", err)
	}
	if strings.Contains(err.Error(), "secret-one") || strings.Contains(err.Error(), "secret-two") {
		t.Fatalf("the error shows a secret: %v", err)
	}

	// With the old secret listed as previous the service starts, and from
	// then on vouches for the new one.
	stop = e.start(t, e.config(t, "secret-two", "secret-one"), hooks{})
	if r, err := e.cl.Resolve(as(userA), credentialv1.ResolveRequest{CredentialID: c.ID}); err != nil || r.APIKey != goodKey {
		t.Fatalf("resolve with the previous secret: %v", err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if err := e.runUntilError(t, e.config(t, "secret-one")); !errors.Is(err, credential.ErrCanaryMismatch) {
		t.Fatalf("going back to the old secret alone: %v", err)
	}
}

func TestWrongSecretOnPythonDatabase(t *testing.T) {
	e := newEnv(t)
	id := e.insertPythonRecord(t, "python-secret", userA, "k", "sk-python-000000000", false)
	err := e.runUntilError(t, e.config(t, "some-other-secret"))
	if !errors.Is(err, credential.ErrCanaryMismatch) || !strings.Contains(err.Error(), id) {
		t.Fatalf("wrong secret on a Python database: %v", err)
	}
	e.start(t, e.config(t, "python-secret"), hooks{})
	if r, err := e.cl.Resolve(as(userA), credentialv1.ResolveRequest{CredentialID: id}); err != nil || r.APIKey != "sk-python-000000000" {
		t.Fatalf("resolve with the right secret: %v", err)
	}
}

func TestProvidersFile(t *testing.T) {
	e := newEnv(t)
	path := filepath.Join(t.TempDir(), "providers.yaml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	good := `providers:
  - provider_name: local
    name: Local
    base_url: http://127.0.0.1:9/v1
    api_key_header: Authorization
    api_key_prefix: "Bearer "
    validation: {path: /models, models: "data[].id"}
  - provider_name: other
    name: Other
    base_url: https://other.example/v1
    api_key_header: x-key
    validation: {path: /models}
`
	write("providers:\n  - provider_name: [broken\n")
	cfg := e.config(t, "secret-one")
	cfg.ProvidersFile = path
	if err := e.runUntilError(t, cfg); !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), path) {
		t.Fatalf("broken providers file at startup: %v", err)
	}

	write(good)
	e.start(t, cfg, hooks{})
	list, _ := e.cl.ProvidersList(context.Background(), credentialv1.ProvidersListRequest{})
	if list.Total != 2 {
		t.Fatalf("providers = %d, want 2", list.Total)
	}
	write(strings.Replace(good, "    name: Other\n", "    name: Other\n   oops: [\n", 1))
	_, err := e.cl.ProvidersRefresh(asAdmin())
	if re := testkit.WantCode(t, err, rpcerr.Validation); !strings.Contains(re.Message, "line 10") {
		t.Fatalf("refresh of a broken file: %+v", re)
	}
	after, _ := e.cl.ProvidersList(context.Background(), credentialv1.ProvidersListRequest{})
	if after.Total != 2 || !after.Providers[0].UpdatedAt.Equal(list.Providers[0].UpdatedAt) {
		t.Fatalf("the stored providers changed after a failed refresh: %+v", after)
	}
	write(strings.Replace(good, "name: Other", "name: Other Renamed", 1))
	if reply, err := e.cl.ProvidersRefresh(asAdmin()); err != nil || reply.ProcessedCount != 2 {
		t.Fatalf("refresh = %+v, %v", reply, err)
	}
	after, _ = e.cl.ProvidersList(context.Background(), credentialv1.ProvidersListRequest{})
	if after.Providers[1].Name != "Other Renamed" || !after.Providers[1].CreatedAt.Equal(list.Providers[1].CreatedAt) {
		t.Fatalf("after refresh = %+v", after.Providers[1])
	}
}

func TestConfigValidation(t *testing.T) {
	base := map[string]string{"CREDENTIAL_SECRET_KEY": "s", "CREDENTIAL_ENCRYPTION_SALT": "salt"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	cfg, err := config.LoadFrom[Config](with("CREDENTIAL_ALLOWED_HOSTS", "ollama.lan, 10.0.0.0/8", "CREDENTIAL_PREVIOUS_SECRET_KEYS", "a,b"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TestTimeout.Duration() != 10*time.Second || cfg.RotateBatchSize != 100 || len(cfg.AllowedHosts) != 2 || len(cfg.PreviousSecretKeys) != 2 || cfg.RotateOnStart {
		t.Fatalf("config = %+v", cfg.Settings)
	}
	for name, tc := range map[string]struct {
		env     map[string]string
		varName string
	}{
		"no secret":               {map[string]string{"CREDENTIAL_ENCRYPTION_SALT": "salt"}, "CREDENTIAL_SECRET_KEY"},
		"no salt":                 {map[string]string{"CREDENTIAL_SECRET_KEY": "s"}, "CREDENTIAL_ENCRYPTION_SALT"},
		"weak kdf in prod":        {with("APP_ENV", "prod", "CREDENTIAL_KDF_ITERATIONS", "99999"), "CREDENTIAL_KDF_ITERATIONS"},
		"bad allowed host":        {with("CREDENTIAL_ALLOWED_HOSTS", "http://x/"), "CREDENTIAL_ALLOWED_HOSTS"},
		"huge timeout":            {with("CREDENTIAL_TEST_TIMEOUT", "1h"), "CREDENTIAL_TEST_TIMEOUT"},
		"negative batch":          {with("CREDENTIAL_ROTATE_BATCH_SIZE", "-1"), "CREDENTIAL_ROTATE_BATCH_SIZE"},
		"unparseable rotate flag": {with("CREDENTIAL_ROTATE_ON_START", "perhaps"), "CREDENTIAL_ROTATE_ON_START"},
	} {
		_, err := config.LoadFrom[Config](tc.env)
		if err == nil || !strings.Contains(err.Error(), tc.varName) {
			t.Errorf("%s: %v, want a problem with %s", name, err, tc.varName)
		}
	}
	if _, err := config.LoadFrom[Config](with("CREDENTIAL_KDF_ITERATIONS", "1000")); err != nil {
		t.Errorf("a low iteration count in dev: %v", err)
	}
	if _, err := config.LoadFrom[Config](with("APP_ENV", "prod")); err != nil {
		t.Errorf("prod with the default iteration count: %v", err)
	}
}

// Each instance serves the catalogue from memory; a refresh on one is
// broadcast and every instance reads the store again at once, instead of
// when its copy expires a minute later.
func TestProvidersRefreshReachesEveryInstance(t *testing.T) {
	e := newEnv(t)
	path := filepath.Join(t.TempDir(), "providers.yaml")
	file := func(name string) {
		body := "providers:\n  - provider_name: local\n    name: " + name + "\n    base_url: http://127.0.0.1:9/v1\n" +
			"    api_key_header: Authorization\n    validation: {path: /models}\n"
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	file("Before")
	cfg := e.config(t, "secret-one")
	cfg.ProvidersFile = path
	var reloads [2]atomic.Int64
	for i := range reloads {
		e.start(t, cfg, hooks{onProvidersReloaded: func() { reloads[i].Add(1) }})
	}
	names := func() map[string]int {
		seen := map[string]int{}
		for range 20 {
			list, err := e.cl.ProvidersList(context.Background(), credentialv1.ProvidersListRequest{})
			if err != nil || list.Total != 1 {
				t.Fatalf("providers = %+v, %v", list, err)
			}
			seen[list.Providers[0].Name]++
		}
		return seen
	}
	if seen := names(); seen["Before"] != 20 {
		t.Fatalf("names before the refresh %v", seen)
	}

	// Each start is a refresh too: the first instance hears its own and
	// the second's, the second only its own.
	testkit.Eventually(t, 10*time.Second, func() error {
		if reloads[0].Load() < 2 || reloads[1].Load() < 1 {
			return fmt.Errorf("startup reloads %d and %d", reloads[0].Load(), reloads[1].Load())
		}
		return nil
	})
	before := [2]int64{reloads[0].Load(), reloads[1].Load()}
	file("After")
	if reply, err := e.cl.ProvidersRefresh(asAdmin()); err != nil || reply.ProcessedCount != 1 {
		t.Fatalf("refresh = %+v, %v", reply, err)
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		for i := range reloads {
			if reloads[i].Load() == before[i] {
				return fmt.Errorf("instance %d has not reloaded the providers", i)
			}
		}
		return nil
	})
	// The requests are spread over both instances (one queue group).
	if seen := names(); seen["After"] != 20 {
		t.Fatalf("names after the refresh %v, want every instance to list the new one", seen)
	}
}
