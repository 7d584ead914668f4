package store_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/credential/internal/credential"
	"github.com/nonefinity/backend/services/credential/internal/store"
)

// Instances starting together each write the catalogue; a new provider
// inserted by one of them at the same moment as another is not a failure
// of the other's start.
func TestConcurrentCatalogueWritesAllSucceed(t *testing.T) {
	ctx := context.Background()
	s := store.New(testkit.Mongo(t))
	if err := s.EnsureIndexes(ctx, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	var ps []credential.Provider
	for _, name := range []string{"alpha", "beta", "gamma", "delta"} {
		ps = append(ps, credential.Provider{Name: name, DisplayName: name, BaseURL: "https://" + name + ".invalid", IsActive: true})
	}
	for round := range 5 {
		start := make(chan struct{})
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				<-start
				_, err := s.UpsertProviders(ctx, ps, time.Now())
				errs <- err
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("round %d: concurrent upsert: %v", round, err)
			}
		}
		got, err := s.ListProviders(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(ps) {
			t.Fatalf("round %d: %d providers stored, want %d (one each)", round, len(got), len(ps))
		}
	}
}
