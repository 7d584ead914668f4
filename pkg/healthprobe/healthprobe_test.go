package healthprobe

import (
	"errors"
	"net/http"
	"testing"

	"github.com/nonefinity/backend/pkg/testkit"
)

func TestURL(t *testing.T) {
	tests := []struct {
		listen, want string
		wantErr      bool
	}{
		{":9091", "http://127.0.0.1:9091/health", false},
		{"0.0.0.0:8000", "http://127.0.0.1:8000/health", false},
		{"[::]:8000", "http://127.0.0.1:8000/health", false},
		{"127.0.0.1:9091", "http://127.0.0.1:9091/health", false},
		{"[::1]:9091", "http://[::1]:9091/health", false},
		{"ops.internal:9091", "http://ops.internal:9091/health", false},
		{"", "", true},
		{"9091", "", true},
		{":0", "", true},
	}
	for _, tt := range tests {
		got, err := URL(tt.listen)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("URL(%q) = %q, %v; want %q, error %v", tt.listen, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestExitCodeFollowsTheProcessHealth(t *testing.T) {
	health := testkit.HealthServer(t)
	if code := Main(health.Addr, nil); code != 0 {
		t.Fatalf("healthy process: exit %d, want 0", code)
	}
	health.SetStatus(http.StatusServiceUnavailable)
	if code := Main(health.Addr, nil); code != 1 {
		t.Fatalf("degraded process (503): exit %d, want 1", code)
	}
	health.Close()
	if code := Main(health.Addr, nil); code != 1 {
		t.Fatalf("nothing listening: exit %d, want 1", code)
	}
	if code := Main(":9091", errors.New("config")); code != 1 {
		t.Fatalf("configuration error: exit %d, want 1", code)
	}
	if code := Main("", nil); code != 1 {
		t.Fatalf("no address: exit %d, want 1", code)
	}
}

func TestRequested(t *testing.T) {
	if !Requested([]string{"/usr/local/bin/service", "healthcheck"}) {
		t.Error("service healthcheck not recognised")
	}
	for _, args := range [][]string{{"service"}, {"service", "healthcheck", "x"}, {"service", "health"}} {
		if Requested(args) {
			t.Errorf("%v taken for the health check", args)
		}
	}
}
