package app_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/nonefinity/backend/contracts/filev1"
	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/fileingest/app"
)

// Starting the service gives the bucket the CORS rule of CORS_ORIGINS, so
// the browser's preflight of the upload URL it grants is answered for the
// web client's origin, and refused for another.
func TestStartSetsBucketCORSFromCORSOrigins(t *testing.T) {
	const web = "http://localhost:5173"
	h := start(t, func(c *app.Config) { c.CORSOrigins = []string{web} })
	g, err := h.files.UploadURL(h.ctx(alice), filev1.UploadURLRequest{FileName: "a.csv", FileSize: int64(len(salesCSV)), FileType: "text/csv"})
	if err != nil {
		t.Fatalf("UploadURL: %v", err)
	}
	// The rule is set beside the service's start, so it may come a moment
	// after the first answer.
	testkit.Eventually(t, 10*time.Second, func() error {
		p := testkit.SendPreflight(t, g.UploadURL, web, http.MethodPut, "Content-Type")
		if p.Status == http.StatusOK && p.AllowOrigin == web {
			return nil
		}
		return fmt.Errorf("preflight from %s = %d %q, want 200 allowing it", web, p.Status, p.AllowOrigin)
	})
	if p := testkit.SendPreflight(t, g.UploadURL, "https://other.example.com", http.MethodPut, "Content-Type"); p.AllowOrigin != "" || p.Status != http.StatusForbidden {
		t.Fatalf("preflight from another origin = %d %q, want 403", p.Status, p.AllowOrigin)
	}
}
