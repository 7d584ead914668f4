// Package app wires the credential service: its NATS endpoints and consumers over
// the connections its process opened. cmd/credential runs it alone; services/all
// runs it next to the others in one process.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/healthv1"
	"github.com/nonefinity/backend/pkg/boot"
	"github.com/nonefinity/backend/pkg/config"
	"github.com/nonefinity/backend/pkg/health"
	"github.com/nonefinity/backend/pkg/mongox"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/services/credential/internal/credential"
	"github.com/nonefinity/backend/services/credential/internal/events"
	"github.com/nonefinity/backend/services/credential/internal/keyring"
	"github.com/nonefinity/backend/services/credential/internal/natsapi"
	"github.com/nonefinity/backend/services/credential/internal/prober"
	"github.com/nonefinity/backend/services/credential/internal/providers"
	"github.com/nonefinity/backend/services/credential/internal/store"
)

// Name is the service's name in the micro registry (nats micro ls).
const Name = "credential"

// Version is the service's semantic version, reported by micro.
const Version = "0.2.0"

// Bounds of Settings.
const (
	maxRotateBatchSize = 10000
	maxTestTimeout     = 2 * time.Minute
)

// Encryption is the key material API keys are encrypted with.
type Encryption struct {
	SecretKey      string `env:"CREDENTIAL_SECRET_KEY"`
	EncryptionSalt string `env:"CREDENTIAL_ENCRYPTION_SALT"`
	KDFIterations  int    `env:"CREDENTIAL_KDF_ITERATIONS" envDefault:"100000"`
}

// Settings are the variables only the credential service reads.
// services/all holds them too, as its Credential.
type Settings struct {
	// Encryption derives the key; the secret and salt have no default
	// (Config.Validate requires them, services/all generates dev ones).
	Encryption Encryption
	// ProvidersFile replaces the embedded providers YAML.
	ProvidersFile string `env:"PROVIDERS_FILE"`
	// PreviousSecretKeys still decrypt, so the secret can change while a
	// rotation moves every record to the new one (comma separated).
	PreviousSecretKeys []string `env:"CREDENTIAL_PREVIOUS_SECRET_KEYS"`
	// AllowedHosts may be reached by key tests although they are local
	// (host names, IPs or CIDR prefixes; comma separated), e.g. an Ollama
	// on the LAN.
	AllowedHosts []string `env:"CREDENTIAL_ALLOWED_HOSTS"`
	// RotateOnStart starts re-encrypting every record to the current key.
	RotateOnStart bool `env:"CREDENTIAL_ROTATE_ON_START" envDefault:"false"`
	// RotateBatchSize is how many records one rotation batch re-encrypts.
	RotateBatchSize int `env:"CREDENTIAL_ROTATE_BATCH_SIZE" envDefault:"100"`
	// TestTimeout bounds one key test against a provider.
	TestTimeout config.Duration `env:"CREDENTIAL_TEST_TIMEOUT" envDefault:"10s"`
}

// DefaultSettings are the Settings as an empty environment gives them, for
// callers that do not load them from the environment (tests).
func DefaultSettings() Settings { return config.Defaults[Settings]() }

// Validate checks the settings on their own; Config.Validate adds the
// checks that need config.Base too.
func (s Settings) Validate() error {
	var errs config.Problems
	bad := errs.Add
	if s.Encryption.KDFIterations < 1 {
		bad("CREDENTIAL_KDF_ITERATIONS", "must be at least 1")
	}
	if s.TestTimeout <= 0 || s.TestTimeout.Duration() > maxTestTimeout {
		bad("CREDENTIAL_TEST_TIMEOUT", "must be greater than zero and at most 2m")
	}
	if s.RotateBatchSize < 1 || s.RotateBatchSize > maxRotateBatchSize {
		bad("CREDENTIAL_ROTATE_BATCH_SIZE", "must be between 1 and 10000")
	}
	if err := prober.ValidateAllowedHosts(s.AllowedHosts); err != nil {
		bad("CREDENTIAL_ALLOWED_HOSTS", "each entry must be a host name, IP address or CIDR prefix")
	}
	return errors.Join(errs...)
}

// Config is the service's configuration.
type Config struct {
	config.Base
	Settings
	// Streams are the replicas and limits of USERS, which this service
	// declares so it can start before the others.
	Streams natsx.StreamSettings
}

// Validate checks the shared rules and the service's own, and that the key
// material is there and strong enough outside dev.
func (c Config) Validate() error {
	var errs config.Problems
	bad := errs.Add
	if strings.TrimSpace(c.Encryption.SecretKey) == "" {
		bad("CREDENTIAL_SECRET_KEY", "required: it derives the key that encrypts the stored API keys")
	}
	if c.Encryption.EncryptionSalt == "" {
		bad("CREDENTIAL_ENCRYPTION_SALT", "required")
	}
	if c.Encryption.KDFIterations >= 1 && c.Encryption.KDFIterations < keyring.MinProductionIterations && !c.IsDev() {
		bad("CREDENTIAL_KDF_ITERATIONS", fmt.Sprintf("must be at least %d outside APP_ENV=dev", keyring.MinProductionIterations))
	}
	return errors.Join(append(errs, c.Base.Validate(), c.Settings.Validate(), c.Streams.Validate())...)
}

// Deps are the connections the service works with.
type Deps struct {
	NC  *nats.Conn
	DB  *mongo.Database
	Log *slog.Logger
	// Metrics, when set, receives the service's metrics (services/all
	// serves them on the gateway's /metrics).
	Metrics prometheus.Registerer
}

