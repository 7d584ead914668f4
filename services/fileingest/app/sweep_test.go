package app_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/nonefinity/backend/pkg/config"
	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/fileingest/app"
)

// The running service aborts multipart uploads older than
// FILE_MULTIPART_MAX_AGE (here: any) on its own.
func TestServiceSweepsAbandonedUploads(t *testing.T) {
	h := start(t, func(c *app.Config) {
		c.MultipartMaxAge = config.Duration(time.Nanosecond)
		c.MultipartSweepInterval = config.Duration(10 * time.Millisecond)
	})
	ctx := h.ctx("")
	const key = "users/" + alice + "/raw/01ABANDONED.csv"
	if _, err := h.store.NewMultipartUpload(ctx, key, "text/csv"); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, func() error {
		left := 0
		for _, err := range h.store.IncompleteUploads(ctx, "users/") {
			if err != nil {
				t.Fatal(err)
			}
			left++
		}
		if left > 0 {
			return fmt.Errorf("%d uploads still there", left)
		}
		return nil
	})
}
