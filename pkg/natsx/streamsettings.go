package natsx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/pkg/config"
)

// StreamSettings are the deployment's choices for the JetStream streams,
// read from the environment by every service that declares streams and by
// the all-in-one. Give every service the same values: each start updates the
// streams it declares to its own, so two services with different limits
// would undo each other's at every restart.
//
// A zero MaxAge keeps messages for ever and a zero MaxBytes sets no cap, so a
// Config built by hand (tests) keeps everything, as before limits existed.
type StreamSettings struct {
	// Replicas of every stream (3 on a JetStream cluster).
	Replicas int `env:"NATS_STREAM_REPLICAS" envDefault:"1"`

	// USERS carries user.deleted, which drives the erasure of a user in
	// credential, fileingest and datasetquery. An erasure consumer that is
	// down longer than the max age never erases that user, so keep it
	// longer than any outage; the events are tiny.
	UsersMaxAge   config.Duration `env:"NATS_STREAM_USERS_MAX_AGE" envDefault:"720h"`
	UsersMaxBytes int64           `env:"NATS_STREAM_USERS_MAX_BYTES" envDefault:"0"`

	// FILES carries file.uploaded, which drives processing, and the events
	// the browser sees over SSE. Processing is normally seconds behind, so
	// the age only has to outlast an outage of fileingest.
	FilesMaxAge   config.Duration `env:"NATS_STREAM_FILES_MAX_AGE" envDefault:"168h"`
	FilesMaxBytes int64           `env:"NATS_STREAM_FILES_MAX_BYTES" envDefault:"0"`

	// DATASETS only feeds SSE (and its Last-Event-ID replay after a
	// reconnect): a day is plenty.
	DatasetsMaxAge   config.Duration `env:"NATS_STREAM_DATASETS_MAX_AGE" envDefault:"24h"`
	DatasetsMaxBytes int64           `env:"NATS_STREAM_DATASETS_MAX_BYTES" envDefault:"0"`

	// JOBS is a work queue: a job leaves it when a conversion acknowledges
	// it, so it holds only pending work, which an age limit would lose.
	JobsMaxAge   config.Duration `env:"NATS_STREAM_JOBS_MAX_AGE" envDefault:"0"`
	JobsMaxBytes int64           `env:"NATS_STREAM_JOBS_MAX_BYTES" envDefault:"0"`
}

// Options are the StreamOptions of these settings. Where a size cap is
// reached, USERS and JOBS refuse new messages (the webhook or the convert
// request fails and is retried) rather than drop an erasure or a job no
// consumer has done yet; FILES and DATASETS drop their oldest events, which
// their consumers have long had.
func (s StreamSettings) Options() StreamOptions {
	return StreamOptions{
		Replicas: max(s.Replicas, 1),
		Limits: map[string]StreamLimits{
			contracts.StreamUsers:    {MaxAge: s.UsersMaxAge.Duration(), MaxBytes: s.UsersMaxBytes, DiscardNew: true},
			contracts.StreamFiles:    {MaxAge: s.FilesMaxAge.Duration(), MaxBytes: s.FilesMaxBytes},
			contracts.StreamDatasets: {MaxAge: s.DatasetsMaxAge.Duration(), MaxBytes: s.DatasetsMaxBytes},
			contracts.StreamJobs:     {MaxAge: s.JobsMaxAge.Duration(), MaxBytes: s.JobsMaxBytes, DiscardNew: true},
		},
	}
}

// Ensure declares the named streams of contracts.Streams() with these
// settings, as EnsureStreams does, logging retries and changes to log.
func (s StreamSettings) Ensure(ctx context.Context, js jetstream.JetStream, log *slog.Logger, names ...string) error {
	specs := make([]contracts.StreamSpec, 0, len(names))
	for _, name := range names {
		spec, ok := contracts.StreamFor(name)
		if !ok {
			return fmt.Errorf("ensure stream %s: not in contracts", name)
		}
		specs = append(specs, spec)
	}
	opts := s.Options()
	opts.Logger = log
	return EnsureStreams(ctx, js, specs, opts)
}

// Validate checks the settings.
func (s StreamSettings) Validate() error {
	var errs config.Problems
	bad := errs.Add
	if s.Replicas < 1 || s.Replicas > 5 {
		bad("NATS_STREAM_REPLICAS", "must be between 1 and 5")
	}
	for _, v := range []struct {
		name   string
		age    config.Duration
		ageVar string
		bytes  int64
	}{
		{"NATS_STREAM_USERS_MAX_BYTES", s.UsersMaxAge, "NATS_STREAM_USERS_MAX_AGE", s.UsersMaxBytes},
		{"NATS_STREAM_FILES_MAX_BYTES", s.FilesMaxAge, "NATS_STREAM_FILES_MAX_AGE", s.FilesMaxBytes},
		{"NATS_STREAM_DATASETS_MAX_BYTES", s.DatasetsMaxAge, "NATS_STREAM_DATASETS_MAX_AGE", s.DatasetsMaxBytes},
		{"NATS_STREAM_JOBS_MAX_BYTES", s.JobsMaxAge, "NATS_STREAM_JOBS_MAX_AGE", s.JobsMaxBytes},
	} {
		// The server refuses ages under 100ms; anything that short is a
		// unit mistake.
		if v.age != 0 && v.age.Duration() < time.Second {
			bad(v.ageVar, "must be 0 (keep for ever) or at least 1s")
		}
		if v.bytes < 0 {
			bad(v.name, "must be 0 (no cap) or a number of bytes")
		}
	}
	return errors.Join(errs...)
}
