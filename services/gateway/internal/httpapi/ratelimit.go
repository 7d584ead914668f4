package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/nonefinity/backend/contracts/rpcerr"
)

// rateWindow is the length of one rate-limit window (RATE_LIMIT_PER_MINUTE).
const rateWindow = time.Minute

// RateLimiter counts requests per key in fixed one-minute windows.
type RateLimiter interface {
	// Take counts one request of key at now and says whether it is within
	// the limit, how many remain in the window, and when the window ends.
	Take(ctx context.Context, key string, now time.Time) (rateDecision, error)
}

type rateDecision struct {
	allowed   bool
	remaining int
	resetAt   time.Time
}

// windowOf is the number of the window now falls in and when it ends.
func windowOf(now time.Time) (int64, time.Time) {
	n := now.UnixNano() / int64(rateWindow)
	return n, time.Unix(0, (n+1)*int64(rateWindow))
}

// MemoryRateLimiter keeps the counters of one process; a single gateway
// instance is exact, several instances each allow the limit.
type MemoryRateLimiter struct {
	limit  int
	mu     sync.Mutex
	window int64
	counts map[string]int
}

// NewMemoryRateLimiter allows limit requests per key and minute.
func NewMemoryRateLimiter(limit int) *MemoryRateLimiter {
	return &MemoryRateLimiter{limit: limit, counts: map[string]int{}}
}

// Take implements RateLimiter. The counters of a finished window are
// dropped as a whole when the next one starts, so memory stays bounded by
// the keys seen in one minute.
func (m *MemoryRateLimiter) Take(_ context.Context, key string, now time.Time) (rateDecision, error) {
	window, resetAt := windowOf(now)
	m.mu.Lock()
	defer m.mu.Unlock()
	if window != m.window {
		m.window = window
		clear(m.counts)
	}
	m.counts[key]++
	n := m.counts[key]
	return rateDecision{allowed: n <= m.limit, remaining: max(m.limit-n, 0), resetAt: resetAt}, nil
}

// RedisRateLimiter keeps the counters in Redis, so every gateway instance
// shares them: INCR on a key per window, expiring after the window.
type RedisRateLimiter struct {
	limit  int
	client redis.UniversalClient
	prefix string
}

// NewRedisRateLimiter allows limit requests per key and minute, counted
// under keys starting with prefix.
func NewRedisRateLimiter(client redis.UniversalClient, prefix string, limit int) *RedisRateLimiter {
	return &RedisRateLimiter{limit: limit, client: client, prefix: prefix}
}

// Take implements RateLimiter.
func (l *RedisRateLimiter) Take(ctx context.Context, key string, now time.Time) (rateDecision, error) {
	window, resetAt := windowOf(now)
	k := l.prefix + "ratelimit:" + key + ":" + strconv.FormatInt(window, 10)
	pipe := l.client.TxPipeline()
	incr := pipe.Incr(ctx, k)
	// Twice the window: the key must outlive its window even if the clocks
	// of two gateway instances disagree a little.
	pipe.Expire(ctx, k, 2*rateWindow)
	if _, err := pipe.Exec(ctx); err != nil {
		return rateDecision{}, fmt.Errorf("rate limit counter: %w", err)
	}
	n := int(incr.Val())
	return rateDecision{allowed: n <= l.limit, remaining: max(l.limit-n, 0), resetAt: resetAt}, nil
}

// rateLimit enforces a per-minute limit. The per-user limit counts
// authenticated requests against the user and anonymous ones against the
// client address; the pre-authentication limit (preAuth) counts every
// request against the client address alone, under keys of its own, so
// that refused tokens cost an attacker a share of the limit before they
// cost us a signature check. When the counter store fails the request is
// let through (fail open) with a warning: Redis being down must not take
// the API down.
type rateLimit struct {
	limiter  RateLimiter
	limit    int
	preAuth  bool
	trusted  []netip.Prefix
	timeout  time.Duration
	now      func() time.Time
	log      *slog.Logger
	lastWarn atomic.Int64
}

// rateLimitTimeout bounds the counter round trip; a slow Redis counts as
// down.
const rateLimitTimeout = 250 * time.Millisecond

func (rl *rateLimit) key(r *http.Request) string {
	ip := clientIP(r, rl.trusted)
	if rl.preAuth {
		return "preauth:" + ip
	}
	if c, ok := callerFrom(r.Context()); ok {
		return "user:" + c.identity.UserID
	}
	return "ip:" + ip
}

func (rl *rateLimit) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rl == nil || rl.limiter == nil {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), rl.timeout)
		d, err := rl.limiter.Take(ctx, rl.key(r), rl.now())
		cancel()
		if err != nil {
			rl.warn(r.Context(), err)
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		if d.allowed {
			setLimitHeaders(h, rl.limit, d.remaining)
		} else {
			// A refusal speaks for its own limit, whatever another said.
			wait := max(int(math.Ceil(d.resetAt.Sub(rl.now()).Seconds())), 1)
			h.Set("X-RateLimit-Limit", strconv.Itoa(rl.limit))
			h.Set("X-RateLimit-Remaining", "0")
			h.Set("Retry-After", strconv.Itoa(wait))
			writeError(w, rl.log, "", rpcerr.New(rpcerr.RateLimited, "too many requests; retry in "+strconv.Itoa(wait)+"s"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// setLimitHeaders reports the limit closest to running out: a request
// passes both the per-address and the per-user limit, and a client pacing
// itself by the roomier one would still be refused by the other.
func setLimitHeaders(h http.Header, limit, remaining int) {
	if prev, err := strconv.Atoi(h.Get("X-RateLimit-Remaining")); err == nil && prev < remaining {
		return
	}
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
}

// warn logs a counter failure at most once every ten seconds: a Redis
// outage under load would otherwise log once per request.
func (rl *rateLimit) warn(ctx context.Context, err error) {
	now := time.Now().UnixNano()
	last := rl.lastWarn.Load()
	if now-last < int64(10*time.Second) || !rl.lastWarn.CompareAndSwap(last, now) {
		return
	}
	rl.log.WarnContext(ctx, "rate limiting skipped: counter store unavailable", "pre_auth", rl.preAuth, "err", err)
}
