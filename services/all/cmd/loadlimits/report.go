package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// p99Target is the bound: B's loaded p99 within 3× its unloaded
// value.
const p99Target = 3.0

// percentile is the nearest-rank percentile p (0..1) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(i, 0)]
}

func ms(d time.Duration) float64 { return math.Round(float64(d.Microseconds())/10) / 100 }

// opResult is one JSON line of the report.
type opResult struct {
	Name          string  `json:"name"`
	UnloadedP99MS float64 `json:"unloaded_p99_ms"`
	LoadedP99MS   float64 `json:"loaded_p99_ms"`
	Ratio         float64 `json:"ratio"`
	Target        float64 `json:"target"`
}

// compare prints the table and the JSON lines and returns the operations
// whose loaded p99 is over the target (or that have no samples).
func compare(w io.Writer, unloaded, loaded victimRun) (over []string) {
	fmt.Fprintf(w, "\nvictim B: %d unloaded iterations in %s, %d loaded in %s\n",
		len(unloaded.samples[opQuery]), unloaded.elapsed.Round(time.Millisecond),
		len(loaded.samples[opQuery]), loaded.elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "%-18s %12s %12s %12s %12s %8s %7s\n", "operation", "unloaded p50", "unloaded p99", "loaded p50", "loaded p99", "ratio", "target")
	var lines []opResult
	for _, op := range victimOps {
		u, l := unloaded.samples[op], loaded.samples[op]
		up99, lp99 := percentile(u, 0.99), percentile(l, 0.99)
		ratio := -1.0 // no samples in a phase; JSON has no infinity
		if up99 > 0 && len(l) > 0 {
			ratio = math.Round(float64(lp99)/float64(up99)*100) / 100
		}
		fmt.Fprintf(w, "%-18s %10.1fms %10.1fms %10.1fms %10.1fms %7.2fx %6.0fx\n",
			op, ms(percentile(u, 0.5)), ms(up99), ms(percentile(l, 0.5)), ms(lp99), ratio, p99Target)
		if ratio < 0 || ratio > p99Target {
			over = append(over, op)
		}
		lines = append(lines, opResult{Name: op, UnloadedP99MS: ms(up99), LoadedP99MS: ms(lp99), Ratio: ratio, Target: p99Target})
	}
	fmt.Fprintln(w)
	for _, l := range lines {
		b, _ := json.Marshal(l)
		fmt.Fprintln(w, string(b))
	}
	return over
}

// printTally prints A's answers per attack and outcome, in the order the
// attacks are listed, setup first.
func printTally(w io.Writer, t *tally, attacks []attack) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintln(w, "\nattacker A's answers (refusals are expected):")
	rows := append([]attack{{key: atSetup, about: "what the attacks read back, made before phase 1"}}, attacks...)
	for _, at := range rows {
		outcomes := make([]string, 0, len(t.counts[at.key]))
		for o := range t.counts[at.key] {
			outcomes = append(outcomes, o)
		}
		slices.Sort(outcomes)
		parts := make([]string, len(outcomes))
		for i, o := range outcomes {
			parts[i] = o + " ×" + strconv.Itoa(t.counts[at.key][o])
		}
		if len(parts) == 0 {
			parts = []string{"(no answer within the phase)"}
		}
		fmt.Fprintf(w, "  %-14s %s\n  %-14s %s\n", at.key, at.about, "", strings.Join(parts, ", "))
	}
}

// memWatch samples the Go heap while a phase runs; the process's peak RSS
// comes from the kernel (VmHWM), which sees DuckDB's memory too.
type memWatch struct {
	mu        sync.Mutex
	heapPeak  uint64 // live and unswept heap objects, sampled
	totalPeak uint64 // everything the Go runtime has mapped, sampled
	stop      chan struct{}
	done      chan struct{}
}

// memSampleEvery is the sampling period: a spike shorter than it can be
// missed by the Go heap peak (never by VmHWM).
const memSampleEvery = 20 * time.Millisecond

// watchMemory resets the process's peak RSS and starts sampling.
func watchMemory() *memWatch {
	resetPeakRSS()
	m := &memWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/total:bytes"}}
		t := time.NewTicker(memSampleEvery)
		defer t.Stop()
		for {
			metrics.Read(samples)
			m.mu.Lock()
			m.heapPeak = max(m.heapPeak, samples[0].Value.Uint64())
			m.totalPeak = max(m.totalPeak, samples[1].Value.Uint64())
			m.mu.Unlock()
			select {
			case <-m.stop:
				return
			case <-t.C:
			}
		}
	}()
	return m
}

// memPeaks is what one phase's watch saw.
type memPeaks struct {
	rss, heap, goTotal uint64
}

func (m *memWatch) finish() memPeaks {
	close(m.stop)
	<-m.done
	m.mu.Lock()
	defer m.mu.Unlock()
	return memPeaks{rss: peakRSS(), heap: m.heapPeak, goTotal: m.totalPeak}
}

func (p memPeaks) String() string {
	return fmt.Sprintf("peak RSS %s, Go heap peak %s (runtime total %s)", mib(p.rss), mib(p.heap), mib(p.goTotal))
}

func mib(b uint64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// resetPeakRSS sets VmHWM back to the current RSS (Linux ≥ 4.0), so each
// phase reports its own peak; where it cannot, the peak is the process's.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS is VmHWM from /proc/self/status, in bytes (0 when unknown).
func peakRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
