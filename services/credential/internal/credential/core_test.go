package credential_test

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/nonefinity/backend/pkg/fielderr"
	"github.com/nonefinity/backend/services/credential/internal/credential"
)

// The core's own tests: the real Service over memStore and fakeCipher, no
// network. The app tests run the same rules against MongoDB over NATS.

const (
	alice = "65f2a1b3c4d5e6f708192a01"
	bob   = "65f2a1b3c4d5e6f708192a02"
)

var (
	openai = credential.Provider{
		Name: "openai", BaseURL: "https://api.openai.test/v1", APIKeyHeader: "Authorization", APIKeyPrefix: "Bearer ",
		RequiresKey: true, IsActive: true, Headers: map[string]string{"OpenAI-Beta": "assistants=v2"},
	}
	ollama = credential.Provider{Name: "ollama", BaseURL: "http://localhost:11434", IsActive: true}
	// legacy is switched off: its credentials stay usable, new ones are refused.
	legacy = credential.Provider{Name: "legacy", BaseURL: "https://legacy.test", APIKeyHeader: "X-Key", RequiresKey: true}
)

// core is a Service over fakes, with its clock standing still until moved.
type core struct {
	*credential.Service
	store  *memStore
	cipher *fakeCipher
	now    time.Time
}

func newCore(t *testing.T, o credential.Options) *core {
	t.Helper()
	c := &core{
		store:  newMemStore(openai, ollama, legacy),
		cipher: &fakeCipher{current: "k1", known: []string{"k1"}},
		now:    time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
	}
	o.Store, o.Cipher, o.Now = c.store, c.cipher, func() time.Time { return c.now }
	c.Service = credential.NewService(o)
	t.Cleanup(c.Close)
	return c
}

// rotateSecret makes k2 the current key, k1 still readable.
func (c *core) rotateSecret() {
	c.cipher.current, c.cipher.known = "k2", []string{"k1", "k2"}
}

func (c *core) create(t *testing.T, owner string, in credential.NewCredential) credential.Credential {
	t.Helper()
	cr, err := c.Create(context.Background(), owner, in)
	if err != nil {
		t.Fatalf("Create %+v: %v", in, err)
	}
	return cr
}

func ptr[T any](v T) *T { return &v }

func wantField(t *testing.T, err error, field string) {
	t.Helper()
	fe, ok := fielderr.As(err)
	if !ok || fe.Field != field || !errors.Is(err, credential.ErrInvalid) {
		t.Fatalf("error %v, want a validation error of %s", err, field)
	}
}

