package natsx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/pkg/config"
	"github.com/nonefinity/backend/pkg/testkit"
)

// Several instances started together declare the same streams and the same
// durable consumer at the same moment; every one of them must come up.
func TestEnsureStreamsConcurrentDeclarationsAllSucceed(t *testing.T) {
	n := testkit.NATS(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()

	const instances = 8
	js := make([]jetstream.JetStream, instances)
	for i := range js {
		js[i] = n.JetStream(t)
	}
	opts := defaultSettings(t).Options()
	consumer := jetstream.ConsumerConfig{Durable: contracts.DurableFileUserErase, AckPolicy: jetstream.AckExplicitPolicy}
	start := make(chan struct{})
	errs := make(chan error, instances)
	var wg sync.WaitGroup
	for i := range instances {
		wg.Go(func() {
			<-start
			if err := EnsureStreams(ctx, js[i], contracts.Streams(), opts); err != nil {
				errs <- fmt.Errorf("instance %d: %w", i, err)
				return
			}
			if _, err := ensureConsumer(ctx, js[i], contracts.StreamUsers, consumer, nil); err != nil {
				errs <- fmt.Errorf("instance %d: %w", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, spec := range contracts.Streams() {
		s, err := js[0].Stream(ctx, spec.Name)
		if err != nil {
			t.Fatalf("stream %s: %v", spec.Name, err)
		}
		if got, want := s.CachedInfo().Config.MaxAge, opts.Limits[spec.Name].MaxAge; got != want {
			t.Errorf("stream %s max age = %s, want %s", spec.Name, got, want)
		}
	}
	users, err := js[0].Stream(ctx, contracts.StreamUsers)
	if err != nil {
		t.Fatal(err)
	}
	names := users.ConsumerNames(ctx)
	var got []string
	for name := range names.Name() {
		got = append(got, name)
	}
	if strings.Join(got, ",") != contracts.DurableFileUserErase {
		t.Fatalf("consumers on USERS = %v, want the one durable", got)
	}
}

// A service that connects before JetStream answers (a server still
// starting, a cluster without a meta leader) keeps trying, says so in the
// log, and succeeds once JetStream is there.
func TestEnsureStreamsRetriesUntilJetStreamIsAvailable(t *testing.T) {
	srv, js := jetStreamNotYetAvailable(t)
	logs := newLogSink()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- EnsureStreams(ctx, js, contracts.Streams(), StreamOptions{Logger: logs.logger()})
	}()

	retry := logs.waitMsg(t, waitLong, "jetstream declaration failed, retrying")
	if retry.Level != slog.LevelWarn || retry.Attrs["what"] != "stream "+contracts.StreamUsers || retry.Attrs["attempt"] != "1" {
		t.Fatalf("retry logged as %v", retry)
	}
	srv.EnableJetStream(t)
	if err := recv(t, done, waitLong, "EnsureStreams to return"); err != nil {
		t.Fatalf("ensure streams once JetStream is up: %v", err)
	}
	for _, spec := range contracts.Streams() {
		if _, err := js.Stream(ctx, spec.Name); err != nil {
			t.Fatalf("stream %s: %v", spec.Name, err)
		}
	}
	logs.waitMsg(t, waitLong, "jetstream declaration succeeded after retries")
}

// A bound that passes while JetStream is still away ends the declaration
// with the last error and how long it tried, not a bare deadline.
func TestEnsureStreamsGivesUpAtTheSetupTimeout(t *testing.T) {
	_, js := jetStreamNotYetAvailable(t)
	err := EnsureStreams(context.Background(), js, contracts.Streams(), StreamOptions{Timeout: 500 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "ensure stream "+contracts.StreamUsers+": gave up after") ||
		!errors.Is(err, nats.ErrNoResponders) && !errors.Is(err, jetstream.ErrJetStreamNotEnabled) {
		t.Fatalf("error = %v, want a give-up naming the stream and keeping the cause", err)
	}
}

// The race of issue #11: a fresh 3-node cluster and the three services
// that declare streams started at the same moment, each connected to
// another node, with three replicas. None may exit.
func TestEnsureStreamsOnAFreshThreeNodeCluster(t *testing.T) {
	started := time.Now()
	cluster := testkit.NATSCluster(t, 3)
	settings := defaultSettings(t)
	settings.Replicas = 3
	opts := settings.Options()

	type service struct {
		name    string
		streams []string
		durable string
	}
	services := []service{
		{"credential", []string{contracts.StreamUsers}, contracts.DurableCredentialUserErase},
		{"fileingest", []string{contracts.StreamFiles, contracts.StreamUsers}, contracts.DurableFileUserErase},
		{"datasetquery", []string{contracts.StreamDatasets, contracts.StreamJobs, contracts.StreamUsers}, contracts.DurableDatasetUserErase},
	}
	js := make([]jetstream.JetStream, len(services))
	for i := range services {
		var err error
		if js[i], err = jetstream.New(cluster.Conn(t, i)); err != nil {
			t.Fatal(err)
		}
	}
	logs := newLogSink()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	errs := make(chan error, len(services))
	var wg sync.WaitGroup
	for i, svc := range services {
		wg.Go(func() {
			var specs []contracts.StreamSpec
			for _, name := range svc.streams {
				spec, _ := contracts.StreamFor(name)
				specs = append(specs, spec)
			}
			o := opts
			o.Logger = logs.logger().With("service", svc.name)
			if err := EnsureStreams(ctx, js[i], specs, o); err != nil {
				errs <- fmt.Errorf("%s: %w", svc.name, err)
				return
			}
			cfg := jetstream.ConsumerConfig{Durable: svc.durable, AckPolicy: jetstream.AckExplicitPolicy}
			if _, err := ensureConsumer(ctx, js[i], contracts.StreamUsers, cfg, o.Logger); err != nil {
				errs <- fmt.Errorf("%s: %w", svc.name, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	for _, spec := range contracts.Streams() {
		s, err := js[0].Stream(ctx, spec.Name)
		if err != nil {
			t.Fatalf("stream %s: %v", spec.Name, err)
		}
		info := s.CachedInfo()
		if info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
			t.Fatalf("stream %s: replicas %d, cluster %+v", spec.Name, info.Config.Replicas, info.Cluster)
		}
	}
	retries := 0
	for _, r := range logs.all() {
		if r.Msg == "jetstream declaration failed, retrying" {
			retries++
		}
	}
	t.Logf("cluster up and every service declared in %s (%d retries logged)", time.Since(started).Round(time.Millisecond), retries)
}

// The retention of each stream comes from its variables, defaults included,
// and an existing stream (created before limits existed) is updated to them
// at the next start.
func TestStreamSettingsSetEachStreamsLimits(t *testing.T) {
	js := testkit.NATS(t).JetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	if err := EnsureStreams(ctx, js, contracts.Streams(), StreamOptions{}); err != nil {
		t.Fatal(err)
	}

	type limits struct {
		maxAge   time.Duration
		maxBytes int64
		discard  jetstream.DiscardPolicy
	}
	check := func(want map[string]limits) {
		t.Helper()
		for name, w := range want {
			s, err := js.Stream(ctx, name)
			if err != nil {
				t.Fatalf("stream %s: %v", name, err)
			}
			cfg := s.CachedInfo().Config
			if got := (limits{cfg.MaxAge, cfg.MaxBytes, cfg.Discard}); got != w {
				t.Errorf("stream %s limits = %+v, want %+v", name, got, w)
			}
			if cfg.MaxAge > 0 && cfg.Duplicates > cfg.MaxAge {
				t.Errorf("stream %s: duplicate window %s outlives max age %s", name, cfg.Duplicates, cfg.MaxAge)
			}
		}
	}

	logs := newLogSink()
	opts := defaultSettings(t).Options()
	opts.Logger = logs.logger()
	if err := EnsureStreams(ctx, js, contracts.Streams(), opts); err != nil {
		t.Fatal(err)
	}
	check(map[string]limits{
		contracts.StreamUsers:    {30 * 24 * time.Hour, -1, jetstream.DiscardNew},
		contracts.StreamFiles:    {7 * 24 * time.Hour, -1, jetstream.DiscardOld},
		contracts.StreamDatasets: {24 * time.Hour, -1, jetstream.DiscardOld},
		contracts.StreamJobs:     {0, -1, jetstream.DiscardNew},
	})
	updated := logs.wait(t, waitLong, "stream updated USERS", func(r logRecord) bool {
		return r.Msg == "stream updated" && r.Attrs["stream"] == contracts.StreamUsers
	})
	if !strings.Contains(updated.Attrs["changes"], "max_age 0s -> 720h0m0s") || !strings.Contains(updated.Attrs["changes"], "discard DiscardOld -> DiscardNew") {
		t.Fatalf("update logged as %v", updated)
	}

	settings, err := config.LoadFrom[streamEnv](map[string]string{
		"NATS_STREAM_USERS_MAX_AGE": "2160h", "NATS_STREAM_USERS_MAX_BYTES": "1048576",
		"NATS_STREAM_FILES_MAX_AGE": "48h", "NATS_STREAM_FILES_MAX_BYTES": "2097152",
		"NATS_STREAM_DATASETS_MAX_AGE": "3600", "NATS_STREAM_DATASETS_MAX_BYTES": "4194304",
		"NATS_STREAM_JOBS_MAX_AGE": "72h", "NATS_STREAM_JOBS_MAX_BYTES": "8388608",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := EnsureStreams(ctx, js, contracts.Streams(), settings.Streams.Options()); err != nil {
		t.Fatal(err)
	}
	check(map[string]limits{
		contracts.StreamUsers:    {90 * 24 * time.Hour, 1 << 20, jetstream.DiscardNew},
		contracts.StreamFiles:    {48 * time.Hour, 2 << 20, jetstream.DiscardOld},
		contracts.StreamDatasets: {time.Hour, 4 << 20, jetstream.DiscardOld},
		contracts.StreamJobs:     {72 * time.Hour, 8 << 20, jetstream.DiscardNew},
	})
}

func TestStreamSettingsValidate(t *testing.T) {
	_, err := config.LoadFrom[streamEnv](map[string]string{
		"NATS_STREAM_REPLICAS": "7", "NATS_STREAM_FILES_MAX_AGE": "10ms", "NATS_STREAM_JOBS_MAX_BYTES": "-5",
	})
	for _, name := range []string{"NATS_STREAM_REPLICAS", "NATS_STREAM_FILES_MAX_AGE", "NATS_STREAM_JOBS_MAX_BYTES"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error %v does not name %s", err, name)
		}
	}
	// 1 to 5 means neither 0 nor 6.
	for _, replicas := range []string{"0", "6"} {
		_, err := config.LoadFrom[streamEnv](map[string]string{"NATS_STREAM_REPLICAS": replicas})
		if err == nil || !strings.Contains(err.Error(), "NATS_STREAM_REPLICAS: must be between 1 and 5") {
			t.Errorf("NATS_STREAM_REPLICAS=%s: err = %v", replicas, err)
		}
	}
}

// jetStreamNotYetAvailable is a client of a server whose JetStream is off
// until srv.EnableJetStream.
func jetStreamNotYetAvailable(t *testing.T) (*testkit.NATSJetStreamLater, jetstream.JetStream) {
	t.Helper()
	srv := testkit.NATSWithoutJetStream(t)
	nc, err := nats.Connect(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return srv, js
}

// streamEnv is a service configuration holding the stream settings.
type streamEnv struct {
	Streams StreamSettings
}

func (e streamEnv) Validate() error { return e.Streams.Validate() }

// defaultSettings are the settings of an environment that sets nothing.
func defaultSettings(t *testing.T) StreamSettings {
	t.Helper()
	env, err := config.LoadFrom[streamEnv](nil)
	if err != nil {
		t.Fatal(err)
	}
	return env.Streams
}
