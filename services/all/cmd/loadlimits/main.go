// Command loadlimits is the two-user attack scenario of issue #10 (`make
// load`): it starts the whole system in this process on the embedded
// default, as `make run` does, and measures an ordinary user B's upload,
// conversion and query times alone, then while user A runs every attack of
// the issue in a loop. It fails when B sees any error or when B's loaded
// p99 of an operation is over three times its unloaded p99.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nonefinity/backend/pkg/config"
	"github.com/nonefinity/backend/services/all/internal/allinone"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadlimits:", err)
		os.Exit(1)
	}
}

type options struct {
	duration   time.Duration
	iterations int
	quick      bool
	keep       bool
	logLevel   string
	ferretPG   string
	rateLimit  int
	minRound   time.Duration
	attacks    string
	cpuProfile string
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("loadlimits", flag.ContinueOnError)
	fs.DurationVar(&o.duration, "duration", 60*time.Second, "how long A attacks while B's loop runs (phase 2)")
	fs.IntVar(&o.iterations, "iterations", 30, "B's iterations alone (phase 1)")
	fs.BoolVar(&o.quick, "quick", false, "smoke run: 10 s, 5 iterations, a 50 MB second sheet and a 10,000-column CSV (unless -duration/-iterations are given)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (DATA_DIR and attack files) afterwards")
	fs.StringVar(&o.logLevel, "log-level", "error", "LOG_LEVEL of the system under test")
	fs.DurationVar(&o.minRound, "min-round", 100*time.Millisecond, "shortest round of one attack (cheap refusals wait out the rest)")
	fs.IntVar(&o.rateLimit, "user-rate-limit", 0, "RATE_LIMIT_PER_MINUTE of the run (0: off); B paces itself to 3/4 of it, A does not (the per-address limit stays off: both users come from 127.0.0.1)")
	fs.StringVar(&o.ferretPG, "ferretdb-postgresql", "", "keep the embedded FerretDB's documents in this (empty) PostgreSQL database instead of SQLite (EMBEDDED_FERRETDB_POSTGRESQL_URL)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole process during phase 2 to this file (go tool pprof)")
	fs.StringVar(&o.attacks, "attacks", "all", "the attacks A runs, comma-separated keys (xlsx-media, xlsx-sheet2, wide-csv, huge-cells, slow-query, convert-burst, wide-lists, presign-lie, sandbox, ssrf, sse)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["duration"] {
			o.duration = 10 * time.Second
		}
		if !set["iterations"] {
			o.iterations = 5
		}
	}
	if o.duration <= 0 || o.iterations < 1 {
		return o, errors.New("-duration must be positive and -iterations at least 1")
	}
	return o, nil
}

func run(ctx context.Context, args []string, out io.Writer) error {
	opts, err := parseFlags(args)
	if err != nil {
		return err
	}
	a := &attacker{tally: newTally(), minRound: opts.minRound}
	attacks, err := selectAttacks(a.attacks(), opts.attacks)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "loadlimits-")
	if err != nil {
		return err
	}
	if opts.keep {
		fmt.Fprintln(out, "keeping", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	sizes := sizesFor(opts.quick)
	fmt.Fprintf(out, "building attack files (XLSX media %s declared, second sheet %s, CSV of %d columns)\n",
		mib(uint64(sizes.mediaBytes)), mib(uint64(sizes.sheet2Bytes)), sizes.wideColumns)
	files, err := buildAttackFiles(dir, sizes)
	if err != nil {
		return fmt.Errorf("attack files: %w", err)
	}
	fmt.Fprintf(out, "  bomb.xlsx %d KB, sheet2.xlsx %d KB, wide.csv %d KB\n", len(files.bomb)>>10, len(files.sheet2)>>10, len(files.wide)>>10)

	sys, err := startSystem(ctx, filepath.Join(dir, "data"), opts.logLevel, opts.ferretPG, opts.rateLimit)
	if err != nil {
		return err
	}
	defer func() {
		if err := sys.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "loadlimits: stopping the system:", err)
		}
	}()

	victimAPI, err := signIn(ctx, sys.api, "loadlimits_victim")
	if err != nil {
		return err
	}
	attackerAPI, err := signIn(ctx, sys.api, "loadlimits_attacker")
	if err != nil {
		return err
	}
	a.api, a.files, a.sseCap = attackerAPI, files, sys.sseCap
	if err := a.setup(ctx); err != nil {
		return err
	}
	events, err := followEvents(ctx, victimAPI)
	if err != nil {
		return err
	}
	v := &victim{api: victimAPI, events: events, csv: victimCSV(), perMinute: opts.rateLimit * 3 / 4}
	p := runPhases(ctx, out, v, a, attacks, opts)
	if ctx.Err() != nil {
		return ctx.Err() // interrupted: the numbers are partial
	}
	return verdict(out, p, a.tally, attacks)
}

// phases is what the two phases measured.
type phases struct {
	warm, unloaded, loaded victimRun
	unloadedMem, loadedMem memPeaks
}

