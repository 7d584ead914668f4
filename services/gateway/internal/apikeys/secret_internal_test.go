package apikeys

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nonefinity/backend/pkg/fielderr"
)

func TestNewSecretHasTheKeyShape(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		key, prefix, err := newSecret("dev")
		if err != nil {
			t.Fatal(err)
		}
		if len(key) != len("nf_dev_")+secretLen || !strings.HasPrefix(key, prefix) || len(prefix) != len("nf_dev_")+shownLen {
			t.Fatalf("key %q prefix %q", key, prefix)
		}
		if err := checkShape(key); err != nil {
			t.Fatalf("a fresh key %q fails its own shape: %v", key, err)
		}
		if seen[key] {
			t.Fatalf("key %q made twice", key)
		}
		seen[key] = true
	}
}

func TestCheckShapeRefusesWhatIsNoKey(t *testing.T) {
	good := "nf_dev_" + strings.Repeat("aZ9", 14) + "x"
	if err := checkShape(good); err != nil {
		t.Fatalf("%q: %v", good, err)
	}
	for _, bad := range []string{
		"", "nf_", "nf_dev_", "eyJhbGciOiJSUzI1NiJ9.e30.sig", "nf__" + strings.Repeat("a", 43),
		"nf_dev_" + strings.Repeat("a", 42), "nf_dev_" + strings.Repeat("a", 44),
		"nf_dev_" + strings.Repeat("a", 42) + "_", "nf_dev_" + strings.Repeat("a", 42) + "é",
		"nf_" + strings.Repeat("e", 17) + "_" + strings.Repeat("a", 43),
	} {
		if checkShape(bad) == nil {
			t.Errorf("%q passes as a key", bad)
		}
	}
}

func TestDigestDependsOnThePepper(t *testing.T) {
	a, b := hasher{pepper: []byte("pepper-a")}, hasher{pepper: []byte("pepper-b")}
	if !a.digest("nf_dev_x").equal(a.digest("nf_dev_x")) {
		t.Fatal("the same key digests differently")
	}
	if a.digest("nf_dev_x").equal(b.digest("nf_dev_x")) || a.digest("nf_dev_x").equal(a.digest("nf_dev_y")) {
		t.Fatal("different peppers or keys give the same digest")
	}
}

func TestEnvLabel(t *testing.T) {
	for in, want := range map[string]string{"dev": "dev", "prod": "prod", "Prod": "prod", "": "dev", "st-ag_e1": "stage1", "!!": "dev"} {
		if got := envLabel(in); got != want {
			t.Errorf("envLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestInputRules(t *testing.T) {
	for _, tc := range []struct {
		name  string
		err   error
		field string
	}{
		{"empty name", second(checkName(" ")), "name"},
		{"long name", second(checkName(strings.Repeat("é", MaxNameLen+1))), "name"},
		{"no scopes", second(checkScopes(nil)), "scopes"},
		{"unknown scope", second(checkScopes([]string{"files:read", "files:admin"})), "scopes"},
	} {
		fe, ok := fielderr.As(tc.err)
		if !ok || fe.Field != tc.field || !errors.Is(tc.err, ErrInvalid) {
			t.Errorf("%s: %v, want a field error on %s", tc.name, tc.err, tc.field)
		}
	}
	if name, err := checkName(strings.Repeat("é", MaxNameLen)); err != nil || name == "" {
		t.Errorf("a %d-character name: %v", MaxNameLen, err)
	}
	if got, err := checkScopes([]string{"files:read", " files:read", "datasets:query"}); err != nil || len(got) != 2 {
		t.Errorf("scopes %v, %v; want two, deduplicated", got, err)
	}
}

func second[T any](_ T, err error) error { return err }

func TestKeyRefusal(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		key  Key
		want error
	}{
		{"active", Key{}, nil},
		{"expires later", Key{ExpiresAt: now.Add(time.Second)}, nil},
		{"expires now", Key{ExpiresAt: now}, ErrKeyExpired},
		{"revoked", Key{RevokedAt: now.Add(-time.Hour)}, ErrKeyRevoked},
	} {
		if got := tc.key.refusal(now); !errors.Is(got, tc.want) || (tc.want == nil) != tc.key.Active(now) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// An eviction while a lookup reads the store keeps what it read out of the
// cache: it may be the state the eviction was about.
func TestCacheKeepsOutALookupOlderThanAnEviction(t *testing.T) {
	c := newCache(10, time.Minute)
	now := time.Now()
	e := &entry{key: Key{ID: "k1"}, digest: Digest{1}}
	gen := c.generation()
	c.evict("k1")
	c.putIfUnchanged(e, gen, now)
	if _, ok := c.get(Digest{1}, now); ok {
		t.Fatal("a lookup older than the eviction was cached")
	}
	c.putIfUnchanged(e, c.generation(), now)
	if _, ok := c.get(Digest{1}, now); !ok {
		t.Fatal("not cached")
	}
	if _, ok := c.get(Digest{1}, now.Add(time.Minute)); ok {
		t.Fatal("cached past its TTL")
	}
	c.evict("k1")
	if _, ok := c.get(Digest{1}, now); ok {
		t.Fatal("evicted entry still served")
	}
}

func TestCacheStaysWithinItsSize(t *testing.T) {
	c := newCache(3, time.Minute)
	now := time.Now()
	for i := range 10 {
		c.putIfUnchanged(&entry{key: Key{ID: string(rune('a' + i))}, digest: Digest{byte(i)}}, c.generation(), now)
	}
	if len(c.byHash) != 3 || len(c.byID) != 3 {
		t.Fatalf("%d entries, %d ids; want 3", len(c.byHash), len(c.byID))
	}
}
