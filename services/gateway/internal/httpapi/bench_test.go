package httpapi_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nonefinity/backend/contracts"
	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/pkg/reqctx"
	"github.com/nonefinity/backend/services/gateway/internal/auth"
	"github.com/nonefinity/backend/services/gateway/internal/httpapi"
)

// rs256Verifier checks real RS256 tokens with the auth package, as the
// gateway does in production, so the benchmark pays for a signature check.
type rs256Verifier struct{ v *auth.Verifier }

func (r rs256Verifier) Verify(ctx context.Context, token string) (httpapi.Principal, error) {
	c, err := r.v.Verify(ctx, token)
	if err != nil {
		if errors.Is(err, auth.ErrKeysUnavailable) {
			return httpapi.Principal{}, httpapi.ErrAuthUnavailable
		}
		return httpapi.Principal{}, err
	}
	return httpapi.Principal{Subject: c.Subject, Issuer: c.Issuer, Role: c.Role, ExpiresAt: c.ExpiresAt}, nil
}

// benchGateway is the full router with a real RS256 verifier in front of a
// stub datasetquery on embedded NATS, and an admin token for user_a (the
// benchmarked /duckdb/stats is admin-only).
func benchGateway(b *testing.B) (*harness, string) {
	b.Helper()
	keys, err := auth.LoadDevKeys(b.TempDir(), auth.DefaultRoleClaim)
	if err != nil {
		b.Fatal(err)
	}
	src, err := keys.KeySource()
	if err != nil {
		b.Fatal(err)
	}
	v, err := auth.NewVerifier(auth.VerifierConfig{Issuer: auth.DevIssuer, Keys: src})
	if err != nil {
		b.Fatal(err)
	}
	token, _, err := keys.Mint("user_a", contracts.RoleAdmin, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	h := newHarness(b, []string{contracts.ServiceDataset}, func(o *httpapi.Options) { o.Verifier = rs256Verifier{v: v} })
	return h, token
}

// BenchmarkGatewayRequest: GET /api/v1/duckdb/stats through every
// middleware (request id, access log, metrics, Sentry hub, CORS, security
// headers, RS256 auth, identity) and one NATS request to the stub.
func BenchmarkGatewayRequest(b *testing.B) {
	h, token := benchGateway(b)
	req := httptest.NewRequest(http.MethodGet, "/api/v1/duckdb/stats", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
	}
}

// BenchmarkStubDirect: the same stub called over natsx.Client, as the
// baseline the gateway's overhead is measured against.
func BenchmarkStubDirect(b *testing.B) {
	h, _ := benchGateway(b)
	client := natsx.NewClient(h.nc)
	ctx := reqctx.With(context.Background(), reqctx.Meta{UserID: userAID, Role: contracts.RoleUser, RequestID: "bench"})
	subject := dv1.Subject(dv1.OpDuckDBStats)
	b.ReportAllocs()
	for b.Loop() {
		var reply dv1.DuckDBStatsReply
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := client.Request(cctx, subject, struct{}{}, &reply)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGatewayHTTPParallel: requests/s of concurrent keep-alive
// clients over loopback TCP to the full gateway (reported as req/s).
func BenchmarkGatewayHTTPParallel(b *testing.B) {
	h, token := benchGateway(b)
	srv := httptest.NewServer(h.handler)
	b.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second}
	b.Cleanup(client.CloseIdleConnections)
	var failed atomic.Int64
	b.SetParallelism(8) // 8 clients per CPU
	b.ReportAllocs()
	started := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/duckdb/stats", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := client.Do(req)
			if err != nil {
				failed.Add(1)
				continue
			}
			_, _ = io.Copy(io.Discard, resp.Body) // drained, the connection is reused
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				failed.Add(1)
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(started).Seconds(), "req/s")
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d requests failed", n)
	}
}
