package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// result is one figure: ours next to its baseline, measured in the same run.
type result struct {
	Name     string  `json:"name"`
	Ours     float64 `json:"ours"`
	Baseline float64 `json:"baseline"`
	Unit     string  `json:"unit"`
	Ratio    float64 `json:"ratio"`  // ours / baseline
	Target   string  `json:"target"` // empty: no target, the figure is watched
	goal     goal
	about    string // what the baseline is, for the table
}

// goal is a figure's target: a bound on the ratio, or on ours alone.
type goal struct {
	onRatio bool
	atMost  bool // ≤ (or <, for ours), else ≥
	value   float64
}

func ratioAtMost(v float64) goal  { return goal{onRatio: true, atMost: true, value: v} }
func ratioAtLeast(v float64) goal { return goal{onRatio: true, value: v} }
func oursBelow(v float64) goal    { return goal{atMost: true, value: v} }

// figure builds a result, each number to four significant digits.
func figure(name string, ours, baseline float64, unit string, g goal, about string) result {
	r := result{Name: name, Ours: round(ours), Baseline: round(baseline), Unit: unit, goal: g, about: about}
	if baseline != 0 {
		r.Ratio = round(ours / baseline)
	}
	switch {
	case g == goal{}:
	case g.onRatio && g.atMost:
		r.Target = fmt.Sprintf("<= %gx", g.value)
	case g.onRatio:
		r.Target = fmt.Sprintf(">= %gx", g.value)
	default:
		r.Target = fmt.Sprintf("< %g %s", g.value, unit)
	}
	return r
}

// met is "yes", "no", or "" without a target.
func (r result) met() string {
	g := r.goal
	if g == (goal{}) {
		return ""
	}
	ok := false
	switch {
	case g.onRatio && g.atMost:
		ok = r.Ratio <= g.value
	case g.onRatio:
		ok = r.Ratio >= g.value
	default:
		ok = r.Ours < g.value
	}
	if ok {
		return "yes"
	}
	return "no"
}

// round keeps four significant digits.
func round(v float64) float64 {
	if v == 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return v
	}
	scale := math.Pow(10, 3-math.Floor(math.Log10(math.Abs(v))))
	return math.Round(v*scale) / scale
}

// report prints the table and the JSON lines and writes the lines to o.out.
func report(out io.Writer, results []result, o options) error {
	var lines bytes.Buffer
	enc := json.NewEncoder(&lines)
	enc.SetEscapeHTML(false)
	for _, r := range results {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	fmt.Fprintln(out)
	printTable(out, results)
	fmt.Fprintln(out)
	_, _ = out.Write(lines.Bytes())
	if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(o.out, lines.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nwritten to %s\n", o.out)
	var missed []string
	for _, r := range results {
		if r.met() == "no" {
			missed = append(missed, r.Name)
		}
	}
	if len(missed) > 0 {
		fmt.Fprintf(out, "missed targets: %s\n", strings.Join(missed, ", "))
		if o.strict {
			return errors.New("missed targets: " + strings.Join(missed, ", "))
		}
	}
	return nil
}

// printTable writes the results as a Markdown table (it goes into the
// README as it is).
func printTable(w io.Writer, results []result) {
	fmt.Fprintln(w, "| figure | ours | baseline | unit | ratio | target | met | baseline is |")
	fmt.Fprintln(w, "|---|---:|---:|---|---:|---|---|---|")
	for _, r := range results {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %.2f× | %s | %s | %s |\n",
			r.Name, num(r.Ours), num(r.Baseline), r.Unit, r.Ratio, r.Target, r.met(), r.about)
	}
}

// num prints v with thousands separated and at most two decimals.
func num(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	if v != 0 && math.Abs(v) < 0.1 {
		return fmt.Sprintf("%.2g", v)
	}
	if v >= 100 {
		s = fmt.Sprintf("%.0f", v)
	} else if v >= 10 {
		s = fmt.Sprintf("%.1f", v)
	}
	whole, frac, _ := strings.Cut(s, ".")
	for i := len(whole) - 3; i > 0 && whole[i-1] != '-'; i -= 3 {
		whole = whole[:i] + "," + whole[i:]
	}
	if frac != "" {
		return whole + "." + frac
	}
	return whole
}

// median of ds (the lower middle one of an even count).
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

func seconds(d time.Duration) float64 { return d.Seconds() }
func millis(d time.Duration) float64  { return float64(d) / float64(time.Millisecond) }
