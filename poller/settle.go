package poller

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/txworker/txworker/metrics"
	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/queue"
)

var errMissingIDs = errors.New("commandId missing")

// apply carries a step out: re-schedule, or settle and acknowledge. A
// settle that fails (bus unavailable) re-schedules the message: the next
// poll finds the orchestration ended again and settles then.
func (p *Poller) apply(ctx context.Context, it *item, s step) {
	if !s.settle {
		p.nak(it, s.delay)
		return
	}
	err := p.settle(ctx, it, s.result)
	if err == nil {
		return
	}
	if ctx.Err() != nil {
		p.nak(it, handBackDelay)
		return
	}
	d := p.cfg.backoff(1, p.rand)
	p.m.Retry(metrics.StagePublish, d)
	p.log.Warn("settle deferred", it.fields(
		zap.String("outcome", s.result.Outcome), zap.Duration("delay", d), zap.Error(err))...)
	p.nak(it, d)
}

// settle records r as the command's terminal outcome unless one is recorded
// already (first writer wins), makes sure its event is published, and
// acknowledges the tracking message.
//
// The claim is rebuilt from the tracking message at the revision it was
// handed over at, so the usual settle reads nothing: Settle's
// compare-and-set fails only if the claim changed since (or expired), and
// then reads it.
func (p *Poller) settle(ctx context.Context, it *item, r queue.Result) error {
	cl := claimFromTrack(it.track)
	if cl.Revision == 0 { // a tracking message without the revision
		stored, err := p.claims.Get(ctx, it.track.CommandID)
		switch {
		case errors.Is(err, queue.ErrNotFound):
			// The worker writes the claim before the tracking message, so it
			// can only have expired; the event must still go out: Settle
			// creates it.
			p.log.Warn("claim missing: recreated from the tracking message", it.fields()...)
		case err != nil:
			return fmt.Errorf("load claim: %w", err)
		default:
			cl = stored
		}
	}
	if !cl.Published {
		stored, published, err := p.bus.Settle(ctx, p.cfg.Source, cl, r)
		if err != nil {
			return err
		}
		if published {
			received := stored.ReceivedAt
			if received.IsZero() {
				received = it.track.ReceivedAt
			}
			p.unindex(ctx, it.track.OrchestrationID)
			p.m.TerminalTraced(p.exemplar(it.track.Trace), it.track.Action, stored.Outcome, p.now().Sub(received))
			p.m.EventPublished(stored.Outcome)
			p.log.Info("command ended", it.fields(
				zap.String("outcome", stored.Outcome), zap.String("platform_status", stored.PlatformStatus),
				zap.String("failed_process_id", stored.FailedProcessID), zap.Int("polls", r.Polls))...)
		}
	}
	if !it.done.Swap(true) {
		if err := it.msg.Ack(); err != nil {
			// Redelivered later, it finds the claim published and is acknowledged then.
			p.log.Warn("acknowledge tracking message", it.fields(zap.Error(err))...)
		}
	}
	return nil
}

// claimFromTrack rebuilds an accepted claim from its tracking message, as
// stored at t.ClaimRevision.
func claimFromTrack(t queue.Track) *queue.Claim {
	return &queue.Claim{
		Revision:        t.ClaimRevision,
		StreamSeq:       t.StreamSeq,
		Lookups:         t.Lookups,
		CommandID:       t.CommandID,
		Action:          t.Action,
		Fingerprint:     t.Fingerprint,
		ProcessID:       t.ProcessID,
		Resource:        t.Resource,
		OrchestrationID: t.OrchestrationID,
		State:           queue.StateAccepted,
		Attempts:        t.Attempts,
		ReceivedAt:      t.ReceivedAt,
		AcceptedAt:      t.AcceptedAt,
		Deadline:        t.Deadline,
		Trace:           t.Trace,
	}
}

// nak re-schedules an unfinished item after d.
func (p *Poller) nak(it *item, d time.Duration) {
	if it.done.Swap(true) {
		return
	}
	if err := it.msg.NakWithDelay(d); err != nil {
		// Without it the message comes back after AckWait.
		p.log.Warn("re-schedule tracking message", it.fields(zap.Error(err))...)
	}
}

// fault handles a Transactions API error at stage metrics.StagePoll or
// metrics.StageDetail and reports whether the items should be polled again.
// After a transient fault for which the client holds the Transactions API (a
// Retry-After, or a 429 or 503: see platform.Corastone.Held) the poller waits
// that hold out and adds no pause of its own; after any other transient
// fault it pauses for the back-off. A permanent fault pauses it for
// MaxInterval on the poll (tracking is never dropped) and gives up the
// failing-step look-up on the detail. The poller's own pauses are capped at
// MaxPause (the client caps a Retry-After at its MaxRetryAfter). At
// shutdown (ctx ended) it only reports true: the caller hands back.
func (p *Poller) fault(ctx context.Context, stage string, err error, ids int) bool {
	if ctx.Err() != nil {
		return true
	}
	var pe *platform.Error
	isPE := errors.As(err, &pe)
	if isPE && pe.Verdict != platform.Transient {
		p.log.Error("transactions api refuses the poller", zap.String("stage", stage),
			zap.Int("http_status", pe.HTTPStatus), zap.String("code", pe.Code), zap.Int("ids", ids), zap.Error(err))
		if stage == metrics.StageDetail {
			return false
		}
		p.pauseFor(stage, p.cfg.MaxInterval, err)
		return true
	}
	if held, _ := p.plat.Held(platform.APITransactions); held > 0 {
		if p.gate.fail(err) == 1 {
			p.m.SetPaused(platform.PlatformCorastone, metrics.StagePoll, true)
		}
		p.m.Retry(stage, held)
		p.log.Warn("transactions api fault: held by the client's Retry-After", zap.String("stage", stage),
			zap.Int("ids", ids), zap.Duration("pause", held), zap.Error(err))
		return true
	}
	d := p.pauseFor(stage, p.cfg.backoff(p.gate.failuresNext(), p.rand), err)
	p.log.Warn("transactions api fault: poller paused", zap.String("stage", stage),
		zap.Int("ids", ids), zap.Duration("pause", d), zap.Error(err))
	return true
}

