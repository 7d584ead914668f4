package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/nonefinity/backend/pkg/logx"
)

// Defaults for RemoteJWKSConfig.
const (
	DefaultJWKSRefreshInterval = 10 * time.Minute
	DefaultJWKSMinRefreshGap   = 30 * time.Second
	DefaultJWKSFetchTimeout    = 5 * time.Second
	DefaultJWKSMaxBodyBytes    = 1 << 20
)

// RemoteJWKSConfig configures a RemoteJWKS. Zero durations and sizes take the
// defaults above.
type RemoteJWKSConfig struct {
	URL    string
	Client *http.Client // nil: a client without its own timeout (each fetch has FetchTimeout)
	Log    *slog.Logger // nil: discard

	// RefreshInterval is how often the background loop refetches the set.
	RefreshInterval time.Duration
	// MinRefreshGap bounds forced refreshes: a token with an unknown kid
	// triggers at most one fetch per gap, however many such tokens arrive.
	// Until the first successful fetch the background loop also retries at
	// this pace.
	MinRefreshGap time.Duration
	FetchTimeout  time.Duration
	MaxBodyBytes  int64

	// Now replaces time.Now in tests of the rate limit.
	Now func() time.Time
}

// RemoteJWKS is a KeySource backed by an HTTP JWKS endpoint (Clerk's). Keys are
// cached; the set is refetched in the background and when a token names an
// unknown kid (key rotation), rate-limited and deduplicated so a flood of
// bogus kids costs Clerk at most one request per MinRefreshGap. A failed
// refetch keeps the cached keys.
type RemoteJWKS struct {
	cfg RemoteJWKSConfig

	keys    atomic.Pointer[keySet] // nil until the first successful fetch
	lastErr atomic.Pointer[error]  // the most recent fetch failure, for ErrKeysUnavailable

	mu         sync.Mutex
	lastForced time.Time

	flights singleflight.Group

	stop context.CancelFunc
	done chan struct{}
}

// NewRemoteJWKS checks the configuration; call Start to fetch and refresh.
func NewRemoteJWKS(cfg RemoteJWKSConfig) (*RemoteJWKS, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("jwks url must be an absolute http(s) URL")
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	if cfg.Log == nil {
		cfg.Log = logx.Discard()
	}
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = DefaultJWKSRefreshInterval
	}
	if cfg.MinRefreshGap <= 0 {
		cfg.MinRefreshGap = DefaultJWKSMinRefreshGap
	}
	if cfg.FetchTimeout <= 0 {
		cfg.FetchTimeout = DefaultJWKSFetchTimeout
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultJWKSMaxBodyBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &RemoteJWKS{cfg: cfg, done: make(chan struct{})}, nil
}

// Start fetches the key set once (a failure is logged, not returned: the
// gateway should come up while Clerk is unreachable and answer 503 until it
// is back) and starts the background refresher, which runs until Close or
// until ctx ends. Call Start once.
func (r *RemoteJWKS) Start(ctx context.Context) {
	_ = r.refresh(ctx)
	loopCtx, stop := context.WithCancel(ctx)
	r.stop = stop
	go func() {
		defer close(r.done)
		r.refreshLoop(loopCtx)
	}()
}

// Close stops the background refresher and waits for it.
func (r *RemoteJWKS) Close() {
	if r.stop == nil {
		return
	}
	r.stop()
	<-r.done
}

func (r *RemoteJWKS) refreshLoop(ctx context.Context) {
	for {
		wait := r.cfg.RefreshInterval
		if r.keys.Load() == nil {
			wait = r.cfg.MinRefreshGap
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
			_ = r.refresh(ctx)
		}
	}
}

// Key implements KeySource.
func (r *RemoteJWKS) Key(ctx context.Context, kid string) (VerificationKey, error) {
	if set := r.keys.Load(); set != nil {
		if k, ok := (*set)[kid]; ok {
			return k, nil
		}
	}
	// Unknown kid: Clerk may have rotated its key. Refetch, at most once per
	// gap; concurrent callers share the one fetch in flight.
	ch := r.flights.DoChan("forced", func() (any, error) {
		if !r.takeForcedSlot() {
			return nil, nil
		}
		return nil, r.refresh(ctx)
	})
	select {
	case <-ch:
	case <-ctx.Done():
		return VerificationKey{}, fmt.Errorf("%w: %w", ErrKeysUnavailable, ctx.Err())
	}
	set := r.keys.Load()
	if set == nil {
		if last := r.lastErr.Load(); last != nil {
			return VerificationKey{}, fmt.Errorf("%w: %w", ErrKeysUnavailable, *last)
		}
		return VerificationKey{}, ErrKeysUnavailable
	}
	if k, ok := (*set)[kid]; ok {
		return k, nil
	}
	return VerificationKey{}, errUnknownKey
}

// takeForcedSlot reports whether a forced refresh may run now and, if so,
// books it.
func (r *RemoteJWKS) takeForcedSlot() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.cfg.Now()
	if !r.lastForced.IsZero() && now.Sub(r.lastForced) < r.cfg.MinRefreshGap {
		return false
	}
	r.lastForced = now
	return true
}

// refresh fetches the set and, on success, replaces the cached one. The
// fetch is detached from the caller's cancellation: other requests may be
// waiting on it, and one client hanging up should not waste it.
func (r *RemoteJWKS) refresh(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.FetchTimeout)
	defer cancel()
	keys, skipped, err := r.fetch(ctx)
	if err != nil {
		r.lastErr.Store(&err)
		level := slog.LevelWarn
		if r.keys.Load() == nil {
			level = slog.LevelError
		}
		r.cfg.Log.Log(ctx, level, "jwks fetch failed", "url", r.cfg.URL, "err", err, "cached_keys", r.keys.Load() != nil)
		return err
	}
	old := r.keys.Swap(&keys)
	if old == nil || !sameKeyIDs(*old, keys) {
		r.cfg.Log.Info("jwks loaded", "url", r.cfg.URL, "keys", len(keys), "skipped", skipped)
	}
	return nil
}

func (r *RemoteJWKS) fetch(ctx context.Context) (keySet, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.cfg.URL, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("jwks request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.cfg.Client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("jwks get: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("jwks get: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, r.cfg.MaxBodyBytes+1))
	if err != nil {
		return nil, 0, fmt.Errorf("jwks read: %w", err)
	}
	if int64(len(body)) > r.cfg.MaxBodyBytes {
		return nil, 0, fmt.Errorf("jwks body exceeds %d bytes", r.cfg.MaxBodyBytes)
	}
	return parseJWKS(body)
}

func sameKeyIDs(a, b keySet) bool {
	if len(a) != len(b) {
		return false
	}
	for kid := range a {
		if _, ok := b[kid]; !ok {
			return false
		}
	}
	return true
}