// runPhases runs B alone, then B while A runs the attacks.
func runPhases(ctx context.Context, out io.Writer, v *victim, a *attacker, attacks []attack, opts options) phases {
	var p phases
	// One unmeasured iteration: B's first query opens B's DuckDB session,
	// a cost the unloaded p99 must not carry (it would loosen the bound).
	p.warm = runVictim(ctx, v, out, func(done int) bool { return done < 1 })

	fmt.Fprintf(out, "phase 1: B alone, %d iterations\n", opts.iterations)
	mem := watchMemory()
	p.unloaded = runVictim(ctx, v, out, func(done int) bool { return done < opts.iterations })
	p.unloadedMem = mem.finish()

	fmt.Fprintf(out, "phase 2: B while A attacks, %s\n", opts.duration)
	if opts.cpuProfile != "" {
		if f, err := os.Create(opts.cpuProfile); err == nil && pprof.StartCPUProfile(f) == nil {
			defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
		}
	}
	mem = watchMemory()
	attackCtx, stopAttacks := context.WithCancel(ctx)
	attacksDone := make(chan struct{})
	go func() {
		defer close(attacksDone)
		a.run(attackCtx, attacks)
	}()
	// B's iteration in progress at the deadline is finished, under attack:
	// the phase lasts that much longer.
	deadline := time.Now().Add(opts.duration)
	p.loaded = runVictim(ctx, v, out, func(int) bool { return time.Now().Before(deadline) })
	stopAttacks()
	<-attacksDone
	p.loadedMem = mem.finish()
	return p
}

// verdict prints the report and fails when B had a failure or a loaded p99
// is over the target.
func verdict(out io.Writer, p phases, t *tally, attacks []attack) error {
	over := compare(out, p.unloaded, p.loaded)
	printTally(out, t, attacks)
	fmt.Fprintf(out, "\nmemory, phase 1: %s\nmemory, phase 2: %s\n", p.unloadedMem, p.loadedMem)

	failures := slices.Concat(p.warm.failures, p.unloaded.failures, p.loaded.failures)
	if len(failures) > 0 {
		fmt.Fprintf(out, "\nB's failures (%d):\n", len(failures))
		for i, f := range failures {
			if i == 30 {
				fmt.Fprintf(out, "  … %d more\n", len(failures)-i)
				break
			}
			fmt.Fprintln(out, "  "+f)
		}
	}
	var problems []string
	if len(failures) > 0 {
		problems = append(problems, fmt.Sprintf("B had %d failed iterations", len(failures)))
	}
	if len(over) > 0 {
		problems = append(problems, fmt.Sprintf("B's loaded p99 over %.0f× unloaded for %s", p99Target, strings.Join(over, ", ")))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	fmt.Fprintln(out, "\nok: B had no failures and every loaded p99 is within 3× of unloaded")
	return nil
}

// system is the all-in-one running in this process.
type system struct {
	api    string // http://127.0.0.1:port/api/v1
	sseCap int
	stop   func() error
}

// startSystem runs allinone.Run as `make run` does, on a fresh DATA_DIR, dev
// auth, loopback listeners on free ports and the rate limits off, and waits
// until every service answers.
func startSystem(ctx context.Context, dataDir, logLevel, ferretPG string, rateLimit int) (*system, error) {
	// The environment is set before the configuration is loaded, so a
	// developer's .env cannot point the run at real Clerk or other ports.
	for k, v := range map[string]string{
		"APP_ENV": "dev", "DATA_DIR": dataDir, "APP_HOST": "127.0.0.1", "APP_PORT": "0",
		"EMBEDDED_S3_ADDR": "127.0.0.1:0", "RATE_LIMIT_PER_MINUTE": strconv.Itoa(max(rateLimit, 0)), "RATE_LIMIT_IP_PER_MINUTE": "0",
		"CLERK_ISSUER": "", "CLERK_SECRET_KEY": "", "LOG_LEVEL": logLevel, "LOG_FILE": "",
		"EMBEDDED_FERRETDB_POSTGRESQL_URL": ferretPG,
	} {
		if err := os.Setenv(k, v); err != nil {
			return nil, err
		}
	}
	cfg, err := config.Load[allinone.Config]()
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- allinone.Run(runCtx, cfg, "loadlimits") }()
	stop := func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(time.Minute):
			return errors.New("the system did not stop within a minute")
		}
	}
	addr, err := waitStarted(ctx, dataDir, done)
	if err != nil {
		stop()
		return nil, err
	}
	return &system{api: "http://" + addr + "/api/v1", sseCap: cfg.Gateway.SSEMaxPerUser, stop: stop}, nil
}

// startTimeout bounds the system's start (FerretDB and the S3 server
// included).
const startTimeout = 2 * time.Minute

// waitStarted waits for the run's endpoints file, then for the gateway's
// /ready, and returns the gateway's address.
func waitStarted(ctx context.Context, dataDir string, done <-chan error) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	var addr string
	for {
		if addr == "" {
			if b, err := os.ReadFile(filepath.Join(dataDir, allinone.EndpointsFile)); err == nil {
				var eps allinone.Endpoints
				if json.Unmarshal(b, &eps) == nil {
					addr = eps.HTTP
				}
			}
		}
		if addr != "" && ready(ctx, addr) {
			return addr, nil
		}
		select {
		case err := <-done:
			return "", fmt.Errorf("the system stopped while starting: %v", err)
		case <-ctx.Done():
			return "", fmt.Errorf("the system did not start: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func ready(ctx context.Context, addr string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/ready", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
