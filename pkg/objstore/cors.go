package objstore

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/cors"
)

// ErrCORSUnsupported is wrapped by SetBrowserCORS when the server has no
// bucket CORS API (MinIO's community edition answers NotImplemented and
// applies its global MINIO_API_CORS_ALLOW_ORIGIN instead) or the key may
// not change it: the operator then sets CORS on the server by hand.
var ErrCORSUnsupported = errors.New("objstore: bucket CORS cannot be set through the S3 API")

// browserCORSMaxAge is how long a browser may reuse a preflight answer.
const browserCORSMaxAge = 600

// BrowserCORS is the rule that lets the web client PUT to a presigned
// upload URL and GET a presigned download from origins: a browser's PUT
// with a body carries Content-Type, which makes it a non-simple request
// and so preflighted. The signature in the URL is the authorization, so
// the rule widens nothing but the origins that may use a URL they hold.
// ETag is exposed so a client can read the stored version of its upload.
func BrowserCORS(origins []string) *cors.Config {
	return cors.NewConfig([]cors.Rule{{
		ID:            "nonefinity-browser",
		AllowedOrigin: origins,
		AllowedMethod: []string{http.MethodPut, http.MethodGet},
		AllowedHeader: []string{"Content-Type", "Content-MD5", "Content-Disposition", "Cache-Control"},
		ExposeHeader:  []string{"ETag"},
		MaxAgeSeconds: browserCORSMaxAge,
	}})
}

// SetBrowserCORS makes the bucket's CORS configuration BrowserCORS(origins),
// replacing whatever was there; with no origins it removes the bucket's CORS
// configuration, so no browser origin may use the store. Running it at every
// start keeps the bucket in step with CORS_ORIGINS.
func (s *Store) SetBrowserCORS(ctx context.Context, origins []string) error {
	var cfg *cors.Config
	if len(origins) > 0 {
		cfg = BrowserCORS(origins)
	}
	err := s.client.SetBucketCors(ctx, s.bucket, cfg)
	if err == nil {
		return nil
	}
	switch minio.ToErrorResponse(err).Code {
	case "NotImplemented", "AccessDenied":
		return fmt.Errorf("objstore: set CORS of bucket %q: %w: %w", s.bucket, ErrCORSUnsupported, err)
	case "NoSuchCORSConfiguration":
		return nil // nothing to remove
	}
	return s.fail("set CORS of bucket", s.bucket, err)
}
