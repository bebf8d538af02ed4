package metrics

import (
	"time"

	"go.opentelemetry.io/otel/trace"
)

// ObserveRequest records one platform HTTP request: its status code (status 0,
// or anything outside 100–599, is counted as [CodeError]: no answer) and its
// latency. platform is "corastone" or "jm" and endpoint one of the endpoint
// label values of the design (the five actions, orchestrations, transactions,
// token, jm-query); anything else is counted as [Other]. It implements the
// platform client's Observer.
func (m *Metrics) ObserveRequest(platform, endpoint string, status int, elapsed time.Duration) {
	if m == nil {
		return
	}
	m.ObserveRequestTraced(trace.SpanContext{}, platform, endpoint, status, elapsed)
}

// ObserveErrorCode counts an error code a platform answered with. A code
// outside the documented set (and MALFORMED_RESPONSE) is counted as [Other];
// an empty code (no code in the answer) is not counted, since the request's
// HTTP status is already in txworker_platform_requests_total.
func (m *Metrics) ObserveErrorCode(platform, code string) {
	if m == nil || code == "" {
		return
	}
	m.platformErrors.WithLabelValues(m.platforms.or(platform, Other), m.codes.or(code, Other)).Inc()
}

// ObserveTokenFetch counts an OAuth2 token fetch and its result ("ok" or "error").
func (m *Metrics) ObserveTokenFetch(platform string, ok bool) {
	if m == nil {
		return
	}
	result := "error"
	if ok {
		result = "ok"
	}
	m.tokenFetches.WithLabelValues(m.platforms.or(platform, Other), result).Inc()
}

// ObserveUnrequested counts n elements of a Transactions API answer naming
// ids that were not asked for. It implements the platform client's
// AnswerObserver.
func (m *Metrics) ObserveUnrequested(platform, endpoint string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.unrequested.WithLabelValues(m.platforms.or(platform, Other), m.endpoints.or(endpoint, Other)).Add(float64(n))
}
