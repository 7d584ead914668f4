// Command bench is issue #13's measuring harness (`make bench`): in one run
// on one machine it measures each figure of the system next to its baseline
// — conversion and queries against DuckDB alone on the same data, the
// upload relay against a direct presigned PUT to the same S3, the list
// routes against the FastAPI floor, the NATS hop against a direct call,
// credential decryption against the cipher alone — and prints a table and
// one JSON line per figure ({name, ours, baseline, unit, ratio, target}),
// also written to -out. The system runs in this process on the embedded
// default, as `make run` does, with the rate limits off; any request that
// is not answered 2xx during a measurement fails the run.
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
	"runtime"
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
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// groups are the -only keys, in the order a run measures them.
var groups = []string{"decrypt", "nats", "providers", "credentials", "files", "convert", "query-cold", "query-warm", "xlsx", "upload"}

type options struct {
	quick      bool
	only       map[string]bool
	runs       int // interleaved runs of convert and the queries; XLSX conversions
	uploadRuns int
	rows       int
	xlsxRows   int
	uploadMiB  int64
	clients    int
	duration   time.Duration // one load measurement
	warmup     time.Duration // untimed load before it
	listItems  int
	micro      time.Duration // each side of the NATS hop and decrypt figures
	out        string
	keep       bool
	strict     bool
	logLevel   string
	cpuProfile string
}

func parseFlags(args []string) (options, error) {
	var o options
	var only string
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.BoolVar(&o.quick, "quick", false, "smoke run: small sizes and one run of each figure (flags given explicitly still apply)")
	fs.StringVar(&only, "only", "", "measure only these figures, comma-separated: "+strings.Join(groups, ","))
	fs.IntVar(&o.runs, "runs", 5, "interleaved runs of the conversion and query figures (median reported); XLSX conversions")
	fs.IntVar(&o.uploadRuns, "upload-runs", 3, "interleaved runs of the upload figure (median reported)")
	fs.IntVar(&o.rows, "rows", 1_000_000, "rows of the CSV converted and queried")
	fs.IntVar(&o.xlsxRows, "xlsx-rows", 100_000, "rows of the XLSX workbook converted")
	fs.Int64Var(&o.uploadMiB, "upload-mib", 1024, "size of the uploaded file, MiB")
	fs.IntVar(&o.clients, "clients", 50, "concurrent keep-alive clients of the list routes")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "length of each list-route measurement")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "untimed load before each list-route measurement")
	fs.IntVar(&o.listItems, "list-items", 10, "credentials and files the listing user has")
	fs.DurationVar(&o.micro, "micro", 3*time.Second, "time given to each side of the NATS hop and decrypt figures")
	fs.StringVar(&o.out, "out", filepath.Join("bench", "latest.jsonl"), "file the JSON lines are written to")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (DATA_DIR, data files) afterwards")
	fs.BoolVar(&o.strict, "strict", false, "fail the run when a figure misses its target (a noisy machine misses some)")
	fs.StringVar(&o.logLevel, "log-level", "error", "LOG_LEVEL of the system under test")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole process (system and harness) during the measurements to this file (go tool pprof)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		quick := map[string]func(){
			"runs": func() { o.runs = 1 }, "upload-runs": func() { o.uploadRuns = 1 },
			"rows": func() { o.rows = 20_000 }, "xlsx-rows": func() { o.xlsxRows = 2_000 },
			"upload-mib": func() { o.uploadMiB = 8 }, "duration": func() { o.duration = 500 * time.Millisecond },
			"warmup": func() { o.warmup = 100 * time.Millisecond }, "list-items": func() { o.listItems = 3 },
			"micro": func() { o.micro = 100 * time.Millisecond },
		}
		for name, apply := range quick {
			if !set[name] {
				apply()
			}
		}
	}
	o.only = map[string]bool{}
	for key := range strings.SplitSeq(only, ",") {
		if key = strings.TrimSpace(key); key == "" {
			continue
		}
		if !slices.Contains(groups, key) {
			return o, fmt.Errorf("-only: unknown figure %q (known: %s)", key, strings.Join(groups, ","))
		}
		o.only[key] = true
	}
	if o.runs < 1 || o.uploadRuns < 1 || o.rows < 1 || o.xlsxRows < 1 || o.uploadMiB < 1 || o.clients < 1 ||
		o.duration <= 0 || o.warmup < 0 || o.listItems < 0 || o.micro <= 0 {
		return o, errors.New("-runs, -upload-runs, -rows, -xlsx-rows, -upload-mib, -clients, -duration and -micro must be positive")
	}
	return o, nil
}

// wants reports whether the run measures any of the keys.
func (o options) wants(keys ...string) bool {
	if len(o.only) == 0 {
		return true
	}
	for _, k := range keys {
		if o.only[k] {
			return true
		}
	}
	return false
}

func run(ctx context.Context, args []string, out io.Writer) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "bench-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(out, "keeping", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	fmt.Fprintf(out, "bench: %s, %d CPUs (%s), %s/%s, load average %s\n", cpuModel(), runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH, loadAverage())

	// The floor's interpreter is found before anything starts, so a machine
	// without it fails at once with the command that installs it.
	var floor *floorServer
	if o.wants("providers", "credentials", "files") {
		if floor, err = findFloor(ctx); err != nil {
			return err
		}
	}

	began := time.Now()
	sys, err := localrun.Start(ctx, localrun.Options{DataDir: filepath.Join(dir, "data"), LogLevel: o.logLevel})
	if err != nil {
		return err
	}
	defer func() {
		if err := sys.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "bench: stopping the system:", err)
		}
	}()
	fmt.Fprintf(out, "system started in %s (DATA_DIR %s)\n", time.Since(began).Round(time.Millisecond), filepath.Join(dir, "data"))

	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
	}
	b := &bench{o: o, sys: sys, dir: dir, log: out}
	steps := []struct {
		keys []string
		run  func(context.Context) error
	}{
		{[]string{"decrypt"}, b.decrypt},
		{[]string{"nats"}, b.natsHop},
		{[]string{"providers", "credentials", "files"}, func(ctx context.Context) error { return b.lists(ctx, floor) }},
		{[]string{"convert", "query-cold", "query-warm"}, b.datasets},
		{[]string{"xlsx"}, b.xlsx},
		{[]string{"upload"}, b.upload},
	}
	for _, s := range steps {
		if !o.wants(s.keys...) {
			continue
		}
		if err := s.run(ctx); err != nil {
			return err
		}
	}
	// What else ran shows in the load average: the figures are only as
	// quiet as the machine was.
	fmt.Fprintf(out, "\nload average at the end: %s\n", loadAverage())
	return report(out, b.results, o)
}

// bench is one run's state: the system, its options and what was measured.
type bench struct {
	o       options
	sys     *localrun.System
	dir     string
	log     io.Writer
	results []result
}

// add records a figure the run measures (-only drops the others of a step
// that measures several).
func (b *bench) add(key string, r result) {
	if b.o.wants(key) {
		b.results = append(b.results, r)
	}
}

func (b *bench) logf(format string, args ...any) { fmt.Fprintf(b.log, "  "+format+"\n", args...) }

// loadAverage is the 1, 5 and 15 minute load averages of /proc/loadavg.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(data)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for line := range strings.Lines(string(data)) {
		if name, value, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return "unknown CPU"
}
