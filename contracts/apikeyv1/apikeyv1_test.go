package apikeyv1_test

import (
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/apikeyv1"
	"github.com/nonefinity/backend/contracts/internal/golden"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the current types")

func TestWireFormat(t *testing.T) {
	golden.CheckAll(t, []golden.Case{
		{Name: "key_invalidated", Value: apikeyv1.KeyInvalidated{
			KeyID: "65f2a1b3c4d5e6f708192c01", UserID: "65f2a1b3c4d5e6f708192a3b", Reason: apikeyv1.ReasonRevoked,
			At: time.Date(2025, 6, 1, 12, 0, 0, 123000000, time.UTC),
		}},
	}, *update)
}

// The invalidation is a broadcast, outside every stream: it is for the
// gateways' caches, not for the users' event history or the SSE streams.
func TestInvalidatedIsABroadcast(t *testing.T) {
	subj := apikeyv1.KeyInvalidated{KeyID: "k", UserID: "u1"}.Subject()
	if want := "bcast.gateway.v1.apikey_invalidated"; subj != want {
		t.Fatalf("subject %q, want %q", subj, want)
	}
	for _, s := range contracts.Streams() {
		for _, filter := range s.Subjects {
			if strings.HasPrefix(subj, strings.TrimSuffix(filter, ">")) {
				t.Fatalf("stream %s keeps key invalidations (%s)", s.Name, filter)
			}
		}
	}
}
