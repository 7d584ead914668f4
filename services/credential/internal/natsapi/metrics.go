package natsapi

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/telemetry"
)

// keyTestMetrics count key tests by result: valid, invalid (the provider
// refused the key) or the error code of a test that could not run.
type keyTestMetrics struct {
	tests    *prometheus.CounterVec
	duration prometheus.Histogram
}

func newKeyTestMetrics(reg prometheus.Registerer) (keyTestMetrics, error) {
	m := keyTestMetrics{
		tests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nonefinity_key_tests_total",
			Help: "Provider key tests, by result: valid, invalid, or the error code of a test that could not run."}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "nonefinity_key_test_duration_seconds",
			Help:    "Time a provider took to answer a key test.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 120}}),
	}
	var err error
	if m.tests, err = telemetry.Register(reg, m.tests); err == nil {
		m.duration, err = telemetry.Register(reg, m.duration)
	}
	if err != nil {
		return keyTestMetrics{}, fmt.Errorf("register key test metrics: %w", err)
	}
	return m, nil
}

func (m keyTestMetrics) observe(valid bool, took time.Duration, err error) {
	result := "invalid"
	switch re, _ := rpcerr.As(err); {
	case err != nil && re != nil:
		result = string(re.Code)
	case err != nil:
		result = string(rpcerr.Internal)
	case valid:
		result = "valid"
	}
	m.tests.WithLabelValues(result).Inc()
	if err == nil {
		m.duration.Observe(took.Seconds())
	}
}
