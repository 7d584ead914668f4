package app_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/nonefinity/backend/pkg/config"
	"github.com/nonefinity/backend/services/gateway/app"
)

// The Clerk variables are the gateway's: their defaults come from the
// gateway's Settings, and their lists are tidied as config.Base tidies its
// own.
func TestClerkSettingsAreTheGateways(t *testing.T) {
	cfg, err := config.LoadFrom[app.Config](map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"CLERK_ROLE_CLAIM", cfg.Clerk.RoleClaim, "metadata.role"},
		{"CLERK_AUTHORIZED_PARTIES", cfg.Clerk.AuthorizedParties, []string(nil)},
		{"ADMIN_CLERK_IDS", cfg.Clerk.AdminIDs, []string(nil)},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
	if d := app.DefaultSettings(); !reflect.DeepEqual(d, cfg.Settings) {
		t.Errorf("DefaultSettings = %+v, an empty environment gives %+v", d, cfg.Settings)
	}

	cfg, err = config.LoadFrom[app.Config](map[string]string{
		"APP_ENV":                  "Prod",
		"CLERK_ISSUER":             "https://x.clerk.accounts.dev",
		"CLERK_AUTHORIZED_PARTIES": "https://app.example",
		"ADMIN_CLERK_IDS":          "user_1,user_2",
		"CORS_ORIGINS":             " https://a.example , https://b.example,,",
		"APP_API_KEY_PEPPER":       strings.Repeat("p", 32),
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"user_1", "user_2"}; !reflect.DeepEqual(cfg.Clerk.AdminIDs, want) {
		t.Errorf("ADMIN_CLERK_IDS = %q, want %q", cfg.Clerk.AdminIDs, want)
	}
	if want := []string{"https://app.example"}; !reflect.DeepEqual(cfg.Clerk.AuthorizedParties, want) {
		t.Errorf("CLERK_AUTHORIZED_PARTIES = %q, want %q", cfg.Clerk.AuthorizedParties, want)
	}
	if want := []string{"https://a.example", "https://b.example"}; !reflect.DeepEqual(cfg.CORSOrigins, want) || !cfg.IsProd() {
		t.Errorf("the shared variables are not tidied: CORS_ORIGINS = %q, prod %v", cfg.CORSOrigins, cfg.IsProd())
	}
}

// Each problem of the gateway's own variables names the variable and what
// it accepts.
func TestSettingsValidate(t *testing.T) {
	for _, tc := range []struct {
		variable, value, problem string
	}{
		{"RATE_LIMIT_PER_MINUTE", "-1", "must not be negative"},
		{"RATE_LIMIT_IP_PER_MINUTE", "-1", "must not be negative"},
		{"GATEWAY_REQUEST_TIMEOUT", "0", "must be greater than zero"},
		{"GATEWAY_UPLOAD_RELAY_BYTES", "10485759", "must be at least 10485760"},
		{"SSE_HEARTBEAT_INTERVAL", "0", "must be greater than zero"},
		{"SSE_MAX_CONNECTIONS_PER_USER", "0", "must be at least 1"},
		{"SSE_MAX_CONNECTIONS_PER_USER", "-3", "must be at least 1"},
		{"CLERK_JWT_LEEWAY", "0s", "must be between 1s and 5m"},
		{"CLERK_JWT_LEEWAY", "6m", "must be between 1s and 5m"},
		{"APP_API_KEY_PEPPER", "short", "must be at least 32 characters"},
		{"API_KEY_MAX_PER_USER", "0", "must be at least 1"},
		{"API_KEY_CACHE_TTL", "0s", "must be greater than zero and at most 5m"},
		{"API_KEY_CACHE_TTL", "6m", "must be greater than zero and at most 5m"},
		{"RATE_LIMIT_PER_KEY_PER_MINUTE", "-1", "must not be negative"},
	} {
		t.Run(tc.variable+"="+tc.value, func(t *testing.T) {
			s, err := config.LoadFrom[app.Settings](map[string]string{tc.variable: tc.value})
			if err == nil {
				err = s.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tc.variable+": "+tc.problem) {
				t.Errorf("err = %v, want %s: %s", err, tc.variable, tc.problem)
			}
		})
	}
	if err := app.DefaultSettings().Validate(); err != nil {
		t.Errorf("the defaults are refused: %v", err)
	}
}

// Production needs a pepper of its own: a generated one would differ
// between instances.
func TestProdRequiresAPIKeyPepper(t *testing.T) {
	_, err := config.LoadFrom[app.Config](map[string]string{"APP_ENV": "prod", "CLERK_ISSUER": "https://x.clerk.accounts.dev"})
	if err == nil || !strings.Contains(err.Error(), "APP_API_KEY_PEPPER: is required when APP_ENV=prod") {
		t.Fatalf("err = %v", err)
	}
}
