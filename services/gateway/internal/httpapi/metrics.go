package httpapi

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nonefinity/backend/contracts/client"
	"github.com/nonefinity/backend/contracts/rpcerr"
)

// metrics are the gateway's Prometheus collectors.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	nats     *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests answered, by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"}),
		nats: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "nats_request_duration_seconds",
			Help:    "Time of a NATS request to a service, by subject and outcome (ok, or the error code).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"subject", "outcome"}),
	}
	reg.MustRegister(m.requests, m.duration, m.nats)
	return m
}

// timedRequester measures every request a handler makes to a service.
type timedRequester struct {
	next client.Requester
	hist *prometheus.HistogramVec
}

func (t timedRequester) Request(ctx context.Context, subject string, req, resp any) error {
	started := time.Now()
	err := t.next.Request(ctx, subject, req, resp)
	outcome := "ok"
	if err != nil {
		outcome = "error"
		if re, ok := rpcerr.As(err); ok {
			outcome = string(re.Code)
		} else if errors.Is(err, context.Canceled) {
			outcome = "canceled"
		}
	}
	t.hist.WithLabelValues(subject, outcome).Observe(time.Since(started).Seconds())
	return err
}
