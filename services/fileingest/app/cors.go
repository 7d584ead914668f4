package app

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/nonefinity/backend/pkg/objstore"
)

// applyBrowserCORS sets the bucket's CORS from CORS_ORIGINS: fileingest
// grants the presigned upload and download URLs the browser uses, so it owns
// the rule that lets the browser use them. It runs beside the service rather
// than before it, so that a store down at start delays the rule, not the
// service (which answers 503 meanwhile), and retries until it is set. A
// server without the bucket CORS API (MinIO's community edition) or a key
// without the right is warned about once: uploads through the gateway still
// work, and the operator sets CORS on the server (deploy/README.md).
func applyBrowserCORS(ctx context.Context, st *objstore.Store, origins []string, log *slog.Logger) {
	wait := time.Second
	for {
		err := st.SetBrowserCORS(ctx, origins)
		switch {
		case err == nil:
			log.InfoContext(ctx, "bucket CORS set", "bucket", st.Bucket(), "origins", origins)
			return
		case errors.Is(err, objstore.ErrCORSUnsupported):
			log.WarnContext(ctx, "bucket CORS not set: browsers cannot use presigned URLs unless the object store allows CORS_ORIGINS itself",
				"bucket", st.Bucket(), "err", err)
			return
		case ctx.Err() != nil:
			return
		}
		log.WarnContext(ctx, "bucket CORS not set yet; retrying", "bucket", st.Bucket(), "retry_in", wait, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Minute)
	}
}
