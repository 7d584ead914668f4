package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nonefinity/backend/services/all/internal/localrun"
)

// p99Target is the bound: B's loaded p99 within 3× its unloaded
// value.
const p99Target = 3.0

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
		up99, lp99 := localrun.Percentile(u, 0.99), localrun.Percentile(l, 0.99)
		ratio := -1.0 // no samples in a phase; JSON has no infinity
		if up99 > 0 && len(l) > 0 {
			ratio = math.Round(float64(lp99)/float64(up99)*100) / 100
		}
		fmt.Fprintf(w, "%-18s %10.1fms %10.1fms %10.1fms %10.1fms %7.2fx %6.0fx\n",
			op, ms(localrun.Percentile(u, 0.5)), ms(up99), ms(localrun.Percentile(l, 0.5)), ms(lp99), ratio, p99Target)
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
