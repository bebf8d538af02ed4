package metrics_test

import (
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/txworker/txworker/metrics"
)

// families is every txworker_* family New must register, with its type.
var families = map[string]dto.MetricType{
	"txworker_commands_received_total":           dto.MetricType_COUNTER,
	"txworker_commands_rejected_total":           dto.MetricType_COUNTER,
	"txworker_commands_terminal_total":           dto.MetricType_COUNTER,
	"txworker_command_duration_seconds":          dto.MetricType_HISTOGRAM,
	"txworker_events_published_total":            dto.MetricType_COUNTER,
	"txworker_duplicates_dropped_total":          dto.MetricType_COUNTER,
	"txworker_internal_errors_total":             dto.MetricType_COUNTER,
	"txworker_platform_requests_total":           dto.MetricType_COUNTER,
	"txworker_platform_request_duration_seconds": dto.MetricType_HISTOGRAM,
	"txworker_platform_errors_total":             dto.MetricType_COUNTER,
	"txworker_platform_unrequested_total":        dto.MetricType_COUNTER,
	"txworker_token_fetches_total":               dto.MetricType_COUNTER,
	"txworker_retries_total":                     dto.MetricType_COUNTER,
	"txworker_backoff_seconds":                   dto.MetricType_HISTOGRAM,
	"txworker_platform_paused":                   dto.MetricType_GAUGE,
	"txworker_platform_held":                     dto.MetricType_GAUGE,
	"txworker_polls_total":                       dto.MetricType_COUNTER,
	"txworker_poll_batch_size":                   dto.MetricType_HISTOGRAM,
	"txworker_orchestrations_tracked":            dto.MetricType_GAUGE,
	"txworker_tracking_oldest_seconds":           dto.MetricType_GAUGE,
	"txworker_hint_lag_seconds":                  dto.MetricType_GAUGE,
	"txworker_commands_pending":                  dto.MetricType_GAUGE,
	"txworker_ready":                             dto.MetricType_GAUGE,
	"txworker_dependency_ready":                  dto.MetricType_GAUGE,
}

func newMetrics(t *testing.T) (*prometheus.Registry, *metrics.Metrics) {
	t.Helper()
	reg := metrics.NewRegistry()
	return reg, metrics.New(reg)
}

// exercise calls every recording method once.
func exercise(m *metrics.Metrics) {
	m.CommandReceived("cancel-offering")
	m.CommandRejected(metrics.ReasonInvalidParams)
	m.Terminal("cancel-offering", "succeeded", 3*time.Second)
	m.EventPublished("succeeded")
	m.DuplicateDropped(metrics.KindEvent)
	m.InternalError(metrics.FaultPanic)
	m.ObserveRequest("corastone", "cancel-offering", 200, 80*time.Millisecond)
	m.ObserveErrorCode("corastone", "IS0012")
	m.ObserveTokenFetch("corastone", true)
	m.Retry(metrics.StagePoll, 2*time.Second)
	m.SetPaused("jm", metrics.StageAction, true)
	m.ObserveHold("corastone", "transactions", true)
	m.Poll(12)
	m.SetTracked(12)
	m.SetOldestTracked(time.Minute)
	m.SetCommandsPending(4)
	m.SetReady(true)
	m.SetDependencyReady(metrics.ResourceCommandsStream, true)
}

func TestGatherAndLintFindsNothing(t *testing.T) {
	reg, m := newMetrics(t)
	for _, stage := range []string{"fresh", "after every method"} {
		problems, err := testutil.GatherAndLint(reg)
		if err != nil {
			t.Fatalf("%s: lint: %v", stage, err)
		}
		for _, p := range problems {
			t.Errorf("%s: %s: %s", stage, p.Metric, p.Text)
		}
		exercise(m)
	}
}

func TestNewRegistersEveryFamilyWithSeries(t *testing.T) {
	reg, _ := newMetrics(t)
	got := gather(t, reg)
	for name, typ := range families {
		mf, ok := got[name]
		if !ok {
			t.Errorf("%s: not registered or has no series", name)
			continue
		}
		if mf.GetType() != typ {
			t.Errorf("%s: type %v, want %v", name, mf.GetType(), typ)
		}
	}
	for name := range got {
		if _, listed := families[name]; strings.HasPrefix(name, "txworker_") && !listed {
			t.Errorf("%s: registered but not listed in this test", name)
		}
	}
	for _, prefix := range []string{"process_", "go_"} {
		found := false
		for name := range got {
			found = found || strings.HasPrefix(name, prefix)
		}
		if !found {
			t.Errorf("NewRegistry: no %s* metrics", prefix)
		}
	}
}

