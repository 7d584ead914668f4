package health

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nonefinity/backend/contracts/healthv1"
)

func TestHandler(t *testing.T) {
	tests := []struct {
		name       string
		checks     map[string]Check
		wantStatus string
		wantChecks map[string]string
	}{
		{"no checks", nil, healthv1.StatusOK, nil},
		{"all ok", map[string]Check{"mongo": func(context.Context) error { return nil }}, healthv1.StatusOK, map[string]string{"mongo": "ok"}},
		{"one down", map[string]Check{
			"mongo": func(context.Context) error { return nil },
			"s3":    func(context.Context) error { return errors.New("dial tcp: refused") },
		}, healthv1.StatusDegraded, map[string]string{"mongo": "ok", "s3": "unavailable"}},
		{"hanging check is cut off", map[string]Check{"slow": func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		}}, healthv1.StatusDegraded, map[string]string{"slow": "unavailable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			got, err := Handler("svc", "1.2.3", tt.checks)(ctx, healthv1.Request{})
			if err != nil {
				t.Fatalf("handler error: %v", err)
			}
			if got.Service != "svc" || got.Version != "1.2.3" || got.Status != tt.wantStatus {
				t.Fatalf("got %+v, want status %s", got, tt.wantStatus)
			}
			if len(got.Checks) != len(tt.wantChecks) {
				t.Fatalf("checks = %v, want %v", got.Checks, tt.wantChecks)
			}
			for k, v := range tt.wantChecks {
				if got.Checks[k] != v {
					t.Errorf("check %s = %q, want %q", k, got.Checks[k], v)
				}
			}
			if len(tt.wantChecks) > 0 && got.Checks["s3"] != "" && got.Checks["s3"] != "unavailable" {
				t.Errorf("raw error leaked: %q", got.Checks["s3"])
			}
		})
	}
}
