package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nonefinity/backend/contracts"
	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/pkg/telemetry"
	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/datasetquery/internal/datasets"
	"github.com/nonefinity/backend/services/datasetquery/internal/events"
)

// gaveUp is a core whose every conversion has died too often: RunConvert
// fails the dataset and answers ErrGaveUp.
type gaveUp struct{ runs, fails atomic.Int32 }

func (g *gaveUp) RunConvert(context.Context, datasets.ConvertJob) error {
	g.runs.Add(1)
	return fmt.Errorf("%w: 5 attempts without an outcome", datasets.ErrGaveUp)
}

func (g *gaveUp) FailConvert(context.Context, datasets.ConvertJob, string) error {
	g.fails.Add(1)
	return nil
}

// A conversion the core gave up on is over: the job is not run again, and
// it is reported as a poison message (one Sentry error event with an
// error id, the owner hashed) rather than acknowledged in silence.
func TestGivenUpConversionIsReportedOnce(t *testing.T) {
	ingest, flush := testkit.Sentry(t, telemetry.SentryOptions{})
	ns := testkit.NATS(t)
	js := ns.JetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	spec, _ := contracts.StreamFor(contracts.StreamJobs)
	if err := natsx.EnsureStreams(ctx, js, []contracts.StreamSpec{spec}, natsx.StreamOptions{Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	core := &gaveUp{}
	c, err := events.StartConverting(ctx, js, core, natsx.ConsumerOptions{Service: "datasetquery-test", MaxDeliver: -1, Concurrency: 1},
		natsx.Fairness{PerKey: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()

	const owner = "user_gave_up_1"
	job := dv1.ConvertJob{DatasetID: "ds1", OwnerID: owner, FileID: "f1"}
	body, _ := json.Marshal(job)
	if _, err := js.Publish(ctx, job.Subject(), body); err != nil {
		t.Fatal(err)
	}
	if !flush(5 * time.Second) {
		t.Fatal("sentry flush timed out")
	}
	ingest.WaitPoisonEvent(t, 10*time.Second, contracts.DurableDatasetConvert, "conversion gave up", owner)
	// Terminated, not redelivered: one run, however long we wait for more.
	time.Sleep(500 * time.Millisecond)
	if n := core.runs.Load(); n != 1 {
		t.Errorf("the job ran %d times, want once", n)
	}
}