// Run checks the configuration and the encryption canary, loads the
// providers, serves until ctx is cancelled, then stops taking requests and
// returns once in-flight requests are answered. A wrong secret (the canary
// does not decrypt) or a broken providers file stops it before it serves.
func Run(ctx context.Context, cfg Config, d Deps) error {
	return boot.IgnoreShutdown(ctx, run(ctx, cfg, d, hooks{}))
}

// hooks let tests watch and shorten background work.
type hooks struct {
	onRotationProgress func(credential.RotationProgress)
	// onReady is called once every endpoint and consumer is up.
	onReady func()
	// onProvidersReloaded is called after each reload of the catalogue
	// that a refresh broadcast caused.
	onProvidersReloaded func()
	// erasureRetry, when set, replaces the erasure's backoff (first and
	// longest wait) and its per-attempt timeout.
	erasureRetry time.Duration
}

func run(ctx context.Context, cfg Config, d Deps, h hooks) error {
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	// PBKDF2 runs here, once for the process.
	kr, err := keyring.New(keyring.Options{
		Secret: cfg.Encryption.SecretKey, PreviousSecrets: cfg.PreviousSecretKeys,
		Salt: cfg.Encryption.EncryptionSalt, Iterations: cfg.Encryption.KDFIterations,
	})
	if err != nil {
		return err
	}
	pr, err := prober.New(prober.Options{Timeout: cfg.TestTimeout.Duration(), AllowedHosts: cfg.AllowedHosts})
	if err != nil {
		return fmt.Errorf("CREDENTIAL_ALLOWED_HOSTS: %w", err)
	}
	st := store.New(d.DB)
	// Lists are kept in memory (credential.ListsMaxAge); every instance
	// hears every change before it serves one.
	lists := &credential.ListCache{}
	changes, err := events.FollowCredentialChanges(d.NC, lists)
	if err != nil {
		return err
	}
	defer changes.Stop()
	if err := st.EnsureIndexes(ctx, log); err != nil {
		return fmt.Errorf("credentials indexes: %w", err)
	}
	svc := credential.NewService(credential.Options{
		Store: st, Cipher: kr, Prober: pr, Catalog: providers.Catalog{Path: cfg.ProvidersFile}, Log: log,
		Broadcast: events.Broadcast{NC: d.NC}, Lists: lists, Feed: changes,
		RotationBatchSize: cfg.RotateBatchSize, OnRotationProgress: h.onRotationProgress,
	})
	defer svc.Close()

	// Following refreshes before this instance's own, so none made by
	// another instance while this one starts is missed.
	follow, err := events.FollowProviderRefreshes(d.NC, svc, log, h.onProvidersReloaded)
	if err != nil {
		return err
	}
	defer func() { _ = follow.Unsubscribe() }()
	n, err := svc.RefreshProviders(ctx)
	if err != nil {
		return err
	}
	if err := svc.CheckCanary(ctx); err != nil {
		return err
	}
	log.Info("encryption ready", "algorithm", kr.Algorithm(), "key_id", kr.KeyID(), "providers", n)

	js, err := jetstream.New(d.NC)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	if err := cfg.Streams.Ensure(ctx, js, log, contracts.StreamUsers); err != nil {
		return err
	}

	dbHealth := mongox.WatchHealth(ctx, d.DB.Client(), mongox.HealthOptions{Logger: log})
	defer dbHealth.Stop()
	ms, err := natsx.NewService(d.NC, natsx.ServiceConfig{
		Name:         Name,
		Version:      Version,
		Description:  "AI provider catalogue and encrypted provider API keys",
		Metrics:      d.Metrics,
		Available:    dbHealth.Err,
		Share:        natsx.NewShare(),
		UserRequired: true,
	}, log)
	if err != nil {
		return fmt.Errorf("register micro service: %w", err)
	}
	// Health first: it is the endpoint tools list first.
	err = natsx.Handle(ms, healthv1.Subject(contracts.ServiceCredential), health.Handler(Name, Version, map[string]health.Check{
		"mongodb": func(ctx context.Context) error { return d.DB.Client().Ping(ctx, nil) },
	}), natsx.WithDescription(health.Description), natsx.AlwaysServed(), natsx.WithoutUser())
	if err == nil {
		err = natsapi.Register(ms, svc, d.Metrics)
	}
	if err != nil {
		_ = ms.Stop()
		return fmt.Errorf("register endpoints: %w", err)
	}
	erasure := natsx.ErasureOptions{Service: Name, Metrics: d.Metrics, Logger: log}
	if h.erasureRetry > 0 {
		erasure.RetryBase, erasure.RetryMax, erasure.HandlerTimeout = h.erasureRetry, h.erasureRetry, 10*h.erasureRetry
	}
	erasing, err := events.StartErasure(ctx, js, svc, erasure)
	if err != nil {
		_ = ms.Stop()
		return err
	}

	if err := svc.ResumeRotation(ctx); err != nil {
		log.Error("resume key rotation", "error", err)
	}
	if cfg.RotateOnStart {
		started, p, err := svc.StartRotation(ctx, cfg.RotateBatchSize)
		switch {
		case err != nil:
			log.Error("start key rotation", "error", err)
		case started:
			log.Info("key rotation started", "target_key_id", p.TargetKeyID, "records", p.Total)
		default:
			log.Info("key rotation already running", "state", p.State)
		}
	}

	log.Info("service ready", "version", Version)
	if h.onReady != nil {
		h.onReady()
	}
	<-ctx.Done()
	erasing.Stop()
	stopErr := ms.Stop()
	svc.Close()
	return stopErr
}
