// Command runsplit is make run-split: the system as an operator runs it,
// every part its own process on this machine (nats-server with
// deploy/nats and a user per service, FerretDB, Versity S3, the four
// service binaries), with data under ./data/split and the gateway on
// 127.0.0.1:8000 with dev auth. Ctrl-C stops the gateway first, then the
// services, then the servers. See README.md, "Running the services
// separately".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/nonefinity/backend/services/all/internal/splitrun"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "run-split:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	addrs := splitrun.DefaultAddrs()
	dataDir := flag.String("data", "data/split", "where everything is kept between runs")
	binDir := flag.String("bin", "bin/split", "where the service programs are built")
	build := flag.Bool("build", true, "build the programs first (go build)")
	flag.StringVar(&addrs.Gateway, "gateway", addrs.Gateway, "gateway listen address")
	flag.StringVar(&addrs.NATS, "nats", addrs.NATS, "nats-server client address")
	flag.StringVar(&addrs.NATSMonitor, "nats-monitor", addrs.NATSMonitor, "nats-server monitoring address")
	flag.StringVar(&addrs.FerretDB, "mongo", addrs.FerretDB, "FerretDB (MongoDB wire) address")
	flag.StringVar(&addrs.S3, "s3", addrs.S3, "S3 address (presigned URLs point here)")
	for _, name := range []string{splitrun.Credential, splitrun.Fileingest, splitrun.Datasetquery} {
		addr := addrs.Ops[name]
		flag.Func(name+"-ops", name+"'s OPS_ADDR (/health, /metrics; default "+addr+")", func(v string) error {
			addrs.Ops[name] = v
			return nil
		})
	}
	flag.Parse()
	avoidTakenPorts(&addrs)

	root, err := repoRoot()
	if err != nil {
		return err
	}
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(root, p)
	}
	if *build {
		fmt.Println("building the services and embedserver into", *binDir)
		if err := splitrun.Build(ctx, root, abs(*binDir)); err != nil {
			return err
		}
	}
	started := time.Now()
	sys, err := splitrun.Start(ctx, splitrun.Options{
		RepoRoot: root, BinDir: abs(*binDir), DataDir: abs(*dataDir), Addrs: addrs,
		Environ: os.Environ(), Console: os.Stdout,
	})
	if err != nil {
		return err
	}
	at := sys.Addrs()
	fmt.Printf("\nNonefinity is running as separate processes (%s to start)\n"+
		"  API       %s/api/v1 (dev auth: GET /api/v1/auth/create-token?clerk_id=you)\n"+
		"  NATS      %s (monitoring %s), FerretDB %s, S3 %s\n"+
		"  ops       credential %s, fileingest %s, datasetquery %s\n"+
		"  logs      %s\n"+
		"  stop      Ctrl-C\n\n",
		time.Since(started).Round(time.Millisecond), sys.GatewayURL(), at.NATS, at.NATSMonitor, at.FerretDB, at.S3,
		at.Ops[splitrun.Credential], at.Ops[splitrun.Fileingest], at.Ops[splitrun.Datasetquery], filepath.Join(sys.DataDir(), "logs"))

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-sys.Exited():
	}
	sys.Close()
	return runErr
}

// avoidTakenPorts moves a server whose default port another program holds
// (a system nats-server on 4222, a MongoDB on 27017) to a free port, and
// says so. The gateway stays where the README says it is, and an address
// given as a flag is kept: a clash there is reported by the server.
func avoidTakenPorts(addrs *splitrun.Addrs) {
	given := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { given[f.Name] = true })
	check := func(flagName string, addr *string) {
		if given[flagName] {
			return
		}
		l, err := net.Listen("tcp", *addr)
		if err == nil {
			l.Close()
			return
		}
		fmt.Printf("%s is taken; -%s gets a free port instead\n", *addr, flagName)
		*addr = ""
	}
	check("nats", &addrs.NATS)
	check("nats-monitor", &addrs.NATSMonitor)
	check("mongo", &addrs.FerretDB)
	check("s3", &addrs.S3)
	for name, addr := range addrs.Ops {
		check(name+"-ops", &addr)
		addrs.Ops[name] = addr
	}
}

// repoRoot is the directory holding go.work, at or above the working
// directory: nats-server and deploy/nats are found from there.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.work above the working directory: run it from the repository")
		}
		dir = parent
	}
}
