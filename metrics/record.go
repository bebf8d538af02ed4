package metrics

import (
	"slices"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// CommandReceived counts a command taken from the bus. An action outside the
// five known actions is counted as [ActionUnknown].
func (m *Metrics) CommandReceived(action string) {
	if m == nil {
		return
	}
	m.received.WithLabelValues(m.actions.or(action, ActionUnknown)).Inc()
}

// CommandRejected counts a command refused as invalid. reason is one of the
// Reason* constants; anything else is counted as [Other].
func (m *Metrics) CommandRejected(reason string) {
	if m == nil {
		return
	}
	m.rejected.WithLabelValues(m.reasons.or(reason, Other)).Inc()
}

// Terminal records a command's terminal outcome (succeeded, failed, rejected,
// timed_out; anything else is counted as [Other]) and the time since it was
// received. A negative duration is recorded as 0.
func (m *Metrics) Terminal(action, outcome string, sinceReceived time.Duration) {
	if m == nil {
		return
	}
	m.TerminalTraced(trace.SpanContext{}, action, outcome, sinceReceived)
}

// EventPublished counts an event acknowledged by JetStream, by its outcome
// (accepted or a terminal outcome; anything else is counted as [Other]).
func (m *Metrics) EventPublished(outcome string) {
	if m == nil {
		return
	}
	m.published.WithLabelValues(m.eventOutcomes.or(outcome, Other)).Inc()
}

// DuplicateDropped counts a duplicate dropped; kind is [KindCommand],
// [KindEvent] or [KindDifferent] (anything else is counted as [Other]).
func (m *Metrics) DuplicateDropped(kind string) {
	if m == nil {
		return
	}
	m.duplicates.WithLabelValues(m.kinds.or(kind, Other)).Inc()
}

// Retry counts a retry at stage (one of the Stage* constants; anything else
// is counted as [Other]) and records the back-off waited before it.
func (m *Metrics) Retry(stage string, delay time.Duration) {
	if m == nil {
		return
	}
	s := m.stages.or(stage, Other)
	m.retries.WithLabelValues(s).Inc()
	m.backoff.WithLabelValues(s).Observe(seconds(delay))
}

// SetPaused sets txworker_platform_paused for platform and stage (StageAction
// for the worker's circuit breaker, StagePoll for the poller's pause) to 1
// while calls are paused, and back to 0.
func (m *Metrics) SetPaused(platform, stage string, paused bool) {
	if m == nil {
		return
	}
	if stage != StagePoll {
		stage = StageAction
	}
	m.paused.WithLabelValues(m.platforms.or(platform, Other), stage).Set(boolValue(paused))
}

// ObserveHold sets txworker_platform_held for platform and api to 1 while
// the platform client holds every request to that API after a Retry-After,
// and back to 0; an api not of platform is not recorded. It implements the
// platform client's HoldObserver.
func (m *Metrics) ObserveHold(platform, api string, held bool) {
	if m == nil || !slices.Contains(apisOf(platform), api) {
		return
	}
	m.held.WithLabelValues(platform, api).Set(boolValue(held))
}

// Poll counts one orchestration poll request carrying batchSize ids.
func (m *Metrics) Poll(batchSize int) {
	if m == nil {
		return
	}
	m.polls.Inc()
	m.pollBatch.Observe(float64(max(batchSize, 0)))
}

// SetTracked sets the number of orchestrations being tracked.
func (m *Metrics) SetTracked(n uint64) {
	if m == nil {
		return
	}
	m.tracked.Set(float64(n))
}

// SetOldestTracked sets the age of the oldest tracked orchestration seen by
// the last polls (0 when none is tracked).
func (m *Metrics) SetOldestTracked(age time.Duration) {
	if m == nil {
		return
	}
	m.oldest.Set(seconds(age))
}

// SetHintLag sets how far the Sequencer cursor is behind now (0: this
// replica does not tail it).
func (m *Metrics) SetHintLag(lag time.Duration) {
	if m == nil {
		return
	}
	m.hintLag.Set(seconds(max(lag, 0)))
}

// SetCommandsPending sets the number of commands waiting for the worker
// consumer (its lag).
func (m *Metrics) SetCommandsPending(n uint64) {
	if m == nil {
		return
	}
	m.pending.Set(float64(n))
}

// SetReady sets txworker_ready to 1 or 0. [Metrics.ReadyCheck] calls it with
// every result of the readiness check.
func (m *Metrics) SetReady(ready bool) {
	if m == nil {
		return
	}
	m.ready.Set(boolValue(ready))
}

// SetDependencyReady sets txworker_dependency_ready for resource (one of the
// Resource* constants; anything else is recorded as [Other]) to 1 when the
// last check found it, 0 when it is missing or its lookup failed. Every
// resource's series exists from [New] on, at 0 until the first check.
func (m *Metrics) SetDependencyReady(resource string, ready bool) {
	if m == nil {
		return
	}
	m.dependencyReady.WithLabelValues(m.resources.or(resource, Other)).Set(boolValue(ready))
}

// ReadyCheck wraps a readiness check so that each of its results also sets
// txworker_ready. Pass the result to [NewServer] as its ready function. A nil
// check always passes.
func (m *Metrics) ReadyCheck(check func() error) func() error {
	return func() error {
		var err error
		if check != nil {
			err = check()
		}
		m.SetReady(err == nil)
		return err
	}
}

func seconds(d time.Duration) float64 { return max(d, 0).Seconds() }

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// InternalError counts a fault inside the worker; kind is [FaultPanic] or
// [FaultPoison] (anything else is counted as [Other]).
func (m *Metrics) InternalError(kind string) {
	if m == nil {
		return
	}
	m.internalErrors.WithLabelValues(m.faults.or(kind, Other)).Inc()
}
