// Package allinone runs the whole system in one process on embedded
// infrastructure: a NATS server with JetStream, FerretDB (the MongoDB wire
// protocol over SQLite) and a Versity S3 gateway, all storing under DATA_DIR,
// with the gateway and the three services on top. It is the newcomer's first
// command and the development default; production runs each service alone.
package allinone

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/healthv1"
	"github.com/nonefinity/backend/pkg/boot"
	"github.com/nonefinity/backend/pkg/config"
	"github.com/nonefinity/backend/pkg/embedded"
	"github.com/nonefinity/backend/pkg/logx"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/pkg/telemetry"
	"github.com/nonefinity/backend/services/all/internal/devsecrets"
	credential "github.com/nonefinity/backend/services/credential/app"
	datasetquery "github.com/nonefinity/backend/services/datasetquery/app"
	fileingest "github.com/nonefinity/backend/services/fileingest/app"
	gateway "github.com/nonefinity/backend/services/gateway/app"
)

// Config is the all-in-one configuration: the shared variables, every
// service's own Settings (read as each service reads them when run alone),
// and where the embedded servers listen.
type Config struct {
	config.Base
	Gateway      gateway.Settings
	Credential   credential.Settings
	Fileingest   fileingest.Settings
	Datasetquery datasetquery.Settings
	// Streams are the stream limits every service declares; replicas are
	// always 1 on the one embedded server.
	Streams natsx.StreamSettings
	// EmbeddedS3Addr is where the embedded S3 server listens; presigned URLs
	// point there, so a browser on this machine must reach it.
	EmbeddedS3Addr string `env:"EMBEDDED_S3_ADDR" envDefault:"127.0.0.1:0"`
	// EmbeddedFerretDBPostgreSQL, when set, has the embedded FerretDB keep
	// the documents in that PostgreSQL database instead of SQLite files
	// under DATA_DIR/mongo (see embedded.FerretOptions.PostgreSQLURL).
	EmbeddedFerretDBPostgreSQL string `env:"EMBEDDED_FERRETDB_POSTGRESQL_URL"`
}

// Validate checks the shared rules and every service's settings. Each part
// checks only its own variables, so each problem is reported once.
func (c Config) Validate() error {
	return errors.Join(c.Base.Validate(), c.Gateway.Validate(), gateway.CheckDevAuth(c.Base, c.Gateway), gateway.CheckPepper(c.Base, c.Gateway),
		c.Credential.Validate(), c.Fileingest.Validate(), c.Datasetquery.Validate(), c.Streams.Validate())
}

// Normalize tidies the shared variables and the gateway's lists.
func (c *Config) Normalize() {
	c.Base.Normalize()
	c.Gateway.Normalize()
}

// EndpointsFile, written under DATA_DIR at every start, tells tools and tests
// where the embedded servers of the running process listen.
const EndpointsFile = "endpoints.json"

// Endpoints are the addresses of the embedded servers of one run.
type Endpoints struct {
	HTTP string `json:"http"`
	// NATS carries the run's token (nats://<token>@127.0.0.1:port): the nats
	// CLI takes it as is (--server).
	NATS        string `json:"nats"`
	MongoURI    string `json:"mongo_uri"`
	MongoDB     string `json:"mongo_db"`
	S3Endpoint  string `json:"s3_endpoint"`
	S3Bucket    string `json:"s3_bucket"`
	S3AccessKey string `json:"s3_access_key"`
	S3SecretKey string `json:"s3_secret_key"`
}

