package httpapi

import (
	"cmp"
	"context"
	"errors"
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
	"github.com/nonefinity/backend/services/gateway/internal/access"
)

// rateWindow is the period a limit is counted in (RATE_LIMIT_PER_MINUTE).
const rateWindow = time.Minute

// RateLimiter admits requests per key at a steady rate with a bounded
// burst (the generic cell rate algorithm): limit requests a minute, one
// every minute/limit, of which up to rateBurst(limit) may come at once.
// Fixed one-minute windows let a client spend a whole minute's requests
// in its first second, and twice the limit across a window's edge; a
// hostile user's burst of uploads and conversions then lands on the
// other users all at once.
type RateLimiter interface {
	// Take counts one request of key at now and says whether it is
	// admitted, how many more could come at once, and when the next one
	// will be admitted if this one was not.
	Take(ctx context.Context, key string, now time.Time) (rateDecision, error)
}

type rateDecision struct {
	allowed   bool
	remaining int
	resetAt   time.Time
}

// rateBurst is how many requests may come at once: a sixth of the
// minute's limit (what a page load fires is well within it), at least
// the whole limit up to 10, so small limits keep their meaning.
func rateBurst(limit int) int {
	return max(limit/6, min(limit, 10), 1)
}

// cellRate is one key's schedule under a limit: interval between
// requests and the burst tolerance, in nanoseconds.
type cellRate struct{ interval, tolerance int64 }

func newCellRate(limit int) cellRate {
	interval := int64(rateWindow) / int64(max(limit, 1))
	return cellRate{interval: interval, tolerance: int64(rateBurst(limit)-1) * interval}
}

// take applies one request at now to the key's theoretical arrival time
// tat (0: none yet) and returns the decision and the new tat.
func (c cellRate) take(tat, now int64) (rateDecision, int64) {
	tat = max(tat, now)
	next := tat + c.interval
	if next-now > c.tolerance+c.interval {
		return rateDecision{resetAt: time.Unix(0, tat-c.tolerance)}, tat
	}
	remaining := int((c.tolerance + c.interval - (next - now)) / c.interval)
	return rateDecision{allowed: true, remaining: remaining, resetAt: time.Unix(0, next-c.tolerance)}, next
}

// MemoryRateLimiter keeps the schedules of one process; a single gateway
// instance is exact, several instances each allow the limit.
type MemoryRateLimiter struct {
	rate  cellRate
	mu    sync.Mutex
	tats  map[string]int64
	taken int
}

// NewMemoryRateLimiter allows limit requests per key and minute.
func NewMemoryRateLimiter(limit int) *MemoryRateLimiter {
	return &MemoryRateLimiter{rate: newCellRate(limit), tats: map[string]int64{}}
}

// Take implements RateLimiter. Keys whose schedule has caught up with the
// clock carry no state and are dropped now and then, so memory stays
// bounded by the keys seen in the last minute.
func (m *MemoryRateLimiter) Take(_ context.Context, key string, now time.Time) (rateDecision, error) {
	t := now.UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.taken++; m.taken%4096 == 0 {
		for k, tat := range m.tats {
			if tat <= t {
				delete(m.tats, k)
			}
		}
	}
	d, tat := m.rate.take(m.tats[key], t)
	m.tats[key] = tat
	return d, nil
}

// RedisRateLimiter keeps the schedules in Redis, so every gateway
// instance shares them: one key per user or address holding its
// theoretical arrival time, read and moved in one script.
type RedisRateLimiter struct {
	rate   cellRate
	client redis.UniversalClient
	prefix string
}

// NewRedisRateLimiter allows limit requests per key and minute, kept
// under keys starting with prefix.
func NewRedisRateLimiter(client redis.UniversalClient, prefix string, limit int) *RedisRateLimiter {
	return &RedisRateLimiter{rate: newCellRate(limit), client: client, prefix: prefix}
}

// cellRateScript is cellRate.take in Redis (times in microseconds, which
// Lua's doubles hold exactly). It returns {allowed, remaining, resetAt}.
var cellRateScript = redis.NewScript(`
local now, interval, tolerance = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local nxt = tat + interval
if nxt - now > tolerance + interval then
  return {0, 0, tat - tolerance}
end
redis.call('SET', KEYS[1], nxt, 'PX', math.ceil((nxt - now) / 1000) + 1000)
return {1, math.floor((tolerance + interval - (nxt - now)) / interval), nxt - tolerance}
`)

// Take implements RateLimiter.
func (l *RedisRateLimiter) Take(ctx context.Context, key string, now time.Time) (rateDecision, error) {
	us := func(ns int64) int64 { return ns / int64(time.Microsecond) }
	res, err := cellRateScript.Run(ctx, l.client, []string{l.prefix + "ratelimit:" + key},
		now.UnixMicro(), us(l.rate.interval), us(l.rate.tolerance)).Int64Slice()
	if err != nil || len(res) != 3 {
		return rateDecision{}, fmt.Errorf("rate limit schedule: %w", cmp.Or(err, errors.New("unexpected reply")))
	}
	return rateDecision{allowed: res[0] == 1, remaining: int(res[1]), resetAt: time.UnixMicro(res[2])}, nil
}

// rateLimit enforces a per-minute rate. The per-user limit counts
// authenticated requests against the user and anonymous ones against the
// client address; the pre-authentication limit (preAuth) counts every
// request against the client address alone, under keys of its own, so
// that refused tokens cost an attacker a share of the limit before they
// cost us a signature check. When the counter store fails the request is
// let through (fail open) with a warning: Redis being down must not take
// the API down.
type rateLimit struct {
	limiter RateLimiter
	limit   int
	preAuth bool
	// perKey counts the requests of each personal API key and lets
	// session requests through uncounted.
	perKey   bool
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
	if rl.perKey {
		return "key:" + access.From(r.Context()).KeyID
	}
	if c, ok := callerFrom(r.Context()); ok {
		return "user:" + c.identity.UserID
	}
	return "ip:" + ip
}

func (rl *rateLimit) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rl == nil || rl.limiter == nil || rl.perKey && !access.From(r.Context()).IsKey() {
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
