// Package splitrun runs the system the way an operator deploys it, every
// part a process of its own on this machine: the released nats-server with
// deploy/nats's configuration (a user and password per service), FerretDB
// and Versity S3 (pkg/embedded, each alone in cmd/embedserver) and the four
// service binaries of services/*/cmd, each signed in to NATS as its own
// user. make run-split (cmd/runsplit) runs it for people; the fault tests
// of services/all kill and stop its processes.
package splitrun

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/nonefinity/backend/pkg/healthprobe"
	"github.com/nonefinity/backend/services/all/internal/devsecrets"
)

// The processes, by name.
const (
	NATS         = "nats-server"
	FerretDB     = "ferretdb"
	S3           = "s3"
	Credential   = "credential"
	Fileingest   = "fileingest"
	Datasetquery = "datasetquery"
	Gateway      = "gateway"
)

// Services are the four service programs, in the order they are stopped
// last to first: the gateway goes first so no request meets a stopped
// service.
var Services = []string{Credential, Fileingest, Datasetquery, Gateway}

// natsUsers are the users of deploy/nats/accounts.conf; nats-server reads
// each one's password from <USER>_NATS_PASSWORD.
var natsUsers = []string{"gateway", "credential", "fileingest", "datasetquery", "agent", "ops"}

// Addrs are where the processes listen (host:port). An empty address is a
// free port on 127.0.0.1, chosen once, so a restarted process comes back
// where its clients look for it.
type Addrs struct {
	Gateway     string
	NATS        string
	NATSMonitor string
	FerretDB    string
	S3          string
	// Ops are the services' OPS_ADDR (/health and /metrics), by service;
	// the gateway serves both on its own port.
	Ops map[string]string
}

// DefaultAddrs are make run-split's: the ports of the compose file and of
// the servers' own defaults, all on loopback.
func DefaultAddrs() Addrs {
	return Addrs{
		Gateway: "127.0.0.1:8000", NATS: "127.0.0.1:4222", NATSMonitor: "127.0.0.1:8222",
		FerretDB: "127.0.0.1:27017", S3: "127.0.0.1:9000",
		Ops: map[string]string{Credential: "127.0.0.1:9091", Fileingest: "127.0.0.1:9092", Datasetquery: "127.0.0.1:9093"},
	}
}

// Options configure Start.
type Options struct {
	// RepoRoot holds bin/nats-server (make nats-server) and deploy/nats.
	RepoRoot string
	// BinDir holds the programs Build made.
	BinDir string
	// DataDir keeps everything between runs: the NATS store, the database,
	// the objects, each service's DATA_DIR, the dev secrets and the logs
	// (DataDir/logs/<process>.log).
	DataDir string
	Addrs   Addrs
	// Environ is every service's environment to begin with (PATH, HOME,
	// LOG_LEVEL…); the addresses, users and keys of this system replace
	// what it says about them.
	Environ []string
	// ServiceEnv are further KEY=value settings of one service, applied
	// last.
	ServiceEnv map[string][]string
	// Console, when set, receives every process's output, each line after
	// the process's name.
	Console io.Writer
}

// System is a running split system.
type System struct {
	opts      Options
	dataDir   string
	addrs     Addrs
	passwords map[string]string
	secrets   devsecrets.Secrets
	procs     map[string]*Process
	exits     chan error
}