// Run starts everything and blocks until ctx is cancelled, then shuts down in
// order: HTTP first, then the services (draining NATS), then the servers.
func Run(ctx context.Context, cfg Config, version string) error {
	started := time.Now()
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("DATA_DIR: %w", err)
	}
	// Every path is made absolute before the S3 server starts: its POSIX
	// backend changes the process working directory.
	cfg.DataDir = dataDir
	dirs := map[string]string{}
	for _, d := range []string{"nats", "mongo", "s3/objects", "s3/meta", "duckdb"} {
		dirs[d] = filepath.Join(dataDir, filepath.FromSlash(d))
		if err := os.MkdirAll(dirs[d], 0o750); err != nil {
			return fmt.Errorf("create %s: %w", dirs[d], err)
		}
	}

	// One logger for the process; each service adds its own name.
	baseLog, closeLog, err := logx.New(logx.Options{Env: cfg.App.Env, Level: cfg.LogLevel, File: cfg.LogFile})
	if err != nil {
		return fmt.Errorf("logging: %w", err)
	}
	defer closeLog()
	log := baseLog.With("service", "nonefinity")
	flush, err := telemetry.InitSentry(boot.SentryOptions(cfg.Base, "nonefinity", version))
	if err != nil {
		return fmt.Errorf("sentry: %w", err)
	}
	defer flush(2 * time.Second)
	boot.ApplyMemoryLimit(log, cfg.Datasetquery.OffHeapMemory())

	secrets, created, err := devsecrets.LoadOrCreate(dataDir)
	if err != nil {
		return err
	}
	keys := &cfg.Credential.Encryption
	if keys.SecretKey == "" || keys.EncryptionSalt == "" {
		if cfg.IsProd() {
			return errors.New("config: CREDENTIAL_SECRET_KEY and CREDENTIAL_ENCRYPTION_SALT are required in prod")
		}
		keys.SecretKey, keys.EncryptionSalt = secrets.CredentialSecretKey, secrets.CredentialSalt
		if created {
			log.Warn("generated development encryption secrets; keep this file, encrypted credentials depend on it",
				"file", filepath.Join(dataDir, devsecrets.File))
		}
	}

	// Servers. NATS requires a token made for this run: whoever connects
	// can call any service as any user (svc.credential.v1.resolve answers
	// decrypted keys), so a local process without the secret must be
	// refused. Tools find it in the endpoints file (0600).
	natsSrv, err := embedded.StartNATS(embedded.NATSOptions{
		Dir: dirs["nats"], ServerName: "nonefinity", Token: devsecrets.Token(32), Logger: log.With("component", "nats-server"),
	})
	if err != nil {
		return err
	}
	defer natsSrv.Shutdown()
	ferret, err := embedded.StartFerretDB(ctx, embedded.FerretOptions{Dir: dirs["mongo"], Logger: log.With("component", "ferretdb"), PostgreSQLURL: cfg.EmbeddedFerretDBPostgreSQL})
	if err != nil {
		return err
	}
	defer ferret.Close()
	s3, err := embedded.StartS3(ctx, embedded.S3Options{
		RootDir: dirs["s3/objects"], SidecarDir: dirs["s3/meta"], Addr: cfg.EmbeddedS3Addr,
		AccessKey: secrets.S3AccessKey, SecretKey: secrets.S3SecretKey,
	})
	if err != nil {
		return err
	}
	defer s3.Stop()

	base := cfg.Base
	base.NATSURL = natsSrv.ClientURLWithToken()
	base.NATSCreds = ""
	base.Mongo.RawURI = ferret.URI()
	base.MinIO.URL = "http://" + s3.Endpoint()
	base.MinIO.AccessKey, base.MinIO.SecretKey = secrets.S3AccessKey, secrets.S3SecretKey
	// The gateway's port serves /metrics and /health for the whole process.
	base.OpsAddr = ""
	if cfg.Datasetquery.DuckDBTempFolder == "" {
		cfg.Datasetquery.DuckDBTempFolder = dirs["duckdb"]
	}

	streams := cfg.Streams
	streams.Replicas = 1
	if err := ensureStreams(ctx, base, streams, log); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.App.ListenHost(), strconv.Itoa(cfg.App.Port)))
	if err != nil {
		return fmt.Errorf("gateway listen: %w", err)
	}
	httpAddr := ln.Addr().String()

	// One registry for the process: the gateway's /metrics shows the
	// services' metrics too (erasure failures, for one).
	metrics := telemetry.NewRegistry()
	svcCtx, stopServices := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServices()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	start := func(name string, store bool, run func(context.Context, *boot.Infra) error) error {
		infra, err := boot.Open(ctx, base, boot.Options{Service: name, Version: version, Mongo: true, Store: store,
			Log: baseLog.With("service", name), Metrics: metrics})
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		wg.Go(func() {
			defer infra.Close(context.Background())
			if err := run(svcCtx, infra); err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
			}
		})
		return nil
	}
	startErr := errors.Join(
		start(credential.Name, false, func(ctx context.Context, in *boot.Infra) error {
			return credential.Run(ctx, credential.Config{Base: base, Settings: cfg.Credential, Streams: streams}, credential.Deps{NC: in.NC, DB: in.DB, Log: in.Log, Metrics: metrics})
		}),
		start(fileingest.Name, true, func(ctx context.Context, in *boot.Infra) error {
			files := fileingest.Config{Base: base, Settings: cfg.Fileingest, Streams: streams}
			return fileingest.Run(ctx, files, fileingest.Deps{NC: in.NC, DB: in.DB, Store: in.Store, Log: in.Log, Metrics: metrics})
		}),
		start(datasetquery.Name, true, func(ctx context.Context, in *boot.Infra) error {
			datasets := datasetquery.Config{Base: base, Settings: cfg.Datasetquery, Streams: streams}
			return datasetquery.Run(ctx, datasets, datasetquery.Deps{NC: in.NC, DB: in.DB, Store: in.Store, Log: in.Log, Metrics: metrics})
		}),
	)
	if startErr == nil {
		// The gateway opens only once every service answers, so the first
		// request never meets a service still creating its indexes.
		startErr = waitServicesHealthy(ctx, base.NATSURL, errs)
	}
	if startErr != nil {
		ln.Close()
		stopServices()
		wg.Wait()
		return startErr
	}

	gwCtx, stopGateway := context.WithCancel(ctx)
	defer stopGateway()
	gwDone := make(chan error, 1)
	gwInfra, err := boot.Open(ctx, base, boot.Options{Service: gateway.Name, Version: version, Mongo: true,
		Log: baseLog.With("service", gateway.Name), Metrics: metrics})
	if err != nil {
		ln.Close()
		stopServices()
		wg.Wait()
		return fmt.Errorf("gateway: %w", err)
	}
	go func() {
		gwDone <- gateway.Run(gwCtx, gateway.Config{Base: base, Settings: cfg.Gateway}, gateway.Deps{NC: gwInfra.NC, DB: gwInfra.DB, Log: gwInfra.Log, Listener: ln, Metrics: metrics})
	}()

	eps := Endpoints{
		HTTP: httpAddr, NATS: base.NATSURL, MongoURI: ferret.URI(), MongoDB: base.Mongo.Database(),
		S3Endpoint: s3.Endpoint(), S3Bucket: base.MinIO.Bucket, S3AccessKey: secrets.S3AccessKey, S3SecretKey: secrets.S3SecretKey,
	}
	if err := writeEndpoints(dataDir, eps); err != nil {
		log.Warn("write endpoints file", "err", err)
	}
	if err := waitHealthy(ctx, httpAddr); err != nil {
		log.Error("gateway did not become healthy", "err", err)
	}
	printBanner(os.Stdout, httpAddr, dataDir, time.Since(started), cfg.IsDev() && cfg.Gateway.Clerk.Issuer == "")

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-gwDone:
		gwDone <- runErr
	case runErr = <-errs:
	}
	stopGateway()
	if err := <-gwDone; err != nil && runErr == nil {
		runErr = err
	}
	gwInfra.Close(context.Background())
	stopServices()
	wg.Wait()
	close(errs)
	for err := range errs {
		runErr = errors.Join(runErr, err)
	}
	log.Info("stopped")
	return runErr
}