func TestKnownLabelValuesStartAtZero(t *testing.T) {
	reg, _ := newMetrics(t)
	series := []struct {
		name   string
		labels string
	}{
		{"txworker_commands_received_total", `action="unknown"`},
		{"txworker_commands_received_total", `action="reject-asset"`},
		{"txworker_commands_rejected_total", `reason="too_large"`},
		{"txworker_commands_rejected_total", `reason="invalid_envelope"`},
		{"txworker_commands_terminal_total", `action="remove-service-provider",outcome="timed_out"`},
		{"txworker_commands_terminal_total", `action="unknown",outcome="rejected"`},
		{"txworker_command_duration_seconds", `action="cancel-txn",outcome="succeeded"`},
		{"txworker_events_published_total", `outcome="accepted"`},
		{"txworker_duplicates_dropped_total", `kind="command"`},
		{"txworker_duplicates_dropped_total", `kind="different"`},
		{"txworker_events_published_total", `outcome="duplicate"`},
		{"txworker_internal_errors_total", `kind="panic"`},
		{"txworker_internal_errors_total", `kind="poison"`},
		{"txworker_platform_requests_total", `code="error",endpoint="orchestrations",platform="corastone"`},
		{"txworker_platform_requests_total", `code="error",endpoint="jm-query",platform="jm"`},
		{"txworker_platform_request_duration_seconds", `endpoint="token",platform="jm"`},
		{"txworker_platform_errors_total", `code="IS0012",platform="corastone"`},
		{"txworker_platform_errors_total", `code="OG0013",platform="corastone"`},
		{"txworker_platform_errors_total", `code="other",platform="corastone"`},
		{"txworker_platform_errors_total", `code="txnAlreadyFinished",platform="jm"`},
		{"txworker_platform_errors_total", `code="MALFORMED_RESPONSE",platform="jm"`},
		{"txworker_token_fetches_total", `platform="corastone",result="error"`},
		{"txworker_retries_total", `stage="detail"`},
		{"txworker_backoff_seconds", `stage="publish"`},
		{"txworker_platform_paused", `platform="jm",stage="action"`},
		{"txworker_platform_held", `api="actions",platform="corastone"`},
		{"txworker_platform_held", `api="transactions",platform="corastone"`},
		{"txworker_platform_held", `api="token",platform="corastone"`},
		{"txworker_platform_held", `api="sequencer",platform="corastone"`},
		{"txworker_platform_held", `api="txn",platform="jm"`},
		{"txworker_platform_held", `api="token",platform="jm"`},
		{"txworker_polls_total", ``},
		{"txworker_poll_batch_size", ``},
		{"txworker_ready", ``},
		{"txworker_dependency_ready", `resource="commands_stream"`},
		{"txworker_dependency_ready", `resource="events_stream"`},
		{"txworker_dependency_ready", `resource="tracking_stream"`},
		{"txworker_dependency_ready", `resource="commands_consumer"`},
		{"txworker_dependency_ready", `resource="tracking_consumer"`},
		{"txworker_dependency_ready", `resource="state_bucket"`},
	}
	for _, s := range series {
		v, ok := sample(t, reg, s.name, s.labels)
		if !ok {
			t.Errorf("%s{%s}: absent, want a zero series", s.name, s.labels)
		} else if v != 0 {
			t.Errorf("%s{%s} = %v, want 0", s.name, s.labels, v)
		}
	}
}

