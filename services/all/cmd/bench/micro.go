package main

import (
	"context"
	"fmt"
	"time"

	cv1 "github.com/nonefinity/backend/contracts/credentialv1"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/services/credential/keyringbench"
)

// decrypt times the credential service's decryption of a stored key on one
// goroutine (one core) against the cipher alone on a value of the same
// size: the ratio is what parsing the versioned value, finding its key and
// building the binding add to AES-256-GCM.
func (b *bench) decrypt(ctx context.Context) error {
	service, floor, err := keyringbench.Decrypters()
	if err != nil {
		return err
	}
	ours, base, err := interleavedRates(ctx, b.o.micro, service, floor)
	if err != nil {
		return fmt.Errorf("decrypt: %w", err)
	}
	b.logf("decrypt: %.0f/s, AES-256-GCM open alone %.0f/s", ours, base)
	b.add("decrypt", figure("credential decrypt per core", ours, base, "decrypts/s", goal{}, "AES-256-GCM open of the same size alone"))
	return nil
}

// natsHop times one request-reply over the system's embedded NATS server
// (natsx: JSON both ways, headers, micro, the handler) against a direct call
// of the same handler, one call at a time. The handler answers the
// providers list the API serves.
func (b *bench) natsHop(ctx context.Context) error {
	api, err := b.signIn(ctx, "bench_nats")
	if err != nil {
		return err
	}
	var providers cv1.ProvidersListReply
	if err := api.getOK(ctx, "/providers", &providers); err != nil {
		return err
	}
	handler := func(context.Context, cv1.ProvidersListRequest) (cv1.ProvidersListReply, error) { return providers, nil }

	server, err := natsx.Connect(b.sys.Endpoints.NATS, natsx.ConnectOptions{Name: "bench-service"})
	if err != nil {
		return err
	}
	defer server.Close()
	client, err := natsx.Connect(b.sys.Endpoints.NATS, natsx.ConnectOptions{Name: "bench-client"})
	if err != nil {
		return err
	}
	defer client.Close()
	svc, err := natsx.NewService(server, natsx.ServiceConfig{Name: "bench", Version: "1.0.0"}, nil)
	if err != nil {
		return err
	}
	defer svc.Stop()
	const subject = "svc.bench.v1.providers"
	if err := natsx.Handle(svc, subject, handler, natsx.WithoutUser(), natsx.WithDescription("the providers list, for the NATS hop figure")); err != nil {
		return err
	}
	c := natsx.NewClient(client)
	req := cv1.ProvidersListRequest{ActiveOnly: true}
	hop := func() error {
		reply, err := natsx.Call[cv1.ProvidersListReply](ctx, c, subject, req)
		if err == nil && reply.Total != providers.Total {
			err = fmt.Errorf("nats hop: %d providers, want %d", reply.Total, providers.Total)
		}
		return err
	}
	direct := func() error {
		reply, err := handler(ctx, req)
		if err == nil && reply.Total != providers.Total {
			err = fmt.Errorf("direct call: %d providers, want %d", reply.Total, providers.Total)
		}
		return err
	}
	ours, base, err := interleavedRates(ctx, b.o.micro, hop, direct)
	if err != nil {
		return err
	}
	b.logf("NATS hop: %.1f µs per call, direct call %.3f µs", 1e6/ours, 1e6/base)
	b.add("nats", figure(fmt.Sprintf("NATS hop (providers list, %d rows)", providers.Total), 1e6/ours, 1e6/base, "µs/call", goal{}, "a direct call of the same handler"))
	return nil
}

// interleavedRates runs ours and the baseline alternately, each for half of
// d twice, one call at a time, and returns each one's calls per second.
func interleavedRates(ctx context.Context, d time.Duration, ours, baseline func() error) (float64, float64, error) {
	var n [2]int
	var spent [2]time.Duration
	fns := [2]func() error{ours, baseline}
	for round := range 4 {
		i := round % 2
		start := time.Now()
		end := start.Add(d / 2)
		for time.Now().Before(end) {
			for range 64 {
				if err := fns[i](); err != nil {
					return 0, 0, err
				}
			}
			n[i] += 64
			if ctx.Err() != nil {
				return 0, 0, ctx.Err()
			}
		}
		spent[i] += time.Since(start)
	}
	return float64(n[0]) / spent[0].Seconds(), float64(n[1]) / spent[1].Seconds(), nil
}