// Build compiles the four services and cmd/embedserver into binDir with the
// go command, sharing the build cache with the tests.
func Build(ctx context.Context, repoRoot, binDir string) error {
	args := []string{"build", "-o", binDir + string(filepath.Separator)}
	for _, s := range Services {
		args = append(args, "./services/"+s+"/cmd/"+s)
	}
	args = append(args, "./services/all/cmd/embedserver")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// Start starts NATS, FerretDB and S3 one after the other, then the four
// services together, and returns once every process serves: NATS's
// /healthz, the stores' ports, each service's /health on its ops address
// and the gateway's /ready. On error whatever started is stopped again.
func Start(ctx context.Context, o Options) (*System, error) {
	dataDir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return nil, err
	}
	s := &System{opts: o, dataDir: dataDir, passwords: map[string]string{}, procs: map[string]*Process{}, exits: make(chan error, 8)}
	for _, d := range []string{"logs", "nats", "mongo", "s3/objects", "s3/meta", "fileingest/tmp", "datasetquery", "credential", "gateway"} {
		if err := os.MkdirAll(filepath.Join(dataDir, filepath.FromSlash(d)), 0o750); err != nil {
			return nil, err
		}
	}
	if s.secrets, _, err = devsecrets.LoadOrCreate(dataDir); err != nil {
		return nil, err
	}
	// A new password per user and run: nothing outside this system needs
	// them, and a run never trusts a leftover one.
	for _, u := range natsUsers {
		s.passwords[u] = newPassword()
	}
	if s.addrs, err = o.Addrs.resolve(); err != nil {
		return nil, err
	}
	if err := s.define(); err != nil {
		return nil, err
	}
	for _, name := range []string{NATS, FerretDB, S3} {
		if err := s.procs[name].Start(ctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, name := range Services {
		wg.Go(func() {
			if err := s.procs[name].Start(ctx); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// define sets up every process without starting it.
func (s *System) define() error {
	natsConf, err := s.writeNATSConfig()
	if err != nil {
		return err
	}
	natsEnv := append([]string{}, s.opts.Environ...)
	for _, u := range natsUsers {
		natsEnv = append(natsEnv, strings.ToUpper(u)+"_NATS_PASSWORD="+s.passwords[u])
	}
	natsHost, natsPort, _ := net.SplitHostPort(s.addrs.NATS)
	_, monitorPort, _ := net.SplitHostPort(s.addrs.NATSMonitor)
	// The flags put the listeners where this system wants them; the rest
	// is deploy/nats/nats.conf as compose runs it.
	s.add(NATS, filepath.Join(s.opts.RepoRoot, "bin", "nats-server"),
		[]string{"-c", natsConf, "-a", natsHost, "-p", natsPort, "-m", monitorPort}, natsEnv,
		httpOK("http://"+s.addrs.NATSMonitor+"/healthz"))
	embedserver := filepath.Join(s.opts.BinDir, "embedserver")
	s.add(FerretDB, embedserver,
		[]string{"ferretdb", "-dir", s.path("mongo"), "-addr", s.addrs.FerretDB}, s.opts.Environ, tcpOpen(s.addrs.FerretDB))
	s.add(S3, embedserver,
		[]string{"s3", "-root", s.path("s3/objects"), "-meta", s.path("s3/meta"), "-secrets", s.dataDir, "-addr", s.addrs.S3},
		s.opts.Environ, tcpOpen(s.addrs.S3))
	for _, name := range Services {
		ready := httpOK("http://" + s.addrs.Ops[name] + "/health")
		if name == Gateway {
			ready = httpOK(s.GatewayURL() + "/ready")
		}
		s.add(name, filepath.Join(s.opts.BinDir, name), nil, s.serviceEnv(name), ready)
	}
	return nil
}

func (s *System) add(name, path string, args, env []string, ready func(context.Context) error) {
	s.procs[name] = &Process{
		name: name, path: path, args: args, env: env, ready: ready, unexpected: s.exits,
		// Each process in a directory of its own: a service reads a .env
		// in its working directory, and the repository's must not leak in.
		dir:     s.path("logs"),
		logPath: s.path(filepath.Join("logs", name+".log")),
		console: s.opts.Console,
	}
}

// serviceEnv is what a service process gets, as compose would give it: its
// own NATS user, the stores, its ops address, and keys only where needed
// (credential the encryption secrets, fileingest and datasetquery S3's).
func (s *System) serviceEnv(name string) []string {
	env := append([]string{}, s.opts.Environ...)
	env = append(env,
		"APP_ENV=dev",
		"ENV_FILE=",
		"NATS_URL="+s.NATSURL(name),
		"NATS_CREDS=",
		"MONGO_URI=mongodb://"+s.addrs.FerretDB+"/",
		"DATA_DIR="+s.path(name),
		"OPS_ADDR="+s.addrs.Ops[name],
	)
	switch name {
	case Gateway:
		host, port, _ := net.SplitHostPort(s.addrs.Gateway)
		env = append(env, "APP_HOST="+host, "APP_PORT="+port)
	case Credential:
		env = append(env, "CREDENTIAL_SECRET_KEY="+s.secrets.CredentialSecretKey,
			"CREDENTIAL_ENCRYPTION_SALT="+s.secrets.CredentialSalt)
	case Fileingest, Datasetquery:
		env = append(env, "MINIO_URL=http://"+s.addrs.S3,
			"MINIO_ACCESS_KEY="+s.secrets.S3AccessKey, "MINIO_SECRET_KEY="+s.secrets.S3SecretKey)
		if name == Fileingest {
			env = append(env, "FILE_TMP_DIR="+s.FileTmpDir())
		}
	}
	return append(env, s.opts.ServiceEnv[name]...)
}

// writeNATSConfig writes DataDir/nats/nats.conf: deploy/nats/nats.conf
// itself, included, with the JetStream store moved under DataDir. The
// store cannot be given as -sd: nats-server refuses a store_dir set twice,
// while a later key of the configuration replaces an earlier one.
func (s *System) writeNATSConfig() (string, error) {
	dir := s.path("nats")
	deployConf, err := filepath.Rel(dir, filepath.Join(s.opts.RepoRoot, "deploy", "nats", "nats.conf"))
	if err != nil {
		return "", err
	}
	conf := fmt.Sprintf("# Written by make run-split at every start: the deploy configuration with\n"+
		"# its JetStream store here. Edit deploy/nats instead.\ninclude %q\njetstream {\n  store_dir: %q\n}\n",
		deployConf, filepath.Join(dir, "store"))
	path := filepath.Join(dir, "nats.conf")
	return path, os.WriteFile(path, []byte(conf), 0o600)
}

// Process is one of the processes by name; nil for an unknown name.
func (s *System) Process(name string) *Process { return s.procs[name] }

// Exited reports a process that exited without Stop or Kill.
func (s *System) Exited() <-chan error { return s.exits }

// Addrs are where the processes listen, free ports resolved.
func (s *System) Addrs() Addrs { return s.addrs }

// GatewayURL is the API's origin, http://host:port.
func (s *System) GatewayURL() string { return "http://" + s.addrs.Gateway }

// NATSURL is the NATS URL of a deploy/nats user, with its password.
func (s *System) NATSURL(user string) string {
	return "nats://" + user + ":" + s.passwords[user] + "@" + s.addrs.NATS
}

// MongoURI is FerretDB's connection string; the services use database
// "nonefinity".
func (s *System) MongoURI() string { return "mongodb://" + s.addrs.FerretDB + "/" }

// DataDir is the absolute data directory.
func (s *System) DataDir() string { return s.dataDir }

// FileTmpDir is fileingest's FILE_TMP_DIR.
func (s *System) FileTmpDir() string { return s.path("fileingest/tmp") }

// DuckDBDir is datasetquery's DuckDB folder (its DATA_DIR/duckdb).
func (s *System) DuckDBDir() string { return s.path("datasetquery/duckdb") }

// Close stops the services, the gateway first, then S3, FerretDB and NATS.
func (s *System) Close() {
	for i := len(Services) - 1; i >= 0; i-- {
		s.procs[Services[i]].Stop()
	}
	for _, name := range []string{S3, FerretDB, NATS} {
		s.procs[name].Stop()
	}
}

func (s *System) path(rel string) string {
	return filepath.Join(s.dataDir, filepath.FromSlash(rel))
}

// resolve gives every empty address a free loopback port.
func (a Addrs) resolve() (Addrs, error) {
	out := a
	out.Ops = map[string]string{}
	fields := []*string{&out.Gateway, &out.NATS, &out.NATSMonitor, &out.FerretDB, &out.S3}
	ops := map[string]*string{}
	for _, name := range []string{Credential, Fileingest, Datasetquery} {
		addr := a.Ops[name]
		ops[name] = &addr
		fields = append(fields, &addr)
	}
	for _, f := range fields {
		if *f != "" {
			continue
		}
		port, err := freePort()
		if err != nil {
			return a, err
		}
		*f = port
	}
	for name, addr := range ops {
		out.Ops[name] = *addr
	}
	return out, nil
}

// freePort asks the kernel for a free loopback port and releases it: the
// servers cannot report a port they chose themselves, and a restart must
// find the same one.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// newPassword starts with letters: nats-server reads an environment value
// as a configuration value, so digits first could make it a number.
func newPassword() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "nf" + hex.EncodeToString(b)
}

// httpOK is ready once url answers 200: the gateway's /ready, a service's
// /health on its ops address, nats-server's /healthz.
func httpOK(url string) func(context.Context) error {
	return func(ctx context.Context) error { return healthprobe.Check(ctx, url) }
}

func tcpOpen(addr string) func(context.Context) error {
	return func(ctx context.Context) error {
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return conn.Close()
	}
}