func TestUpdate(t *testing.T) {
	ctx := context.Background()
	c := newCore(t, credential.Options{})
	work := c.create(t, alice, credential.NewCredential{Name: "work", ProviderName: "openai", APIKey: "sk-work-0123456789"})
	c.create(t, alice, credential.NewCredential{Name: "home", ProviderName: "openai", APIKey: "sk-home-0123456789"})

	for _, tc := range []struct {
		name  string
		owner string
		ch    credential.Changes
		want  error
		field string
	}{
		{"no user", "", credential.Changes{Name: ptr("x")}, credential.ErrNoUser, ""},
		{"no field", alice, credential.Changes{}, credential.ErrNothingToUpdate, ""},
		{"another user's credential", bob, credential.Changes{Name: ptr("x")}, credential.ErrNotFound, ""},
		{"a taken name", alice, credential.Changes{Name: ptr(" home ")}, credential.ErrDuplicateName, ""},
		{"an empty name", alice, credential.Changes{Name: ptr("  ")}, nil, "name"},
		{"an empty key the provider needs", alice, credential.Changes{APIKey: ptr("")}, nil, "api_key"},
		{"a base URL that is not http", alice, credential.Changes{BaseURL: ptr("ftp://x")}, nil, "base_url"},
		{"the key header among the extra headers", alice, credential.Changes{AdditionalHeaders: &map[string]string{"authorization": "x"}}, nil, "additional_headers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Update(ctx, tc.owner, work.ID, tc.ch)
			if tc.field != "" {
				wantField(t, err, tc.field)
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
	if got := c.store.stored(work.ID); got.Name != "work" || got.Ciphertext != work.Ciphertext {
		t.Fatalf("a refused update changed the record: %+v", got)
	}

	t.Run("a new key is sealed for its record under the current key", func(t *testing.T) {
		c.now = c.now.Add(time.Minute)
		got, err := c.Update(ctx, alice, work.ID, credential.Changes{Name: ptr("  work 2 "), APIKey: ptr(" sk-new-0123456789abcd ")})
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "work 2" || got.KeyMasked != credential.Mask("sk-new-0123456789abcd") || got.KeyLast4 != "abcd" ||
			!got.UpdatedAt.Equal(c.now) || got.CreatedAt.Equal(c.now) {
			t.Fatalf("updated = %+v", got)
		}
		r, err := c.Resolve(ctx, alice, work.ID)
		if err != nil || r.APIKey != "sk-new-0123456789abcd" {
			t.Fatalf("resolved after the update = %+v, %v", r, err)
		}
	})

	t.Run("a record on an old key moves to the current one on any write", func(t *testing.T) {
		c.rotateSecret()
		if _, err := c.Update(ctx, alice, work.ID, credential.Changes{IsActive: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		if got := c.store.stored(work.ID); !c.cipher.IsCurrent(got.Ciphertext) || got.keyID != "k2" {
			t.Fatalf("record after the write is on %q: %s", got.keyID, got.Ciphertext)
		}
	})

	t.Run("a provider switched off since keeps its credentials updatable", func(t *testing.T) {
		old := c.create(t, bob, credential.NewCredential{Name: "old", ProviderName: "openai", APIKey: "sk-old-0123456789"})
		c.store.mu.Lock()
		cr := c.store.creds[old.ID]
		cr.ProviderName = "legacy"
		c.store.mu.Unlock()
		if _, err := c.Create(ctx, bob, credential.NewCredential{Name: "new", ProviderName: "legacy", APIKey: "k-0123456789"}); err == nil {
			t.Fatal("a credential was created for an inactive provider")
		}
		got, err := c.Update(ctx, bob, old.ID, credential.Changes{AdditionalHeaders: &map[string]string{"X-Team": "a"}})
		if err != nil || got.AdditionalHeaders["X-Team"] != "a" {
			t.Fatalf("update = %+v, %v", got, err)
		}
		_, err = c.Update(ctx, bob, old.ID, credential.Changes{AdditionalHeaders: &map[string]string{"x-key": "b"}})
		wantField(t, err, "additional_headers")
	})

	t.Run("a keyless provider takes an empty key", func(t *testing.T) {
		local := c.create(t, bob, credential.NewCredential{Name: "local", ProviderName: "ollama"})
		if _, err := c.Update(ctx, bob, local.ID, credential.Changes{APIKey: ptr("")}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestResolve(t *testing.T) {
	ctx := context.Background()
	c := newCore(t, credential.Options{})
	cr := c.create(t, alice, credential.NewCredential{
		Name: "work", ProviderName: "openai", APIKey: "sk-work-0123456789",
		BaseURL: "https://proxy.test/v1", AdditionalHeaders: map[string]string{"X-Team": "data"},
	})
	local := c.create(t, alice, credential.NewCredential{Name: "local", ProviderName: "ollama"})

	c.now = c.now.Add(time.Hour)
	r, err := c.Resolve(ctx, alice, cr.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The key travels apart from the headers: the caller puts it in
	// APIKeyHeader with APIKeyPrefix.
	want := credential.Resolved{
		ProviderName: "openai", APIKey: "sk-work-0123456789", APIKeyHeader: "Authorization", APIKeyPrefix: "Bearer ",
		BaseURL: "https://proxy.test/v1", Headers: map[string]string{"OpenAI-Beta": "assistants=v2", "X-Team": "data"},
	}
	if r.ProviderName != want.ProviderName || r.APIKey != want.APIKey || r.APIKeyHeader != want.APIKeyHeader ||
		r.APIKeyPrefix != want.APIKeyPrefix || r.BaseURL != want.BaseURL || !maps.Equal(r.Headers, want.Headers) {
		t.Fatalf("Resolve = %+v, want %+v", r, want)
	}
	if used := c.store.stored(cr.ID).LastUsedAt; used == nil || !used.Equal(c.now) {
		t.Fatalf("use recorded at %v, want %v", used, c.now)
	}

	r, err = c.Resolve(ctx, alice, local.ID)
	if err != nil || r.BaseURL != ollama.BaseURL || r.Headers != nil || r.APIKey != "" {
		t.Fatalf("keyless Resolve = %+v, %v (want the provider's URL and no headers)", r, err)
	}

	t.Run("refusals", func(t *testing.T) {
		off := c.create(t, alice, credential.NewCredential{Name: "off", ProviderName: "openai", APIKey: "sk-off-0123456789"})
		if _, err := c.Update(ctx, alice, off.ID, credential.Changes{IsActive: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		broken := c.create(t, alice, credential.NewCredential{Name: "broken", ProviderName: "openai", APIKey: "sk-broken-0123456789"})
		c.cipher.current, c.cipher.known = "k9", []string{"k9"}
		for _, tc := range []struct {
			name      string
			owner, id string
			want      error
		}{
			{"no user", "", cr.ID, credential.ErrNoUser},
			{"another user's credential", bob, cr.ID, credential.ErrNotFound},
			{"an inactive credential", alice, off.ID, credential.ErrInactive},
			{"a key no configured secret opens", alice, broken.ID, credential.ErrUndecryptable},
		} {
			if _, err := c.Resolve(ctx, tc.owner, tc.id); !errors.Is(err, tc.want) {
				t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
			}
		}
		if used := c.store.stored(off.ID).LastUsedAt; used != nil {
			t.Errorf("a refused Resolve recorded a use at %v", used)
		}
	})

	t.Run("a provider that is gone", func(t *testing.T) {
		c.store.mu.Lock()
		delete(c.store.providers, "ollama")
		c.store.mu.Unlock()
		// As when another instance's refresh is broadcast, or the copy in
		// memory expires.
		if err := c.ReloadProviders(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Resolve(ctx, alice, local.ID); !errors.Is(err, credential.ErrProviderNotFound) {
			t.Fatalf("error %v, want ErrProviderNotFound", err)
		}
	})
}

// oldRecords creates n credentials of alice under k1 and makes k2 current.
func oldRecords(t *testing.T, c *core, n int) []credential.Credential {
	t.Helper()
	out := make([]credential.Credential, n)
	for i := range out {
		out[i] = c.create(t, alice, credential.NewCredential{
			Name: "key " + string(rune('a'+i)), ProviderName: "openai", APIKey: "sk-" + strings.Repeat(string(rune('a'+i)), 16),
		})
	}
	c.rotateSecret()
	return out
}

func TestRotationReencryptsInBatchesAndReleasesTheLease(t *testing.T) {
	ctx := context.Background()
	var steps []credential.RotationProgress
	c := newCore(t, credential.Options{OnRotationProgress: func(p credential.RotationProgress) { steps = append(steps, p) }})
	recs := oldRecords(t, c, 5)
	// A record no configured secret opens is counted and left alone.
	c.store.mu.Lock()
	c.store.creds[recs[2].ID].Ciphertext = "k0|" + recs[2].ID + "|" + alice + "|lost"
	c.store.mu.Unlock()

	p, err := c.RunRotation(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if p.State != credential.RotationFailed || p.Total != 5 || p.Processed != 4 || p.Failed != 1 || p.TargetKeyID != "k2" ||
		!strings.Contains(p.LastError, recs[2].ID) || p.FinishedAt == nil || p.LastID != recs[4].ID {
		t.Fatalf("progress = %+v", p)
	}
	if len(steps) != 4 || steps[0].LastID != recs[1].ID || steps[0].Processed != 2 || steps[3].State != credential.RotationFailed {
		t.Fatalf("progress steps = %+v, want 3 batches of 2 and the end", steps)
	}
	for i, r := range recs {
		got := c.store.stored(r.ID)
		if moved := got.keyID == "k2"; moved == (i == 2) {
			t.Errorf("record %d is on %q", i, got.keyID)
		}
	}
	if stored, _, _ := c.store.LoadRotation(ctx); stored.State != p.State || stored.Processed != 4 {
		t.Fatalf("stored progress = %+v", stored)
	}
	// Released: another instance may start at once, not after the lease.
	if _, until := c.store.lease(); !until.IsZero() {
		t.Fatalf("lease held until %v after the end", until)
	}
	other := credential.NewService(credential.Options{Store: c.store, Cipher: c.cipher, Now: func() time.Time { return c.now }})
	defer other.Close()
	if _, err := other.RunRotation(ctx, 0); err != nil {
		t.Fatalf("another instance after the release: %v", err)
	}
}

func TestRotationLease(t *testing.T) {
	ctx := context.Background()

	t.Run("a lease another instance holds keeps this one out until it runs out", func(t *testing.T) {
		c := newCore(t, credential.Options{RotationLease: time.Minute})
		recs := oldRecords(t, c, 2)
		c.store.takeLease("elsewhere", c.now.Add(30*time.Second))
		if _, err := c.RunRotation(ctx, 0); err == nil {
			t.Fatal("RunRotation ran beside another holder")
		}
		started, _, err := c.StartRotation(ctx, 0)
		if err != nil || started {
			t.Fatalf("StartRotation beside another holder = %v, %v", started, err)
		}
		if got := c.store.stored(recs[0].ID); got.keyID != "k1" {
			t.Fatal("a record was rotated without the lease")
		}
		c.now = c.now.Add(30 * time.Second)
		p, err := c.RunRotation(ctx, 0)
		if err != nil || p.State != credential.RotationDone || p.Processed != 2 {
			t.Fatalf("after the lease ran out = %+v, %v", p, err)
		}
	})

	t.Run("a stored rotation towards the current key resumes after its last record", func(t *testing.T) {
		c := newCore(t, credential.Options{})
		recs := oldRecords(t, c, 4)
		started := c.now.Add(-time.Hour)
		c.store.rotation = &credential.RotationProgress{
			State: credential.RotationRunning, TargetKeyID: "k2", Total: 4, Processed: 2, LastID: recs[1].ID,
			BatchSize: 3, StartedAt: &started,
		}
		c.store.takeLease("crashed", c.now.Add(-time.Second))
		p, err := c.RunRotation(ctx, 0)
		if err != nil || p.State != credential.RotationDone || p.Processed != 4 || !p.StartedAt.Equal(started) {
			t.Fatalf("resumed = %+v, %v", p, err)
		}
		if c.store.stored(recs[0].ID).keyID != "k1" || c.store.stored(recs[3].ID).keyID != "k2" {
			t.Fatal("the resumed rotation did not start after the stored last id")
		}
	})

	t.Run("a lease lost to another instance stops this run and is not released", func(t *testing.T) {
		var c *core
		c = newCore(t, credential.Options{OnRotationProgress: func(credential.RotationProgress) {
			c.store.takeLease("thief", c.now.Add(time.Hour))
		}})
		recs := oldRecords(t, c, 3)
		_, err := c.RunRotation(ctx, 1)
		if !errors.Is(err, credential.ErrRotationLeaseLost) {
			t.Fatalf("error %v, want ErrRotationLeaseLost", err)
		}
		if holder, _ := c.store.lease(); holder != "thief" {
			t.Fatalf("lease holder %q, want the thief's", holder)
		}
		// The second batch is written before its save finds the lease
		// gone; the third is never read.
		if c.store.stored(recs[2].ID).keyID != "k1" {
			t.Fatal("the run went on after losing the lease")
		}
	})

	t.Run("a cancelled run stores its progress and releases the lease", func(t *testing.T) {
		runCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		c := newCore(t, credential.Options{OnRotationProgress: func(credential.RotationProgress) { cancel() }})
		recs := oldRecords(t, c, 3)
		p, err := c.RunRotation(runCtx, 1)
		if !errors.Is(err, context.Canceled) || p.LastID != recs[0].ID {
			t.Fatalf("cancelled run = %+v, %v", p, err)
		}
		stored, _, _ := c.store.LoadRotation(ctx)
		if stored.State != credential.RotationRunning || stored.LastID != recs[0].ID {
			t.Fatalf("stored progress = %+v", stored)
		}
		if _, until := c.store.lease(); !until.IsZero() {
			t.Fatalf("lease held until %v after the cancel", until)
		}
	})
}
