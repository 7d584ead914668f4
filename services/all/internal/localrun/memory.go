package localrun

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MemWatch samples the Go heap while a phase runs; the process's peak RSS
// comes from the kernel (VmHWM), which sees DuckDB's memory too.
type MemWatch struct {
	mu        sync.Mutex
	heapPeak  uint64 // live and unswept heap objects, sampled
	totalPeak uint64 // everything the Go runtime has mapped, sampled
	stop      chan struct{}
	done      chan struct{}
}

// memSampleEvery is the sampling period: a spike shorter than it can be
// missed by the Go heap peak (never by VmHWM).
const memSampleEvery = 20 * time.Millisecond

// WatchMemory resets the process's peak RSS and starts sampling.
func WatchMemory() *MemWatch {
	resetPeakRSS()
	m := &MemWatch{stop: make(chan struct{}), done: make(chan struct{})}
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

// MemPeaks is what one phase's watch saw, in bytes.
type MemPeaks struct {
	RSS, Heap, GoTotal uint64
}

// Finish stops the sampling and returns the peaks.
func (m *MemWatch) Finish() MemPeaks {
	close(m.stop)
	<-m.done
	m.mu.Lock()
	defer m.mu.Unlock()
	return MemPeaks{RSS: peakRSS(), Heap: m.heapPeak, GoTotal: m.totalPeak}
}

func (p MemPeaks) String() string {
	return fmt.Sprintf("peak RSS %s, Go heap peak %s (runtime total %s)", MiB(p.RSS), MiB(p.Heap), MiB(p.GoTotal))
}

// MiB formats b in whole mebibytes.
func MiB(b uint64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

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

// Percentile is the nearest-rank percentile p (0..1) of ds.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(i, 0)]
}
