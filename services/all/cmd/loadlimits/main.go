// Command loadlimits is the two-user attack scenario of issue #10 (`make
// load`): it starts the whole system in this process on the embedded
// default, as `make run` does, and measures an ordinary user B's upload,
// conversion and query times alone, then while user A runs every attack of
// the issue in a loop. It fails when B sees any error or when B's loaded
// p99 of an operation is over three times its unloaded p99.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/nonefinity/backend/services/all/internal/localrun"
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
		localrun.MiB(uint64(sizes.mediaBytes)), localrun.MiB(uint64(sizes.sheet2Bytes)), sizes.wideColumns)
	files, err := buildAttackFiles(dir, sizes)
	if err != nil {
		return fmt.Errorf("attack files: %w", err)
	}
	fmt.Fprintf(out, "  bomb.xlsx %d KB, sheet2.xlsx %d KB, wide.csv %d KB\n", len(files.bomb)>>10, len(files.sheet2)>>10, len(files.wide)>>10)

	sys, err := localrun.Start(ctx, localrun.Options{DataDir: filepath.Join(dir, "data"), LogLevel: opts.logLevel, FerretPG: opts.ferretPG, RateLimit: opts.rateLimit})
	if err != nil {
		return err
	}
	defer func() {
		if err := sys.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "loadlimits: stopping the system:", err)
		}
	}()

	victimAPI, err := localrun.SignIn(ctx, sys.API, "loadlimits_victim")
	if err != nil {
		return err
	}
	attackerAPI, err := localrun.SignIn(ctx, sys.API, "loadlimits_attacker")
	if err != nil {
		return err
	}
	a.api, a.files, a.sseCap = attackerAPI, files, sys.SSECap
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
	unloadedMem, loadedMem localrun.MemPeaks
}

// runPhases runs B alone, then B while A runs the attacks.
func runPhases(ctx context.Context, out io.Writer, v *victim, a *attacker, attacks []attack, opts options) phases {
	var p phases
	// One unmeasured iteration: B's first query opens B's DuckDB session,
	// a cost the unloaded p99 must not carry (it would loosen the bound).
	p.warm = runVictim(ctx, v, out, func(done int) bool { return done < 1 })

	fmt.Fprintf(out, "phase 1: B alone, %d iterations\n", opts.iterations)
	mem := localrun.WatchMemory()
	p.unloaded = runVictim(ctx, v, out, func(done int) bool { return done < opts.iterations })
	p.unloadedMem = mem.Finish()

	fmt.Fprintf(out, "phase 2: B while A attacks, %s\n", opts.duration)
	if opts.cpuProfile != "" {
		if f, err := os.Create(opts.cpuProfile); err == nil && pprof.StartCPUProfile(f) == nil {
			defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
		}
	}
	mem = localrun.WatchMemory()
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
	p.loadedMem = mem.Finish()
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
