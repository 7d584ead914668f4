package app_test

import (
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"testing"

	"github.com/nonefinity/backend/pkg/config"
	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/gateway/app"
)

func TestRateLimitSettings(t *testing.T) {
	env := func(extra map[string]string) map[string]string {
		m := map[string]string{"NATS_URL": "nats://127.0.0.1:1", "DATA_DIR": t.TempDir(), "APP_ENV": "dev"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	cfg, err := config.LoadFrom[app.Config](env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RateLimitIPPerMinute != 600 || len(cfg.TrustedProxies) != 0 {
		t.Errorf("defaults: RATE_LIMIT_IP_PER_MINUTE %d, TRUSTED_PROXIES %q", cfg.RateLimitIPPerMinute, cfg.TrustedProxies)
	}
	if d := app.DefaultSettings(); d.RateLimitIPPerMinute != cfg.RateLimitIPPerMinute || len(d.TrustedProxies) != 0 {
		t.Errorf("DefaultSettings differ from the environment's defaults: %+v", d)
	}
	cfg, err = config.LoadFrom[app.Config](env(map[string]string{
		"RATE_LIMIT_IP_PER_MINUTE": "0", "TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RateLimitIPPerMinute != 0 || len(cfg.TrustedProxies) != 2 {
		t.Errorf("RATE_LIMIT_IP_PER_MINUTE %d, TRUSTED_PROXIES %q", cfg.RateLimitIPPerMinute, cfg.TrustedProxies)
	}
	if err := cfg.Settings.Validate(); err != nil {
		t.Errorf("valid settings refused: %v", err)
	}
	for _, tc := range []struct{ name, value string }{
		{"RATE_LIMIT_IP_PER_MINUTE", "-1"},
		{"TRUSTED_PROXIES", "10.0.0.0/8,lb.internal"},
		{"TRUSTED_PROXIES", "10.0.0.0/40"},
	} {
		_, err := config.LoadFrom[app.Config](env(map[string]string{tc.name: tc.value}))
		var ve config.VarError
		if !errors.As(err, &ve) || ve.Var != tc.name {
			t.Errorf("%s=%s: %v, want an error naming the variable", tc.name, tc.value, err)
		}
	}
}

// The wired gateway limits each forwarded client before checking its
// token: bogus tokens get 401 until the address's limit, then 429, while
// another client behind the same balancer still gets its 401.
func TestGatewayLimitsAddressesBeforeAuth(t *testing.T) {
	ns := testkit.NATS(t)
	cfg, err := config.LoadFrom[app.Config](map[string]string{
		"NATS_URL": ns.URL, "DATA_DIR": t.TempDir(), "APP_ENV": "dev",
		"RATE_LIMIT_IP_PER_MINUTE": "3", "TRUSTED_PROXIES": "127.0.0.1",
	})
	if err != nil {
		t.Fatal(err)
	}
	url := runGateway(t, cfg, ns, testkit.Mongo(t)).base + "/api/v1/auth/me"
	call := func(client string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer not-a-token")
		req.Header.Set("X-Forwarded-For", client)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// A limit of 3 a minute admits one request every 20 s; should the
	// machine stall that long between two requests, one retry as a fresh
	// client keeps the test from depending on its speed.
	for attempt := 0; ; attempt++ {
		client := "198.51.100." + strconv.Itoa(1+attempt)
		var got []int
		for range 4 {
			got = append(got, call(client))
		}
		want := []int{401, 401, 401, 429}
		if reflect.DeepEqual(got, want) {
			break
		}
		if attempt == 1 {
			t.Fatalf("statuses %v, want %v", got, want)
		}
	}
	if got := call("198.51.100.9"); got != http.StatusUnauthorized {
		t.Errorf("another forwarded client: %d, want 401", got)
	}
}
