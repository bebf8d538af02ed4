package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// settleAttempts bounds each compare-and-set loop of Settle. Only the
// replicas and the poller holding the same command contend, so a handful of
// rounds always suffices unless something is badly wrong.
const settleAttempts = 10

// Result is a terminal outcome to record. SettledAt is the orchestration's
// own end time when the platform gives one; zero means now. Polls, when
// larger than the claim's, replaces it. Problems and the raw command are
// for rejections.
type Result struct {
	Outcome                       string
	PlatformStatus                string
	FailedProcessID, FailedStatus string
	Error                         *ErrorInfo
	SettledAt                     time.Time
	Polls                         int
	Problems                      []string
	RawCommand, RawCommandBase64  string
}

// Settle records a terminal outcome for cl's command exactly once and
// publishes its event; it returns the stored claim, and published reports
// that this call stored the event (false: the stored claim was already
// Published, or the stream dropped the event as a duplicate of one stored
// before).
//
// It starts from cl (or reads the stored claim when cl.Revision is 0; when
// there is none, it creates cl with the outcome) and compare-and-sets the
// claim to StateTerminal with r. If the stored claim is already terminal, its
// outcome stays and r is ignored: the first writer wins. Then, unless the
// stored claim is Published, it publishes the event built from the stored
// claim (EventFromClaim, with the claim's trace headers) and marks it
// Published. A stored claim that is Published publishes nothing.
//
// Any error leaves the claim consistent; call Settle again (for example after
// redelivery, with any Result) to finish: a claim terminal but not Published
// gets its event then. An event published before a crash is published again
// with the same Nats-Msg-Id and dropped by the server within the duplicate
// window. cl is not modified.
func (b *Bus) Settle(ctx context.Context, source string, cl *Claim, r Result) (stored *Claim, published bool, err error) {
	if !Terminal(r.Outcome) {
		return nil, false, fmt.Errorf("settle: outcome %q is not terminal", r.Outcome)
	}
	if r.SettledAt.IsZero() {
		r.SettledAt = time.Now()
	}
	claims := b.Claims()
	cur, err := b.settleOutcome(ctx, claims, cl, r)
	if err != nil {
		return nil, false, fmt.Errorf("settle: %w", err)
	}
	if cur.Published {
		return cur, false, nil
	}
	ev := EventFromClaim(source, cur)
	dup, err := b.PublishEvent(ctx, ev, cur.Trace)
	if err != nil {
		return cur, false, fmt.Errorf("settle: %w", err)
	}
	if dup {
		b.logger.Info("terminal event already published", zap.String("command_id", cur.CommandID),
			zap.String("process_id", cur.ProcessID), zap.String("outcome", cur.Outcome))
	}
	cur, err = markPublished(ctx, claims, cur)
	if err != nil {
		return cur, !dup, fmt.Errorf("settle: %w", err)
	}
	return cur, !dup, nil
}

// settleOutcome makes the stored claim terminal, keeping an outcome already
// stored, and returns it.
func (b *Bus) settleOutcome(ctx context.Context, claims *Claims, cl *Claim, r Result) (*Claim, error) {
	var cur *Claim
	if cl.Revision != 0 {
		c := *cl
		cur = &c
	}
	for range settleAttempts {
		if cur == nil {
			stored, err := claims.Get(ctx, cl.CommandID)
			if errors.Is(err, ErrNotFound) {
				next := withResult(*cl, r)
				stored, _, err = claims.Create(ctx, &next)
			}
			if err != nil {
				return nil, err
			}
			cur = stored
		}
		if cur.State == StateTerminal {
			return cur, nil
		}
		next := withResult(*cur, r)
		err := claims.Update(ctx, &next)
		if err == nil {
			return &next, nil
		}
		if !errors.Is(err, ErrConflict) {
			return nil, err
		}
		cur = nil // re-read
	}
	return nil, fmt.Errorf("claim of %s kept changing", cl.CommandID)
}

// withResult returns c made terminal with r.
func withResult(c Claim, r Result) Claim {
	c.State = StateTerminal
	c.Outcome = r.Outcome
	c.PlatformStatus = r.PlatformStatus
	c.FailedProcessID, c.FailedStatus = r.FailedProcessID, r.FailedStatus
	c.Error = r.Error
	c.SettledAt = r.SettledAt.UTC()
	if r.Polls > c.Polls {
		c.Polls = r.Polls
	}
	c.Problems = r.Problems
	c.RawCommand, c.RawCommandBase64 = r.RawCommand, r.RawCommandBase64
	c.Published = false
	c.LeaseUntil = time.Time{}
	return c
}

// markPublished sets Published on the stored terminal claim.
func markPublished(ctx context.Context, claims *Claims, cur *Claim) (*Claim, error) {
	for range settleAttempts {
		if cur.Published {
			return cur, nil
		}
		next := *cur
		next.Published = true
		err := claims.Update(ctx, &next)
		if err == nil {
			return &next, nil
		}
		if !errors.Is(err, ErrConflict) {
			return cur, err
		}
		stored, err := claims.Get(ctx, cur.CommandID)
		if err != nil {
			return cur, err
		}
		if stored.State != StateTerminal || stored.Outcome != cur.Outcome {
			return cur, fmt.Errorf("claim of %s left outcome %s for %s %q after its event was published",
				cur.CommandID, cur.Outcome, stored.State, stored.Outcome)
		}
		cur = stored
	}
	return cur, fmt.Errorf("claim of %s kept changing", cur.CommandID)
}
