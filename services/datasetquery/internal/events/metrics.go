package events

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nonefinity/backend/pkg/telemetry"
)

// conversionMetrics count finished conversions as they are announced. A
// conversion whose outcome is announced again (a redelivered job finding it
// finished) counts again; that takes a crash between the two.
type conversionMetrics struct {
	done     *prometheus.CounterVec
	duration prometheus.Histogram
}

func newConversionMetrics(reg prometheus.Registerer) (*conversionMetrics, error) {
	m := &conversionMetrics{
		done: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nonefinity_conversions_total",
			Help: "Conversions of a file into a dataset that finished, by outcome: ready or failed."}, []string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "nonefinity_conversion_duration_seconds",
			Help:    "Time from a conversion's request to its outcome, queueing and retries included.",
			Buckets: []float64{.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800}}),
	}
	var err error
	if m.done, err = telemetry.Register(reg, m.done); err == nil {
		m.duration, err = telemetry.Register(reg, m.duration)
	}
	if err != nil {
		return nil, fmt.Errorf("register conversion metrics: %w", err)
	}
	return m, nil
}

func (m *conversionMetrics) finished(outcome string, requested, done time.Time) {
	if m == nil {
		return
	}
	m.done.WithLabelValues(outcome).Inc()
	if !requested.IsZero() && done.After(requested) {
		m.duration.Observe(done.Sub(requested).Seconds())
	}
}
