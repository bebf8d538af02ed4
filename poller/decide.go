package poller

import (
	"fmt"
	"time"

	"github.com/txworker/txworker/internal/backoff"
	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/queue"
)

// Error codes of the terminal events the poller publishes for commands whose
// orchestration did not succeed.
const (
	// CodeOrchestrationFailed: the orchestration ended "failed".
	CodeOrchestrationFailed = "ORCHESTRATION_FAILED"
	// CodeOrchestrationDLQ: the orchestration ended "dlq".
	CodeOrchestrationDLQ = "ORCHESTRATION_DLQ"
	// CodeOrchestrationUnknown: the platform did not know the orchestration
	// it had returned for more than Config.UnknownLimit polls.
	CodeOrchestrationUnknown = "ORCHESTRATION_UNKNOWN"
	// CodeInvalidOrchestrationID: the orchestrationId the platform returned
	// for the action is not one the Transactions API can be asked about
	// (platform.ValidID); the command is never polled.
	CodeInvalidOrchestrationID = "INVALID_ORCHESTRATION_ID"
	// CodeMalformedResponse: the platform's answers about the orchestration
	// could not be read unreadableTries times in a row (the message holds
	// the element's first bytes).
	CodeMalformedResponse = platform.CodeMalformedResponse
	// CodeNoAnswer is the error code of a timed_out event whose last
	// Transactions API request got no HTTP answer.
	CodeNoAnswer = "NO_ANSWER"
)

// unreadableTries is how many answers in a row whose element for an
// orchestration cannot be read end its command (failed,
// CodeMalformedResponse). They are polled again Config.Interval apart
// while the message stays in hand.
const unreadableTries = 3

const (
	statusSuccess = "success"
	statusFailed  = "failed"
	statusDLQ     = "dlq"
	txTimedOut    = "timed_out"

	// minDelay is the shortest re-scheduling delay, used when the deadline
	// is (almost) due: the next delivery is the one last poll.
	minDelay = 10 * time.Millisecond
)

// step is what becomes of one tracking message after a poll.
type step struct {
	settle bool          // settle with result and acknowledge
	result queue.Result  // when settle
	detail bool          // failed/dlq: look up the failing step before settling
	delay  time.Duration // when !settle: NakWithDelay
}

// decide maps one poll's answer for a tracking message to a step. polls is
// the message's delivery count (the polls made for it, this one included);
// found reports whether the orchestration was in the answer.
func (p *Poller) decide(t queue.Track, polls int, o platform.Orchestration, found bool, now time.Time) step {
	if found && o.Terminal() {
		return step{settle: true, result: terminalResult(o, polls, now), detail: o.Status != statusSuccess}
	}
	lastStatus := ""
	if found {
		lastStatus = o.Status
	}
	if !t.Deadline.IsZero() && !now.Before(t.Deadline) {
		return step{settle: true, result: queue.Result{
			Outcome:        queue.OutcomeTimedOut,
			PlatformStatus: lastStatus,
			SettledAt:      now,
			Polls:          polls,
		}}
	}
	if !found && polls > p.cfg.UnknownLimit {
		return step{settle: true, result: queue.Result{
			Outcome: queue.OutcomeFailed,
			Error: &queue.ErrorInfo{
				Code: CodeOrchestrationUnknown,
				Message: fmt.Sprintf("the platform does not know orchestration %s: absent from %d polls",
					t.OrchestrationID, polls),
			},
			SettledAt: now,
			Polls:     polls,
		}}
	}
	return step{delay: p.nextDelay(now.Sub(t.AcceptedAt), t.Deadline, now)}
}

// unreadableStep is the step of an item whose answer could not be read
// unreadableTries times in a row (o.Unreadable is the last one): failed with
// CodeMalformedResponse and the element's first bytes; timed_out, with that
// fault, once its deadline has passed.
func unreadableStep(t queue.Track, polls int, o platform.Orchestration, now time.Time) step {
	e := o.Unreadable
	if !t.Deadline.IsZero() && !now.Before(t.Deadline) {
		return step{settle: true, result: queue.Result{Outcome: queue.OutcomeTimedOut, Error: faultInfo(e),
			SettledAt: now, Polls: polls}}
	}
	return step{settle: true, result: queue.Result{
		Outcome: queue.OutcomeFailed,
		Error: &queue.ErrorInfo{Code: CodeMalformedResponse, HTTPStatus: e.HTTPStatus,
			Message: clip(fmt.Sprintf("the platform's answer about orchestration %s could not be read %d times in a row: %s; element: %s",
				t.OrchestrationID, unreadableTries, e.Message, e.Body), maxMessage)},
		SettledAt: now,
		Polls:     polls,
	}}
}

