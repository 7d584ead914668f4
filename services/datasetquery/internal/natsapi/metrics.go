package natsapi

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/pkg/telemetry"
)

// queryMetrics count SQL queries by outcome: ok, truncated (the result
// was cut at the reply cap) or the error code (timeout, too_many_requests,
// validation…), and DuckDB's time for those that ran.
type queryMetrics struct {
	queries  *prometheus.CounterVec
	duration prometheus.Histogram
}

func newQueryMetrics(reg prometheus.Registerer) (*queryMetrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &queryMetrics{
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nonefinity_queries_total",
			Help: "SQL queries over datasets, by outcome: ok, truncated, or the error code."}, []string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "nonefinity_query_duration_seconds",
			Help:    "DuckDB's time for a query that ran.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}),
	}
	var err error
	if m.queries, err = telemetry.Register(reg, m.queries); err == nil {
		m.duration, err = telemetry.Register(reg, m.duration)
	}
	if err != nil {
		return nil, fmt.Errorf("register query metrics: %w", err)
	}
	return m, nil
}

func (m *queryMetrics) observe(truncated bool, took time.Duration, err error) {
	if m == nil {
		return
	}
	outcome := "ok"
	switch re, ok := rpcerr.As(err); {
	case ok:
		outcome = string(re.Code)
	case err != nil:
		outcome = string(rpcerr.Internal)
	case truncated:
		outcome = "truncated"
	}
	m.queries.WithLabelValues(outcome).Inc()
	if err == nil {
		m.duration.Observe(took.Seconds())
	}
}
