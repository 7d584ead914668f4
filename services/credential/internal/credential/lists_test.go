package credential_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/credential/internal/credential"
)

// feed counts CatchUp calls.
type feed struct{ n int }

func (f *feed) CatchUp() { f.n++ }

func listNames(t *testing.T, c *core, owner string) []string {
	t.Helper()
	list, total, err := c.List(context.Background(), owner, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if int(total) != len(list) {
		t.Fatalf("total %d for %d credentials", total, len(list))
	}
	var names []string
	for _, cr := range list {
		names = append(names, cr.Name)
	}
	return names
}

// An owner's list is read once and served from memory; every change made
// through the service is seen at once and announced with its owner; a
// change announced by another instance is seen at once; a change behind
// the service's back only once the list expires.
func TestListsAreServedFromMemory(t *testing.T) {
	ctx := context.Background()
	b, f, lists := &broadcasts{}, &feed{}, &credential.ListCache{}
	c := newCore(t, credential.Options{Broadcast: b, Feed: f, Lists: lists})
	a1 := c.create(t, alice, credential.NewCredential{Name: "a1", ProviderName: "openai", APIKey: "sk-a1-0123456789"})
	c.now = c.now.Add(1)
	c.create(t, bob, credential.NewCredential{Name: "b1", ProviderName: "openai", APIKey: "sk-b1-0123456789"})
	if got := listNames(t, c, alice); !slices.Equal(got, []string{"a1"}) {
		t.Fatalf("alice's list %v", got)
	}
	if f.n != 1 {
		t.Fatalf("%d catch-ups for one list, want 1", f.n)
	}

	// Through the service: seen at once, by alice only, and announced.
	b.owners = nil
	c.now = c.now.Add(1)
	c.create(t, alice, credential.NewCredential{Name: "a2", ProviderName: "ollama"})
	if _, err := c.Update(ctx, alice, a1.ID, credential.Changes{Name: ptr("a1-renamed")}); err != nil {
		t.Fatal(err)
	}
	if got := listNames(t, c, alice); !slices.Equal(got, []string{"a2", "a1-renamed"}) {
		t.Fatalf("alice's list after a create and an update %v", got)
	}
	if got := listNames(t, c, bob); !slices.Equal(got, []string{"b1"}) {
		t.Fatalf("bob's list %v", got)
	}
	if !slices.Equal(b.owners, []string{alice, alice}) {
		t.Fatalf("announced owners %v, want alice twice", b.owners)
	}
	byProvider, err := c.ListByProvider(ctx, alice, "ollama")
	if err != nil || len(byProvider) != 1 || byProvider[0].Name != "a2" {
		t.Fatalf("by provider = %+v, %v", byProvider, err)
	}
	if list, total, err := c.List(ctx, alice, 1, 1); err != nil || total != 2 || len(list) != 1 || list[0].Name != "a1-renamed" {
		t.Fatalf("second page = %+v, %d, %v", list, total, err)
	}

	// Behind the service's back: the kept list answers until it expires.
	c.store.mu.Lock()
	c.store.creds[a1.ID].Name = "changed-in-the-store"
	c.store.mu.Unlock()
	if got := listNames(t, c, alice); slices.Contains(got, "changed-in-the-store") {
		t.Fatalf("alice's list %v was read again before it expired", got)
	}
	// Expired, the kept list still answers while it is read again in the
	// background, then the new one.
	c.now = c.now.Add(credential.ListsMaxAge)
	if got := listNames(t, c, alice); slices.Contains(got, "changed-in-the-store") {
		t.Fatalf("alice's list %v: the expired list was not answered from memory", got)
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		if got := listNames(t, c, alice); !slices.Contains(got, "changed-in-the-store") {
			return fmt.Errorf("alice's list %v after it expired", got)
		}
		return nil
	})

	// Announced by another instance: seen at once.
	c.store.mu.Lock()
	c.store.creds[a1.ID].Name = "changed-elsewhere"
	c.store.mu.Unlock()
	lists.Forget(alice)
	if got := listNames(t, c, alice); !slices.Contains(got, "changed-elsewhere") {
		t.Fatalf("alice's list %v after another instance's change", got)
	}

	// Deleted and erased: gone at once.
	if err := c.Delete(ctx, alice, a1.ID); err != nil {
		t.Fatal(err)
	}
	if got := listNames(t, c, alice); !slices.Equal(got, []string{"a2"}) {
		t.Fatalf("alice's list after a delete %v", got)
	}
	if err := c.EraseUser(ctx, alice); err != nil {
		t.Fatal(err)
	}
	if got := listNames(t, c, alice); len(got) != 0 {
		t.Fatalf("alice's list after her erasure %v", got)
	}
}
