package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nonefinity/backend/services/all/internal/localrun"
)

// listRoute is one read route measured under load next to the floor.
type listRoute struct {
	key, path string
	auth      bool
	rate      goal // on req/s
	p99       goal
}

var listRoutes = []listRoute{
	{key: "providers", path: "/providers", rate: ratioAtLeast(3)},
	{key: "credentials", path: "/credentials", auth: true, rate: ratioAtLeast(1), p99: oursBelow(20)},
	{key: "files", path: "/file/list", auth: true},
}

// lists loads each list route with o.clients keep-alive clients for
// o.duration, then the FastAPI floor serving the same envelope the same way.
// The listing user has o.listItems credentials and files.
func (b *bench) lists(ctx context.Context, floor *floorServer) error {
	u, err := b.signIn(ctx, "bench_lists")
	if err != nil {
		return err
	}
	for i := range b.o.listItems {
		a, err := u.JSON(ctx, http.MethodPost, "/credentials", map[string]any{
			"name": fmt.Sprintf("bench key %03d", i), "provider_name": "openai", "api_key": fmt.Sprintf("sk-bench-%020d", i),
		})
		if err := check("create credential", a, err, http.StatusCreated); err != nil {
			return err
		}
		if _, err := u.upload(ctx, fmt.Sprintf("list_%03d.csv", i), "text/csv", []byte("id,name\n1,a\n2,b\n")); err != nil {
			return err
		}
	}
	// The floor answers with exactly what the gateway answered.
	bodies := map[string]json.RawMessage{}
	for _, r := range listRoutes {
		a, err := u.Get(ctx, r.path)
		if err := check("GET "+r.path, a, err, http.StatusOK); err != nil {
			return err
		}
		bodies["/api/v1"+r.path] = a.Body
	}
	floorBase, stopFloor, err := floor.start(ctx, b.dir, bodies)
	if err != nil {
		return err
	}
	defer func() {
		if err := stopFloor(); err != nil {
			fmt.Fprintln(b.log, "bench:", err)
		}
	}()

	for _, r := range listRoutes {
		if !b.o.wants(r.key) {
			continue
		}
		token := ""
		if r.auth {
			token = u.Token
		}
		ours, err := b.load(ctx, b.sys.API+r.path, token)
		if err != nil {
			return fmt.Errorf("GET %s: %w", r.path, err)
		}
		base, err := b.load(ctx, floorBase+"/api/v1"+r.path, token)
		if err != nil {
			return fmt.Errorf("floor GET %s: %w", r.path, err)
		}
		b.logf("GET %s: %.0f req/s (p50 %.1f ms, p99 %.1f ms); floor %.0f req/s (p50 %.1f ms, p99 %.1f ms)",
			r.path, ours.rate, millis(ours.p50), millis(ours.p99), base.rate, millis(base.p50), millis(base.p99))
		about := fmt.Sprintf("FastAPI + uvicorn, a no-op route returning the same envelope; %d clients", b.o.clients)
		name := "GET " + r.path
		if r.auth {
			name += fmt.Sprintf(" (%d items)", b.o.listItems)
		}
		b.add(r.key, figure(name+" throughput", ours.rate, base.rate, "req/s", r.rate, about))
		b.add(r.key, figure(name+" p50", millis(ours.p50), millis(base.p50), "ms", goal{}, about))
		b.add(r.key, figure(name+" p99", millis(ours.p99), millis(base.p99), "ms", r.p99, about))
	}
	return nil
}

// loadStats is one load measurement.
type loadStats struct {
	rate     float64 // requests answered per second
	p50, p99 time.Duration
}

// load sends GET target from o.clients goroutines, each on its own
// keep-alive connection, for o.warmup untimed and then o.duration, and
// returns the rate and latencies of the requests sent in the timed part.
// Any answer but 2xx fails the measurement.
func (b *bench) load(ctx context.Context, target, token string) (loadStats, error) {
	transport := &http.Transport{MaxIdleConnsPerHost: b.o.clients, MaxConnsPerHost: b.o.clients, DisableCompression: true}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: localrun.RequestTimeout}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	measureFrom := time.Now().Add(b.o.warmup)
	measureTo := measureFrom.Add(b.o.duration)
	var (
		mu      sync.Mutex
		lat     []time.Duration
		failure error
		wg      sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if failure == nil {
			failure = err
		}
		mu.Unlock()
		cancel()
	}
	for range b.o.clients {
		wg.Go(func() {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
			if err != nil {
				fail(err)
				return
			}
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			var mine []time.Duration
			for {
				began := time.Now()
				if !began.Before(measureTo) || ctx.Err() != nil {
					break
				}
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						fail(err)
					}
					break
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					fail(err)
					break
				}
				if resp.StatusCode < 200 || resp.StatusCode > 299 {
					fail(fmt.Errorf("answered %d: %s", resp.StatusCode, strings.TrimSpace(string(body[:min(len(body), 300)]))))
					break
				}
				if !began.Before(measureFrom) {
					mine = append(mine, time.Since(began))
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if failure != nil {
		return loadStats{}, failure
	}
	if err := ctx.Err(); err != nil {
		return loadStats{}, err
	}
	if len(lat) == 0 {
		return loadStats{}, fmt.Errorf("no request answered within %s", b.o.duration)
	}
	return loadStats{
		rate: float64(len(lat)) / b.o.duration.Seconds(),
		p50:  localrun.Percentile(lat, 0.50),
		p99:  localrun.Percentile(lat, 0.99),
	}, nil
}
