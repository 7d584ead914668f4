package credential

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ProvidersMaxAge bounds how long an instance serves the catalogue it
// holds without reading it again. A refresh reaches the other instances
// through a broadcast, which core NATS delivers at most once: an instance
// cut off from NATS at that moment catches up when its copy expires.
const ProvidersMaxAge = time.Minute

// Broadcaster tells every instance of the service, this one included, that
// the catalogue in the store changed, or one owner's credentials.
type Broadcaster interface {
	ProvidersChanged(ctx context.Context) error
	CredentialsChanged(ctx context.Context, ownerID string) error
}

// providerSnapshot is the catalogue as one read of the store returned it.
type providerSnapshot struct {
	// all is sorted by name, as ListProviders returns it.
	all    []Provider
	byName map[string]Provider
	loaded time.Time
}

// providerCache holds the catalogue in memory: it changes only on a
// refresh, and every list, create, update, test and resolve reads it.
type providerCache struct {
	snap atomic.Pointer[providerSnapshot]
	// loadMu serialises reads of the store, so the last read, which began
	// after the last change it was told of, is the one that stays.
	loadMu sync.Mutex
}

// providers returns the catalogue, reading the store when there is no copy
// or it has expired.
func (s *Service) providers(ctx context.Context) (*providerSnapshot, error) {
	if snap := s.catalogue.snap.Load(); snap != nil && s.now().Sub(snap.loaded) < ProvidersMaxAge {
		return snap, nil
	}
	s.catalogue.loadMu.Lock()
	defer s.catalogue.loadMu.Unlock()
	// Another request may have read it while this one waited.
	if snap := s.catalogue.snap.Load(); snap != nil && s.now().Sub(snap.loaded) < ProvidersMaxAge {
		return snap, nil
	}
	return s.loadProviders(ctx)
}

// loadProviders reads the catalogue from the store; loadMu must be held.
func (s *Service) loadProviders(ctx context.Context) (*providerSnapshot, error) {
	loaded := s.now()
	ps, err := s.store.ListProviders(ctx, false)
	if err != nil {
		return nil, err
	}
	snap := &providerSnapshot{all: ps, byName: make(map[string]Provider, len(ps)), loaded: loaded}
	for _, p := range ps {
		snap.byName[p.Name] = p
	}
	s.catalogue.snap.Store(snap)
	return snap, nil
}

// ReloadProviders drops the catalogue held in memory and reads it again:
// another instance refreshed it. When the read fails the next request
// tries again, so the copy from before the change is never served.
func (s *Service) ReloadProviders(ctx context.Context) error {
	s.catalogue.loadMu.Lock()
	defer s.catalogue.loadMu.Unlock()
	s.catalogue.snap.Store(nil)
	_, err := s.loadProviders(ctx)
	return err
}

// Providers lists the providers by name, optionally only the active ones.
func (s *Service) Providers(ctx context.Context, activeOnly bool) ([]Provider, error) {
	snap, err := s.providers(ctx)
	if err != nil {
		return nil, err
	}
	if !activeOnly {
		return slices.Clone(snap.all), nil
	}
	out := make([]Provider, 0, len(snap.all))
	for _, p := range snap.all {
		if p.IsActive {
			out = append(out, p)
		}
	}
	return out, nil
}

// provider returns one provider by name, ErrProviderNotFound when the
// catalogue has none.
func (s *Service) provider(ctx context.Context, name string) (Provider, error) {
	snap, err := s.providers(ctx)
	if err != nil {
		return Provider{}, err
	}
	p, ok := snap.byName[name]
	if !ok {
		return Provider{}, ErrProviderNotFound
	}
	return p, nil
}

// RefreshProviders reads the providers file and upserts every provider in
// it, then reads the catalogue again and tells the other instances to. A
// file that does not load changes nothing.
func (s *Service) RefreshProviders(ctx context.Context) (int, error) {
	ps, err := s.catalog.Load()
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalidCatalog, err)
	}
	n, err := s.store.UpsertProviders(ctx, ps, s.clock())
	if err != nil {
		return n, fmt.Errorf("store providers: %w", err)
	}
	if err := s.ReloadProviders(ctx); err != nil {
		return n, fmt.Errorf("read providers: %w", err)
	}
	if s.broadcast != nil {
		if err := s.broadcast.ProvidersChanged(ctx); err != nil {
			// The store has the new catalogue; the others read it when
			// their copy expires.
			s.log.Warn("tell the other instances about the providers refresh", "error", err)
		}
	}
	return n, nil
}
