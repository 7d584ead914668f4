package credential

import (
	"context"
	"fmt"
)

// Providers lists the providers, optionally only the active ones.
func (s *Service) Providers(ctx context.Context, activeOnly bool) ([]Provider, error) {
	return s.store.ListProviders(ctx, activeOnly)
}

// RefreshProviders reads the providers file and upserts every provider in
// it. A file that does not load changes nothing.
func (s *Service) RefreshProviders(ctx context.Context) (int, error) {
	ps, err := s.catalog.Load()
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalidCatalog, err)
	}
	n, err := s.store.UpsertProviders(ctx, ps, s.clock())
	if err != nil {
		return n, fmt.Errorf("store providers: %w", err)
	}
	return n, nil
}
