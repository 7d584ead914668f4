package mongox

import (
	"context"
	"fmt"
	"testing"

	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"
)

// A ping that timed out on a server the driver selected is slowness; one
// that found no server to select is an outage.
func TestSlowNotGone(t *testing.T) {
	cases := []struct {
		name string
		err  error
		slow bool
	}{
		{"command timed out", fmt.Errorf("ping: %w", context.DeadlineExceeded), true},
		{"no server to select", topology.ServerSelectionError{Wrapped: context.DeadlineExceeded}, false},
		{"connection refused", fmt.Errorf("dial tcp 127.0.0.1:1: connect: connection refused"), false},
	}
	for _, c := range cases {
		if got := slowNotGone(c.err); got != c.slow {
			t.Errorf("%s: slowNotGone = %v, want %v", c.name, got, c.slow)
		}
	}
}
