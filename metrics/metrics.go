package metrics

import (
	"regexp"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

const namespace = "txworker"

// Histogram buckets, in base units.

// commandDurationBuckets span received → terminal: sub-second rejections up to
// the 30-minute settle horizon.
func commandDurationBuckets() []float64 {
	return []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1200, 1800}
}

// requestDurationBuckets span one platform request; the default request timeout is 10s.
func requestDurationBuckets() []float64 {
	return []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}
}

// backoffBuckets span one back-off wait, including long Retry-After answers.
func backoffBuckets() []float64 {
	return []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}
}

// pollBatchBuckets count orchestration ids per poll request (at most 50).
func pollBatchBuckets() []float64 { return []float64{1, 2, 5, 10, 20, 30, 40, 50} }

// Metrics records everything txworker measures. Create it with [New]; its
// methods are safe for concurrent use, and a nil *Metrics discards everything.
type Metrics struct {
	received        *prometheus.CounterVec   // action
	rejected        *prometheus.CounterVec   // reason
	terminal        *prometheus.CounterVec   // action, outcome
	duration        *prometheus.HistogramVec // action, outcome
	published       *prometheus.CounterVec   // outcome
	duplicates      *prometheus.CounterVec   // kind
	internalErrors  *prometheus.CounterVec   // kind
	requests        *prometheus.CounterVec   // platform, endpoint, code
	requestDuration *prometheus.HistogramVec // platform, endpoint
	platformErrors  *prometheus.CounterVec   // platform, code
	unrequested     *prometheus.CounterVec   // platform, endpoint
	tokenFetches    *prometheus.CounterVec   // platform, result
	retries         *prometheus.CounterVec   // stage
	backoff         *prometheus.HistogramVec // stage
	paused          *prometheus.GaugeVec     // platform, stage
	held            *prometheus.GaugeVec     // platform, api
	polls           prometheus.Counter
	pollBatch       prometheus.Histogram
	tracked         prometheus.Gauge
	oldest          prometheus.Gauge
	hintLag         prometheus.Gauge
	pending         prometheus.Gauge
	ready           prometheus.Gauge
	dependencyReady *prometheus.GaugeVec // resource

	// the closed label sets, built once
	actions, outcomes, eventOutcomes, reasons, kinds, faults, stages, platforms, endpoints, codes, resources set
}

// NewRegistry returns a fresh registry holding the process and Go runtime
// collectors (process_*, go_*). Pass it to [New] and to [NewServer].
//
// Besides the Go collector's defaults it exports go_sched_latencies_seconds:
// how long goroutines waited, runnable, for a CPU. Its upper buckets fill
// when the worker is short of CPU (a CPU limit's throttling, a busy node), the
// cause of latency that no txworker_* metric shows. txworker load reads it.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(schedLatencies)),
	)
	return reg
}