// ensureStreams creates every JetStream stream once at startup, so consumers
// and publishers find them whatever order the services start in.
func ensureStreams(ctx context.Context, base config.Base, streams natsx.StreamSettings, log *slog.Logger) error {
	nc, err := natsx.Connect(base.NATSURL, natsx.ConnectOptions{Name: "nonefinity-setup"})
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	opts := streams.Options()
	opts.Logger = log
	return natsx.EnsureStreams(ctx, js, contracts.Streams(), opts)
}

// writeEndpoints replaces the endpoints file with one readable by this user
// only: it holds the NATS token and the S3 keys. A temporary file renamed
// over it, so an older file's looser mode is not kept.
func writeEndpoints(dataDir string, eps Endpoints) error {
	b, err := json.MarshalIndent(eps, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dataDir, EndpointsFile+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), filepath.Join(dataDir, EndpointsFile))
}

// waitHealthy polls the gateway's /health until it answers, so the banner is
// printed only when the system really serves.
func waitHealthy(ctx context.Context, addr string) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/health", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("GET /health: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// serviceStartTimeout bounds how long the services may take to register.
const serviceStartTimeout = 60 * time.Second

// waitServicesHealthy asks each service for its health until all answer ok,
// a service stops with an error (reported on failed) or the timeout passes.
func waitServicesHealthy(ctx context.Context, natsURL string, failed chan error) error {
	nc, err := natsx.Connect(natsURL, natsx.ConnectOptions{Name: "nonefinity-startup"})
	if err != nil {
		return err
	}
	defer nc.Close()
	client := natsx.NewClient(nc)
	deadline := time.Now().Add(serviceStartTimeout)
	for _, svc := range []string{contracts.ServiceCredential, contracts.ServiceFile, contracts.ServiceDataset} {
		for {
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			reply, err := natsx.Call[healthv1.Reply](cctx, client, healthv1.Subject(svc), healthv1.Request{})
			cancel()
			if err == nil && reply.Status == healthv1.StatusOK {
				break
			}
			select {
			case ferr := <-failed:
				failed <- ferr // keep it for the shutdown report
				return ferr
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s service not healthy after %s", svc, serviceStartTimeout)
			}
		}
	}
	return nil
}
