package boot

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestIgnoreShutdown(t *testing.T) {
	live := context.Background()
	stopped, cancel := context.WithCancel(context.Background())
	cancel()
	wrapped := fmt.Errorf("ensure consumer: %w", context.Canceled)
	other := errors.New("canary mismatch")
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want error
	}{
		{"nil", stopped, nil, nil},
		{"cancelled during startup", stopped, wrapped, nil},
		{"real failure during shutdown", stopped, other, other},
		{"cancellation error while still running", live, wrapped, wrapped},
	}
	for _, tt := range tests {
		if got := IgnoreShutdown(tt.ctx, tt.err); got != tt.want {
			t.Errorf("%s: IgnoreShutdown = %v, want %v", tt.name, got, tt.want)
		}
	}
}
