package all_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nonefinity/backend/pkg/testkit"
)

// fastAnswer bounds a request while a dependency is known to be down:
// API.md promises a fast 503, never a hang.
const fastAnswer = time.Second

// timedGet sends GET path as u with a deadline of within and returns the
// status and how long the answer took; 0 when there was none in time.
func timedGet(t *testing.T, u apiUser, path string, within time.Duration) (int, time.Duration) {
	t.Helper()
	return timedDo(t, u, http.MethodGet, path, nil, "", within)
}

// timedDo is timedGet for any method and body.
func timedDo(t *testing.T, u apiUser, method, path string, body io.Reader, contentType string, within time.Duration) (int, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if u.token != "" {
		req.Header.Set("Authorization", "Bearer "+u.token)
	}
	started := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if errors.Is(err, context.DeadlineExceeded) {
		return 0, 0
	}
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	resp.Body.Close()
	return resp.StatusCode, time.Since(started)
}

// waitStatus sends GET path until it answers want within the deadline of
// each try, for at most a minute, and returns how long that answer took.
func waitStatus(t *testing.T, u apiUser, path string, want int, within time.Duration) time.Duration {
	t.Helper()
	var took time.Duration
	// Nothing announces a reconnect or a ping to the test.
	testkit.Eventually(t, time.Minute, func() error {
		var status int
		if status, took = timedGet(t, u, path, within); status == want {
			return nil
		}
		return fmt.Errorf("GET %s never answered %d within %s", path, want, within)
	})
	return took
}

// assertFast503s sends GET path n times and fails unless each is a 503
// answered before a fastAnswer deadline; it logs the slowest.
func assertFast503s(t *testing.T, u apiUser, path string, n int, what string) {
	t.Helper()
	var slowest time.Duration
	for range n {
		status, took := timedGet(t, u, path, fastAnswer)
		if status != http.StatusServiceUnavailable {
			t.Fatalf("%s: GET %s answered %d (0: not within %s), want a 503 at once", what, path, status, fastAnswer)
		}
		slowest = max(slowest, took)
	}
	t.Logf("%s: %d requests answered 503, the slowest in %s", what, n, slowest)
}

// While NATS or MongoDB is down the API answers 503 at once, not after the
// request timeout or the database's server selection timeout, and it
// serves again once the dependency is back, with no service restarted.
func TestE2EOutagesAnswer503AtOnceAndHeal(t *testing.T) {
	mongo := testkit.OwnMongo(t)
	s := startE2E(t, e2eOptions{Mongo: mongo})
	a := s.user(t, "e2e_outage_a", "")
	// The first request creates the user; later ones find the identity
	// cached in the gateway.
	expect(t, a.get(t, "/credentials"), http.StatusOK, nil)
	ops := apiUser{base: strings.TrimSuffix(s.base, "/api/v1")}

	t.Run("nats", func(t *testing.T) {
		s.nats.Stop()
		stopped := time.Now()
		waitStatus(t, ops, "/ready", http.StatusServiceUnavailable, fastAnswer)
		t.Logf("/ready reported NATS down %s after the stop", time.Since(stopped))
		assertFast503s(t, a, "/credentials", 5, "NATS down")

		started := time.Now()
		s.nats.Start(t)
		waitStatus(t, a, "/credentials", http.StatusOK, 10*time.Second)
		t.Logf("served again %s after NATS restarted", time.Since(started))
	})

	t.Run("mongodb", func(t *testing.T) {
		mongo.Stop()
		stopped := time.Now()
		// Until a health ping has failed a request waits out the server
		// selection timeout (2s); from then on it is refused at once.
		waitStatus(t, a, "/credentials", http.StatusServiceUnavailable, fastAnswer)
		t.Logf("the first 503 within %s came %s after the stop", fastAnswer, time.Since(stopped))
		assertFast503s(t, a, "/credentials", 5, "MongoDB down")

		started := time.Now()
		mongo.Start(t)
		waitStatus(t, a, "/credentials", http.StatusOK, 10*time.Second)
		t.Logf("served again %s after MongoDB restarted", time.Since(started))
	})
}
