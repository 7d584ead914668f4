package natsx

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nonefinity/backend/pkg/telemetry"
)

// Metric names, as deploy/grafana/nonefinity.json queries them.
const (
	MetricRPCRequests       = "nonefinity_rpc_requests_total"
	MetricRPCDuration       = "nonefinity_rpc_request_duration_seconds"
	MetricConsumerHandled   = "nonefinity_consumer_messages_total"
	MetricConsumerDuration  = "nonefinity_consumer_handle_duration_seconds"
	MetricConsumerRedeliver = "nonefinity_consumer_redeliveries_total"
	MetricConsumerPoison    = "nonefinity_consumer_poison_total"
	MetricConsumerPending   = "nonefinity_consumer_pending_messages"
	MetricConsumerAckWait   = "nonefinity_consumer_ack_pending_messages"
)

// latencyBuckets span a cached lookup (sub-millisecond) to a long
// conversion or query (minutes).
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}

// rpcMetrics count a service's requests per endpoint. A nil *rpcMetrics
// (no registry) records nothing.
type rpcMetrics struct {
	service  string
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newRPCMetrics(reg prometheus.Registerer, service string) (*rpcMetrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &rpcMetrics{
		service: service,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricRPCRequests,
			Help: "Requests a service answered, by endpoint and outcome code (ok, or the rpcerr code; deadline_passed when no answer was sent)."},
			[]string{"service", "endpoint", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: MetricRPCDuration,
			Help:    "Time from a request's receipt to its answer, waiting for a worker included, by endpoint.",
			Buckets: latencyBuckets}, []string{"service", "endpoint"}),
	}
	var err error
	if m.requests, err = telemetry.Register(reg, m.requests); err != nil {
		return nil, fmt.Errorf("register rpc metrics: %w", err)
	}
	if m.duration, err = telemetry.Register(reg, m.duration); err != nil {
		return nil, fmt.Errorf("register rpc metrics: %w", err)
	}
	return m, nil
}

func (m *rpcMetrics) observe(endpoint, code string, elapsed time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(m.service, endpoint, code).Inc()
	m.duration.WithLabelValues(m.service, endpoint).Observe(elapsed.Seconds())
}

// Outcomes of a consumed message (the outcome label).
const (
	outcomeAcked    = "acked"
	outcomeRetried  = "retried"
	outcomeDeferred = "deferred"
	outcomePoison   = "poison"
)

// consumerMetrics count one durable consumer's messages. A nil
// *consumerMetrics records nothing.
type consumerMetrics struct {
	labels      []string // service, stream, durable
	handled     *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	redelivered *prometheus.CounterVec
	poison      *prometheus.CounterVec
	lag         *consumerLag
	reg         prometheus.Registerer
}

func newConsumerMetrics(reg prometheus.Registerer, js jetstream.JetStream, service, stream, durable string) (*consumerMetrics, error) {
	if reg == nil {
		return nil, nil
	}
	names := []string{"service", "stream", "durable"}
	m := &consumerMetrics{
		labels: []string{service, stream, durable},
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricConsumerHandled,
			Help: "Messages a durable consumer settled, by outcome: acked, retried (nak after a failure), deferred, poison."},
			append(names, "outcome")),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: MetricConsumerDuration,
			Help: "Time a consumer's handler took for one delivery.", Buckets: latencyBuckets}, names),
		redelivered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricConsumerRedeliver,
			Help: "Deliveries of a message that had been delivered before (after a failure, a deferral or a lost ack)."}, names),
		poison: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricConsumerPoison,
			Help: "Messages given up on (attempts used up, undecodable or a permanent error) and terminated."}, names),
		reg: reg,
	}
	var err error
	if m.handled, err = telemetry.Register(reg, m.handled); err == nil {
		if m.duration, err = telemetry.Register(reg, m.duration); err == nil {
			if m.redelivered, err = telemetry.Register(reg, m.redelivered); err == nil {
				m.poison, err = telemetry.Register(reg, m.poison)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("register consumer metrics: %w", err)
	}
	lag := newConsumerLag(js, m.labels)
	registered, err := telemetry.Register(reg, lag)
	if err != nil {
		return nil, fmt.Errorf("register consumer lag: %w", err)
	}
	if registered == lag {
		// Another instance of the same consumer in this process already
		// reports the lag, which the server keeps per consumer anyway.
		m.lag = lag
	}
	return m, nil
}

// delivered counts the start of one delivery.
func (m *consumerMetrics) delivered(numDelivered uint64) {
	if m == nil || numDelivered <= 1 {
		return
	}
	m.redelivered.WithLabelValues(m.labels...).Inc()
}

// settled counts how one delivery ended and how long its handler took.
func (m *consumerMetrics) settled(outcome string, handled time.Duration) {
	if m == nil {
		return
	}
	m.handled.WithLabelValues(append(m.labels, outcome)...).Inc()
	if handled > 0 {
		m.duration.WithLabelValues(m.labels...).Observe(handled.Seconds())
	}
	if outcome == outcomePoison {
		m.poison.WithLabelValues(m.labels...).Inc()
	}
}

// close stops reporting the consumer's lag (the consumer is gone from this
// process; another may report it).
func (m *consumerMetrics) close() {
	if m != nil && m.lag != nil {
		m.reg.Unregister(m.lag)
	}
}

// consumerLag reports, at each scrape, what the server counts for the
// consumer: messages not yet delivered (its lag) and delivered but not yet
// acknowledged. Asking at scrape time shows a consumer that stopped taking
// messages, which the last delivery's numbers would not.
type consumerLag struct {
	js               jetstream.JetStream
	stream, durable  string
	pending, pendAck *prometheus.Desc
}

// lagQueryTimeout bounds the scrape's consumer info request.
const lagQueryTimeout = 2 * time.Second

func newConsumerLag(js jetstream.JetStream, labels []string) *consumerLag {
	constLabels := prometheus.Labels{"service": labels[0], "stream": labels[1], "durable": labels[2]}
	return &consumerLag{
		js: js, stream: labels[1], durable: labels[2],
		pending: prometheus.NewDesc(MetricConsumerPending,
			"Messages of the stream the durable consumer has not delivered yet (its lag), as the server counts them.", nil, constLabels),
		pendAck: prometheus.NewDesc(MetricConsumerAckWait,
			"Messages delivered to the durable consumer and not acknowledged yet.", nil, constLabels),
	}
}

func (l *consumerLag) Describe(ch chan<- *prometheus.Desc) {
	ch <- l.pending
	ch <- l.pendAck
}

func (l *consumerLag) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), lagQueryTimeout)
	defer cancel()
	cons, err := l.js.Consumer(ctx, l.stream, l.durable)
	if err != nil {
		// No sample rather than a wrong one: the scrape shows the series
		// missing while NATS does not answer.
		return
	}
	info := cons.CachedInfo()
	ch <- prometheus.MustNewConstMetric(l.pending, prometheus.GaugeValue, float64(info.NumPending))
	ch <- prometheus.MustNewConstMetric(l.pendAck, prometheus.GaugeValue, float64(info.NumAckPending))
}
