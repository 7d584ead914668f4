package natsx

import (
	"context"
	"testing"

	"github.com/nonefinity/backend/pkg/testkit"
)

// BenchmarkRequestReply is one typed request-reply round trip (JSON both
// ways, headers, micro) over the embedded server on loopback.
func BenchmarkRequestReply(b *testing.B) {
	srv := testkit.NATS(b)
	svc, err := NewService(srv.Conn(b), ServiceConfig{Name: "natsx-bench", Version: "1.0.0"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = svc.Stop() })
	if err := Handle(svc, "svc.natsxbench.v1.echo", echo); err != nil {
		b.Fatal(err)
	}
	client := NewClient(srv.Conn(b))
	ctx := context.Background()
	req := echoReq{Text: "hello"}
	b.ReportAllocs()
	for b.Loop() {
		resp, err := Call[echoResp](ctx, client, "svc.natsxbench.v1.echo", req)
		if err != nil || resp.Text != "hello" {
			b.Fatalf("call: %v %+v", err, resp)
		}
	}
}
