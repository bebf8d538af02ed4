package poller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/txworker/txworker/metrics"
	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/queue"
)

var errMissingIDs = errors.New("commandId or orchestrationId missing")

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
		stored, err := p.bus.Claims().Get(ctx, it.track.CommandID)
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
			p.m.Terminal(it.track.Action, stored.Outcome, p.now().Sub(received))
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
// A transient fault pauses the whole poller for its Retry-After (else the
// back-off); a permanent one pauses it for MaxInterval on the poll (tracking
// is never dropped) and gives up the failing-step look-up on the detail. At
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
		p.pauseFor(stage, p.cfg.MaxInterval)
		return true
	}
	var d time.Duration
	if isPE {
		d = pe.RetryAfter
	}
	if d <= 0 {
		d = p.cfg.backoff(p.gate.failuresNext(), p.rand)
	}
	d = p.pauseFor(stage, d)
	p.log.Warn("transactions api fault: poller paused", zap.String("stage", stage),
		zap.Int("ids", ids), zap.Duration("pause", d), zap.Error(err))
	return true
}

// pauseFor pauses the poller for d plus up to a quarter of d of jitter, so
// that replicas paused together do not resume in lock-step, and returns the
// pause.
func (p *Poller) pauseFor(stage string, d time.Duration) time.Duration {
	d += time.Duration(p.rand(int64(d/4) + 1))
	if p.gate.pause(p.now(), d) == 1 {
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