// pauseFor pauses the poller after err for d (at most MaxPause) with up to a
// quarter of it of jitter, so that replicas paused together do not resume
// in lock-step, and returns the pause, never above MaxPause.
func (p *Poller) pauseFor(stage string, d time.Duration, err error) time.Duration {
	d = min(d, p.cfg.MaxPause)
	if j := time.Duration(p.rand(int64(d/4) + 1)); d+j <= p.cfg.MaxPause {
		d += j
	} else {
		d -= j
	}
	if p.gate.pause(p.now(), d, err) == 1 {
		p.m.SetPaused(platform.PlatformCorastone, metrics.StagePoll, true)
	}
	p.m.Retry(stage, d)
	return d
}

// answered records a request the platform answered: a pause is over.
func (p *Poller) answered() {
	if p.gate.ok() {
		p.m.SetPaused(platform.PlatformCorastone, metrics.StagePoll, false)
		p.log.Info("transactions api answers again: poller resumed")
	}
}

// expire settles, timed_out and without a platform request, the items
// whose deadline has passed while the poller is paused (the pause would
// keep them past it), and returns the others. Not paused, an item past its
// deadline gets its last poll instead.
func (p *Poller) expire(ctx context.Context, items []*item, now time.Time) []*item {
	if p.pause(now) <= 0 {
		return items
	}
	rest := items[:0:0]
	for _, it := range items {
		if d := it.track.Deadline; d.IsZero() || now.Before(d) {
			rest = append(rest, it)
			continue
		}
		polls := it.polls
		if !it.polled {
			polls = max(polls-1, 0) // this delivery made no request
		}
		fault := it.lastFault
		if fault == nil {
			fault = p.lastFault()
		}
		p.log.Warn("deadline passed while the poller is paused", it.fields(zap.Error(fault))...)
		p.apply(ctx, it, step{settle: true, result: queue.Result{
			Outcome:   queue.OutcomeTimedOut,
			Error:     faultInfo(fault),
			SettledAt: now,
			Polls:     polls,
		}})
	}
	return rest
}

// faultInfo is the event error of a command that timed out after the
// platform fault err (nil: none).
func faultInfo(err error) *queue.ErrorInfo {
	if err == nil {
		return nil
	}
	var pe *platform.Error
	if !errors.As(err, &pe) {
		return &queue.ErrorInfo{Code: CodeNoAnswer, Message: clip("deadline passed after a Transactions API fault: "+err.Error(), maxMessage)}
	}
	code := pe.Code
	switch {
	case code != "":
	case pe.HTTPStatus != 0:
		code = fmt.Sprintf("HTTP_%d", pe.HTTPStatus)
	default:
		code = CodeNoAnswer
	}
	return &queue.ErrorInfo{Code: code, HTTPStatus: pe.HTTPStatus,
		Message: clip("deadline passed after a Transactions API fault: "+pe.Error(), maxMessage)}
}

// maxMessage bounds the error message of an event the poller builds.
const maxMessage = 1000

// clip cuts s to at most n bytes at a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// reschedule hands items back to the consumer until the pause (of length
// pause at now) is over, with jitter, but never past MaxInterval (another
// replica may reach the platform) nor past the item's deadline (its next
// delivery then ends it on time).
func (p *Poller) reschedule(items []*item, pause time.Duration, now time.Time) {
	for _, it := range items {
		d := min(pause+time.Duration(p.rand(int64(pause/2+p.cfg.Interval))), p.cfg.MaxInterval)
		if dl := it.track.Deadline; !dl.IsZero() {
			d = min(d, max(dl.Sub(now), minDelay))
		}
		p.nak(it, max(d, minDelay))
	}
}

// refuseInvalid ends the items whose orchestrationId the Transactions API
// cannot be asked about (platform.ValidID): failed with
// CodeInvalidOrchestrationID, so that they never enter a request (one such
// id would make the platform refuse the whole batch). It returns the others.
func (p *Poller) refuseInvalid(ctx context.Context, items []*item) []*item {
	rest := items[:0:0]
	for _, it := range items {
		err := platform.ValidID(it.track.OrchestrationID)
		if err == nil {
			rest = append(rest, it)
			continue
		}
		p.log.Error("orchestrationId cannot be tracked: command failed", it.fields(zap.Error(err))...)
		p.apply(ctx, it, step{settle: true, result: queue.Result{
			Outcome: queue.OutcomeFailed,
			Error: &queue.ErrorInfo{Code: CodeInvalidOrchestrationID,
				Message: "the platform's orchestrationId cannot be tracked: " + err.Error()},
			SettledAt: p.now(),
		}})
	}
	return rest
}
