package app

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nonefinity/backend/contracts/credentialv1"
	"github.com/nonefinity/backend/contracts/paging"
)

// BenchmarkList100 lists a page of 100 credentials through NATS (client ->
// micro endpoint -> FerretDB), the service's share of GET /credentials.
func BenchmarkList100(b *testing.B) {
	e := newEnv(b)
	e.start(b, e.config(b, "bench-secret"), hooks{})
	ctx := as(userA)
	for i := range 100 {
		if _, err := e.cl.Create(ctx, credentialv1.CreateRequest{Name: fmt.Sprintf("key %03d", i), ProviderName: "openai", APIKey: fmt.Sprintf("sk-bench-%04d-abcdefgh", i)}); err != nil {
			b.Fatal(err)
		}
	}
	req := credentialv1.ListRequest{Page: paging.Page{Limit: 100}}
	lat := make([]time.Duration, 0, 1024)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		reply, err := e.cl.List(ctx, req)
		lat = append(lat, time.Since(start))
		if err != nil || len(reply.Credentials) != 100 {
			b.Fatalf("list: %d items, %v", len(reply.Credentials), err)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
