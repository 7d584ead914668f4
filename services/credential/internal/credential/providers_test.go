package credential_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/nonefinity/backend/services/credential/internal/credential"
)

// catalogFile is a providers file that always reads as ps.
type catalogFile []credential.Provider

func (c catalogFile) Load() ([]credential.Provider, error) { return c, nil }

// broadcasts counts the refreshes told to the other instances and records
// the owners whose credentials changed.
type broadcasts struct {
	n      int
	owners []string
}

func (b *broadcasts) ProvidersChanged(context.Context) error {
	b.n++
	return nil
}

func (b *broadcasts) CredentialsChanged(_ context.Context, ownerID string) error {
	b.owners = append(b.owners, ownerID)
	return nil
}

func providerNames(t *testing.T, c *core, activeOnly bool) []string {
	t.Helper()
	ps, err := c.Providers(context.Background(), activeOnly)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	return names
}

// The catalogue is read from the store once and served from memory until a
// refresh, a reload (another instance's refresh) or its expiry.
func TestProvidersAreServedFromMemory(t *testing.T) {
	ctx := context.Background()
	b := &broadcasts{}
	c := newCore(t, credential.Options{Catalog: catalogFile{openai, ollama}, Broadcast: b})
	if got, want := providerNames(t, c, false), []string{"legacy", "ollama", "openai"}; !slices.Equal(got, want) {
		t.Fatalf("providers %v, want %v", got, want)
	}
	if got, want := providerNames(t, c, true), []string{"ollama", "openai"}; !slices.Equal(got, want) {
		t.Fatalf("active providers %v, want %v", got, want)
	}

	// Changed behind the service's back: the copy in memory still answers,
	// for the list and for a create.
	c.store.mu.Lock()
	delete(c.store.providers, "openai")
	c.store.mu.Unlock()
	if got := providerNames(t, c, false); !slices.Contains(got, "openai") {
		t.Fatalf("providers %v were read again before they expired", got)
	}
	c.create(t, alice, credential.NewCredential{Name: "a", ProviderName: "openai", APIKey: "sk-a-0123456789"})

	// Expired, the store is read again.
	c.now = c.now.Add(credential.ProvidersMaxAge)
	if got := providerNames(t, c, false); slices.Contains(got, "openai") {
		t.Fatalf("providers %v after they expired still list the removed one", got)
	}
	_, err := c.Create(ctx, alice, credential.NewCredential{Name: "b", ProviderName: "openai", APIKey: "sk-b-0123456789"})
	wantField(t, err, "provider_name")

	// A reload (another instance refreshed) reads the store at once.
	c.store.mu.Lock()
	c.store.providers["openai"] = openai
	c.store.mu.Unlock()
	if err := c.ReloadProviders(ctx); err != nil {
		t.Fatal(err)
	}
	if got := providerNames(t, c, false); !slices.Contains(got, "openai") {
		t.Fatalf("providers %v after a reload miss the one added back", got)
	}

	// A refresh writes the file, is seen here at once and is told to the
	// other instances.
	c.store.mu.Lock()
	delete(c.store.providers, "ollama")
	c.store.mu.Unlock()
	if n, err := c.RefreshProviders(ctx); n != 2 || err != nil {
		t.Fatalf("RefreshProviders = %d, %v", n, err)
	}
	if got := providerNames(t, c, false); !slices.Contains(got, "ollama") {
		t.Fatalf("providers %v after a refresh miss the one it wrote", got)
	}
	if b.n != 1 {
		t.Fatalf("%d broadcasts after one refresh, want 1", b.n)
	}
}

// A reload that cannot read the store leaves nothing behind: the next
// request reads the store instead of serving the copy from before the
// change.
func TestProvidersReloadFailureServesNoStaleCopy(t *testing.T) {
	ctx := context.Background()
	c := newCore(t, credential.Options{})
	providerNames(t, c, false)
	down := errors.New("store down")
	c.store.mu.Lock()
	c.store.failProviders = down
	c.store.mu.Unlock()
	if err := c.ReloadProviders(ctx); !errors.Is(err, down) {
		t.Fatalf("ReloadProviders = %v, want the store's error", err)
	}
	if _, err := c.Providers(ctx, false); !errors.Is(err, down) {
		t.Fatalf("Providers after a failed reload = %v, want the store's error", err)
	}
	c.store.mu.Lock()
	c.store.failProviders = nil
	c.store.mu.Unlock()
	if got := providerNames(t, c, false); len(got) != 3 {
		t.Fatalf("providers %v once the store is back", got)
	}
}