// schedLatencies selects the runtime's /sched/latencies:seconds.
var schedLatencies = collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/sched/latencies:seconds$`)}

// New creates every txworker_* collector, registers it on reg and sets every
// known label combination to zero. A nil reg registers nothing: the metrics
// still count but are exported nowhere (handy in tests of other packages).
// New panics if reg already holds a txworker_* collector of the same name,
// which is a wiring mistake.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "commands_received_total",
			Help: "Commands received, by action (\"unknown\" for an unknown action).",
		}, []string{"action"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "commands_rejected_total",
			Help: "Commands rejected as invalid without any platform call, by reason.",
		}, []string{"reason"}),
		terminal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "commands_terminal_total",
			Help: "Commands that reached their terminal outcome, by action and outcome.",
		}, []string{"action", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "command_duration_seconds",
			Help:    "Time from a command's receipt to its terminal outcome, by action and outcome.",
			Buckets: commandDurationBuckets(),
		}, []string{"action", "outcome"}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "events_published_total",
			Help: "Events published to the bus and acknowledged by JetStream, by outcome.",
		}, []string{"outcome"}),
		duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "duplicates_dropped_total",
			Help: "Duplicate commands and events dropped, by kind.",
		}, []string{"kind"}),
		internalErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "internal_errors_total",
			Help: "Faults inside the worker, by kind: panic (a panic recovered while handling a delivery), poison (a command ended failed INTERNAL_ERROR).",
		}, []string{"kind"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "platform_requests_total",
			Help: "Platform HTTP requests, by platform, endpoint and HTTP status code (\"error\": no answer).",
		}, []string{"platform", "endpoint", "code"}),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "platform_request_duration_seconds",
			Help:    "Platform HTTP request latency, by platform and endpoint.",
			Buckets: requestDurationBuckets(),
		}, []string{"platform", "endpoint"}),
		platformErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "platform_errors_total",
			Help: "Platform error codes received, by platform and documented code (\"other\" for any other code).",
		}, []string{"platform", "code"}),
		unrequested: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "platform_unrequested_total",
			Help: "Elements of Transactions API answers naming ids that were not asked for (ignored; a page holding any ends the paging).",
		}, []string{"platform", "endpoint"}),
		tokenFetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "token_fetches_total",
			Help: "OAuth2 token fetches, by platform and result (ok, error).",
		}, []string{"platform", "result"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "retries_total",
			Help: "Retries after a transient fault, by stage.",
		}, []string{"stage"}),
		backoff: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "backoff_seconds",
			Help:    "Back-off waited before a retry, by stage.",
			Buckets: backoffBuckets(),
		}, []string{"stage"}),
		paused: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "platform_paused",
			Help: "1 while calls to a platform are paused after consecutive faults (stage action: the worker's breaker; poll: the poller's pause), else 0.",
		}, []string{"platform", "stage"}),
		held: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "platform_held",
			Help: "1 while this replica holds every request to a platform API after a Retry-After (or the back-off after a 429 or 503 without one), else 0; api: actions, transactions, token (corastone), txn, token (jm).",
		}, []string{"platform", "api"}),
		polls: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "polls_total",
			Help: "Orchestration status poll requests sent to the Transactions API.",
		}),
		pollBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "poll_batch_size",
			Help:    "Orchestration ids per poll request.",
			Buckets: pollBatchBuckets(),
		}),
		tracked: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "orchestrations_tracked",
			Help: "Orchestrations being tracked (the tracking consumer's pending and unacknowledged messages).",
		}),
		oldest: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "tracking_oldest_seconds",
			Help: "Age of the oldest tracked orchestration seen by the last polls.",
		}),
		hintLag: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "hint_lag_seconds",
			Help: "Tracking hints: how far the Sequencer cursor is behind now, on the replica tailing it (0 on the others); it grows while the tailer cannot read or falls behind.",
		}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "commands_pending",
			Help: "Commands waiting in the stream for the worker consumer.",
		}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "ready",
			Help: "1 if the last readiness check of this replica (its own loop's, every few seconds, or a /readyz request's) passed, else 0.",
		}),
		dependencyReady: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "dependency_ready",
			Help: "1 if the last check found the JetStream stream, consumer or bucket this replica needs, else 0 (missing or its lookup failed), by resource.",
		}, []string{"resource"}),

		actions:       newSet(actionValues()),
		outcomes:      newSet(terminalOutcomes()),
		eventOutcomes: newSet(eventOutcomes()),
		reasons:       newSet(reasonValues()),
		kinds:         newSet(kindValues()),
		faults:        newSet(faultValues()),
		stages:        newSet(stageValues()),
		platforms:     newSet(platformValues()),
		endpoints:     newSet(endpointValues()),
		codes:         newSet(errorCodeValues()),
		resources:     newSet(resourceValues()),
	}
	m.initialise()
	if reg != nil {
		reg.MustRegister(m.received, m.rejected, m.terminal, m.duration, m.published, m.duplicates, m.internalErrors,
			m.requests, m.requestDuration, m.platformErrors, m.unrequested, m.tokenFetches, m.retries, m.backoff,
			m.paused, m.held, m.polls, m.pollBatch, m.tracked, m.oldest, m.hintLag, m.pending, m.ready, m.dependencyReady)
	}
	return m
}

// initialise creates every known label combination at zero, so a series exists
// (and rate() is 0, not absent) before its first event.
func (m *Metrics) initialise() {
	for _, a := range actionValues() {
		m.received.WithLabelValues(a)
		for _, o := range terminalOutcomes() {
			m.terminal.WithLabelValues(a, o)
			m.duration.WithLabelValues(a, o)
		}
	}
	m.received.WithLabelValues(ActionUnknown)
	m.terminal.WithLabelValues(ActionUnknown, "rejected")
	m.duration.WithLabelValues(ActionUnknown, "rejected")
	for _, r := range reasonValues() {
		m.rejected.WithLabelValues(r)
	}
	for _, o := range eventOutcomes() {
		m.published.WithLabelValues(o)
	}
	for _, k := range kindValues() {
		m.duplicates.WithLabelValues(k)
	}
	for _, k := range faultValues() {
		m.internalErrors.WithLabelValues(k)
	}
	for _, p := range platformValues() {
		for _, e := range endpointsOf(p) {
			m.requestDuration.WithLabelValues(p, e)
			// "error" (no answer) is the one status known in advance; HTTP
			// status codes appear on first use.
			m.requests.WithLabelValues(p, e, CodeError)
		}
		for _, c := range errorCodesOf(p) {
			m.platformErrors.WithLabelValues(p, c)
		}
		m.platformErrors.WithLabelValues(p, Other)
		if p == "corastone" {
			m.unrequested.WithLabelValues(p, "orchestrations")
			m.unrequested.WithLabelValues(p, "transactions")
		}
		m.tokenFetches.WithLabelValues(p, "ok")
		m.tokenFetches.WithLabelValues(p, "error")
		m.paused.WithLabelValues(p, StageAction)
		m.paused.WithLabelValues(p, StagePoll)
		for _, a := range apisOf(p) {
			m.held.WithLabelValues(p, a)
		}
	}
	for _, s := range stageValues() {
		m.retries.WithLabelValues(s)
		m.backoff.WithLabelValues(s)
	}
	for _, r := range resourceValues() {
		m.dependencyReady.WithLabelValues(r)
	}
}