// terminalResult is the result of an orchestration that has ended.
// settledAt is the orchestration's own timestamp when it has one.
func terminalResult(o platform.Orchestration, polls int, now time.Time) queue.Result {
	r := queue.Result{PlatformStatus: o.Status, SettledAt: now, Polls: polls}
	if !o.Timestamp.IsZero() {
		r.SettledAt = o.Timestamp.Time
	}
	switch o.Status {
	case statusSuccess:
		r.Outcome = queue.OutcomeSucceeded
	case statusDLQ:
		r.Outcome = queue.OutcomeFailed
		r.Error = &queue.ErrorInfo{Code: CodeOrchestrationDLQ,
			Message: fmt.Sprintf("orchestration %s ended dlq", o.OrchestrationID)}
	default:
		r.Outcome = queue.OutcomeFailed
		r.Error = &queue.ErrorInfo{Code: CodeOrchestrationFailed,
			Message: fmt.Sprintf("orchestration %s ended %s", o.OrchestrationID, o.Status)}
	}
	return r
}

// withFailedStep adds the failing step found among txs to a failed result.
func withFailedStep(r queue.Result, o platform.Orchestration, txs []platform.Transaction) queue.Result {
	pid, status := failedStep(o, txs)
	if pid == "" {
		return r
	}
	r.FailedProcessID, r.FailedStatus = pid, status
	if r.Error != nil {
		e := *r.Error
		e.Message = fmt.Sprintf("%s at step %s (%s)", e.Message, pid, status)
		r.Error = &e
	}
	return r
}

// failedStep returns the step that made o fail: the first failed (or timed
// out) transaction in the orchestration's processIds order — later steps are
// marked failed automatically — else the first such transaction of o in
// answer order. It returns "" when txs name none.
func failedStep(o platform.Orchestration, txs []platform.Transaction) (processID, status string) {
	bad := func(tx platform.Transaction) bool {
		return tx.OrchestrationID == o.OrchestrationID && (tx.Status == statusFailed || tx.Status == txTimedOut)
	}
	for _, pid := range o.ProcessIDs {
		for _, tx := range txs {
			if tx.ProcessID == pid && bad(tx) {
				return tx.ProcessID, tx.Status
			}
		}
	}
	for _, tx := range txs {
		if bad(tx) {
			return tx.ProcessID, tx.Status
		}
	}
	return "", ""
}

// nextDelay is the wait before the next poll of an orchestration of this
// age, never past the deadline (the delivery after it is the last poll).
//
// The due time is rounded to the nearest dueTick of the clock. Every
// NakWithDelay'd message stays on the tracking consumer's pending list, and
// the server walks that whole list each time the earliest due message comes
// due (nats-server (*consumer).checkPending): with due times spread
// continuously that is a walk of every tracked orchestration every few
// milliseconds. Rounded, the messages come due together at most 1/dueTick
// times a second; the mean wait does not change and no wait grows by more
// than dueTick/2.
func (p *Poller) nextDelay(age time.Duration, deadline, now time.Time) time.Duration {
	d := p.cfg.pollDelay(age, p.rand)
	if !deadline.IsZero() {
		if rem := deadline.Sub(now); d > rem {
			return max(rem, minDelay)
		}
	}
	if p.cfg.Naive {
		return d
	}
	if r := now.Add(d).Round(dueTick).Sub(now); r >= minDelay {
		d = r
	}
	return d
}

// dueTick is the granularity of the tracking messages' due times.
const dueTick = 100 * time.Millisecond

// pollDelay is Interval while the orchestration is younger than
// BackoffAfter, then doubled for every further BackoffAfter of its age, up
// to MaxInterval; with a fifth of it random (80 to 100 %), so that
// orchestrations accepted together drift apart. The longest wait is what
// bounds the detection delay; the shortest what a poll costs: a narrow
// jitter keeps the mean near the longest. Naive mode: Interval, no jitter.
func (c Config) pollDelay(age time.Duration, rand func(int64) int64) time.Duration {
	if c.Naive {
		return c.Interval
	}
	if c.Hints {
		d := hintsBackstopFactor * c.MaxInterval
		return d - d/5 + time.Duration(rand(int64(d/5)+1))
	}
	n := 1
	if age > 0 && c.BackoffAfter > 0 {
		n += min(int(age/c.BackoffAfter), 16)
	}
	d := c.doubled(n)
	return d - d/5 + time.Duration(rand(int64(d/5)+1))
}

// doubled is Interval doubled per step after the first (n ≥ 1), up to
// MaxInterval.
func (c Config) doubled(n int) time.Duration {
	return backoff.Policy{Base: c.Interval, Max: c.MaxInterval}.Step(n)
}

// backoff is the retry wait after faults: Interval doubled per attempt
// (n ≥ 1) up to MaxInterval, with equal jitter (half fixed, half random) so
// that retries spread out; rand is uniform in [0, n). Naive mode: Interval,
// no jitter.
func (c Config) backoff(n int, rand func(int64) int64) time.Duration {
	if c.Naive {
		return c.Interval
	}
	return backoff.Policy{Base: c.Interval, Max: c.MaxInterval, Floor: 2, Rand: rand}.Delay(n)
}