func TestRecordingUsesClosedLabelSets(t *testing.T) {
	tests := []struct {
		name   string
		record func(m *metrics.Metrics)
		metric string
		labels string
		want   float64 // counter/gauge value, or histogram sample count
	}{
		{"unknown action", func(m *metrics.Metrics) { m.CommandReceived("drop-table") }, "txworker_commands_received_total", `action="unknown"`, 1},
		{"unknown reason", func(m *metrics.Metrics) { m.CommandRejected("because") }, "txworker_commands_rejected_total", `reason="other"`, 1},
		{"terminal outcome", func(m *metrics.Metrics) { m.Terminal("reject-asset", "timed_out", 31*time.Minute) }, "txworker_commands_terminal_total", `action="reject-asset",outcome="timed_out"`, 1},
		{"terminal duration", func(m *metrics.Metrics) { m.Terminal("reject-asset", "timed_out", 31*time.Minute) }, "txworker_command_duration_seconds", `action="reject-asset",outcome="timed_out"`, 1},
		{"non-terminal outcome", func(m *metrics.Metrics) { m.Terminal("cancel-txn", "accepted", time.Second) }, "txworker_commands_terminal_total", `action="cancel-txn",outcome="other"`, 1},
		{"event outcome", func(m *metrics.Metrics) { m.EventPublished("accepted") }, "txworker_events_published_total", `outcome="accepted"`, 1},
		{"duplicate", func(m *metrics.Metrics) { m.DuplicateDropped(metrics.KindCommand) }, "txworker_duplicates_dropped_total", `kind="command"`, 1},
		{"different command", func(m *metrics.Metrics) { m.DuplicateDropped(metrics.KindDifferent) }, "txworker_duplicates_dropped_total", `kind="different"`, 1},
		{"duplicate event", func(m *metrics.Metrics) { m.EventPublished("duplicate") }, "txworker_events_published_total", `outcome="duplicate"`, 1},
		{"poison", func(m *metrics.Metrics) { m.InternalError(metrics.FaultPoison) }, "txworker_internal_errors_total", `kind="poison"`, 1},
		{"unknown fault", func(m *metrics.Metrics) { m.InternalError("gremlin") }, "txworker_internal_errors_total", `kind="other"`, 1},
		{"no answer", func(m *metrics.Metrics) { m.ObserveRequest("corastone", "orchestrations", 0, time.Second) }, "txworker_platform_requests_total", `code="error",endpoint="orchestrations",platform="corastone"`, 1},
		{"status code", func(m *metrics.Metrics) { m.ObserveRequest("jm", "cancel-txn", 429, time.Second) }, "txworker_platform_requests_total", `code="429",endpoint="cancel-txn",platform="jm"`, 1},
		{"unknown endpoint", func(m *metrics.Metrics) { m.ObserveRequest("corastone", "/external/v1/x", 200, time.Second) }, "txworker_platform_request_duration_seconds", `endpoint="other",platform="corastone"`, 1},
		{"documented code", func(m *metrics.Metrics) { m.ObserveErrorCode("corastone", "SP0005") }, "txworker_platform_errors_total", `code="SP0005",platform="corastone"`, 1},
		{"undocumented code", func(m *metrics.Metrics) { m.ObserveErrorCode("corastone", "ZZ9999") }, "txworker_platform_errors_total", `code="other",platform="corastone"`, 1},
		{"empty code", func(m *metrics.Metrics) { m.ObserveErrorCode("corastone", "") }, "txworker_platform_errors_total", `code="other",platform="corastone"`, 0},
		{"token refused", func(m *metrics.Metrics) { m.ObserveTokenFetch("jm", false) }, "txworker_token_fetches_total", `platform="jm",result="error"`, 1},
		{"retry", func(m *metrics.Metrics) { m.Retry(metrics.StageLookup, time.Second) }, "txworker_retries_total", `stage="lookup"`, 1},
		{"backoff", func(m *metrics.Metrics) { m.Retry(metrics.StageLookup, time.Second) }, "txworker_backoff_seconds", `stage="lookup"`, 1},
		{"unknown stage", func(m *metrics.Metrics) { m.Retry("nap", time.Second) }, "txworker_retries_total", `stage="other"`, 1},
		{"paused", func(m *metrics.Metrics) { m.SetPaused("corastone", "action", true) }, "txworker_platform_paused", `platform="corastone",stage="action"`, 1},
		{"resumed", func(m *metrics.Metrics) {
			m.SetPaused("corastone", "poll", true)
			m.SetPaused("corastone", "poll", false)
		}, "txworker_platform_paused", `platform="corastone",stage="poll"`, 0},
		{"held", func(m *metrics.Metrics) { m.ObserveHold("corastone", "transactions", true) }, "txworker_platform_held", `api="transactions",platform="corastone"`, 1},
		{"hold over", func(m *metrics.Metrics) {
			m.ObserveHold("jm", "txn", true)
			m.ObserveHold("jm", "txn", false)
		}, "txworker_platform_held", `api="txn",platform="jm"`, 0},
		{"api of another platform", func(m *metrics.Metrics) { m.ObserveHold("jm", "actions", true) }, "txworker_platform_held", `api="actions",platform="corastone"`, 0},
		{"polls", func(m *metrics.Metrics) { m.Poll(50); m.Poll(3) }, "txworker_polls_total", ``, 2},
		{"batch sizes", func(m *metrics.Metrics) { m.Poll(50); m.Poll(3) }, "txworker_poll_batch_size", ``, 2},
		{"tracked", func(m *metrics.Metrics) { m.SetTracked(7) }, "txworker_orchestrations_tracked", ``, 7},
		{"oldest", func(m *metrics.Metrics) { m.SetOldestTracked(90 * time.Second) }, "txworker_tracking_oldest_seconds", ``, 90},
		{"hint lag", func(m *metrics.Metrics) { m.SetHintLag(1500 * time.Millisecond) }, "txworker_hint_lag_seconds", ``, 1.5},
		{"pending", func(m *metrics.Metrics) { m.SetCommandsPending(3) }, "txworker_commands_pending", ``, 3},
		{"dependency found", func(m *metrics.Metrics) { m.SetDependencyReady(metrics.ResourceStateBucket, true) }, "txworker_dependency_ready", `resource="state_bucket"`, 1},
		{"dependency lost", func(m *metrics.Metrics) {
			m.SetDependencyReady(metrics.ResourceCommandsStream, true)
			m.SetDependencyReady(metrics.ResourceCommandsStream, false)
		}, "txworker_dependency_ready", `resource="commands_stream"`, 0},
		{"unknown dependency", func(m *metrics.Metrics) { m.SetDependencyReady("redis", true) }, "txworker_dependency_ready", `resource="other"`, 1},
		{"ready check passes", func(m *metrics.Metrics) { _ = m.ReadyCheck(func() error { return nil })() }, "txworker_ready", ``, 1},
		{"ready check fails", func(m *metrics.Metrics) {
			m.SetReady(true)
			_ = m.ReadyCheck(func() error { return errors.New("nats: not connected") })()
		}, "txworker_ready", ``, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, m := newMetrics(t)
			tt.record(m)
			got, ok := sample(t, reg, tt.metric, tt.labels)
			if !ok {
				t.Fatalf("%s{%s}: absent", tt.metric, tt.labels)
			}
			if got != tt.want {
				t.Errorf("%s{%s} = %v, want %v", tt.metric, tt.labels, got, tt.want)
			}
		})
	}
}

func TestCommandDurationBucketsReachThirtyMinutes(t *testing.T) {
	reg, m := newMetrics(t)
	m.Terminal("cancel-offering", "succeeded", 29*time.Minute)
	mf := gather(t, reg)["txworker_command_duration_seconds"]
	for _, s := range mf.GetMetric() {
		if labelString(s) != `action="cancel-offering",outcome="succeeded"` {
			continue
		}
		b := s.GetHistogram().GetBucket()
		top := b[len(b)-1]
		if top.GetUpperBound() != 1800 || top.GetCumulativeCount() != 1 {
			t.Errorf("highest bucket le=%v count=%d, want le=1800 count=1", top.GetUpperBound(), top.GetCumulativeCount())
		}
		return
	}
	t.Fatal("series not found")
}

func TestNilMetricsDiscards(t *testing.T) {
	var m *metrics.Metrics
	exercise(m) // must not panic
	if err := m.ReadyCheck(func() error { return errors.New("down") })(); err == nil {
		t.Error("ReadyCheck on nil Metrics lost the check's error")
	}
	if err := m.ReadyCheck(nil)(); err != nil {
		t.Errorf("nil check: %v", err)
	}
}

func TestNewWithoutRegisterer(t *testing.T) {
	exercise(metrics.New(nil)) // counts, exports nowhere
}

func TestNewTwiceOnOneRegistryPanics(t *testing.T) {
	reg := prometheus.NewRegistry()
	metrics.New(reg)
	defer func() {
		if recover() == nil {
			t.Error("second New on the same registry did not panic")
		}
	}()
	metrics.New(reg)
}

func gather(t *testing.T, g prometheus.Gatherer) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := make(map[string]*dto.MetricFamily, len(mfs))
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// sample returns the value of the series name{labels} (labels sorted by name,
// as `a="x",b="y"`): a counter's or gauge's value, a histogram's sample count.
func sample(t *testing.T, g prometheus.Gatherer, name, labels string) (float64, bool) {
	t.Helper()
	for _, s := range gather(t, g)[name].GetMetric() {
		if labelString(s) != labels {
			continue
		}
		switch {
		case s.Counter != nil:
			return s.GetCounter().GetValue(), true
		case s.Gauge != nil:
			return s.GetGauge().GetValue(), true
		case s.Histogram != nil:
			return float64(s.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

func labelString(s *dto.Metric) string {
	pairs := make([]string, 0, len(s.GetLabel()))
	for _, l := range s.GetLabel() {
		pairs = append(pairs, l.GetName()+`="`+l.GetValue()+`"`)
	}
	sort.Strings(pairs)
	return strings.Join(pairs, ",")
}
