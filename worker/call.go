package worker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/queue"
)

// call sends the command's action at most once per claim: a claim left in
// state "calling" is first looked up on the platform.
func (h *handling) call(ctx context.Context, cl *queue.Claim) {
	w, p := h.w, h.p
	if h.fresh {
		// This delivery created the claim in state calling (its deadline
		// ahead, the platform not paused): the processId is stored, send.
		h.send(ctx, cl)
		return
	}
	now := w.now()
	// No action is sent after the deadline (SPEC §3). Only a tracked action
	// whose last call may have reached the platform is looked up first.
	lookUp := cl.State == queue.StateCalling && p.action.Tracked
	if now.After(cl.Deadline) && !lookUp {
		h.timedOut(ctx, cl)
		return
	}
	if wait := w.breaker.wait(p.action.Platform); wait > 0 {
		d := wait + rand.N(wait/4+1)
		if left := cl.Deadline.Sub(now); left < d {
			d = max(left, 0) + 10*time.Millisecond // the deadline comes first: end it then
		}
		h.nak(d)
		return
	}
	if cl.State == queue.StateCalling && now.Before(cl.LeaseUntil) && cl.Owner != h.token {
		h.nak(cl.LeaseUntil.Sub(now) + 100*time.Millisecond) // another delivery is mid-call
		return
	}
	if lookUp {
		if done := h.lookup(ctx, cl); done {
			return
		}
		if now = w.now(); now.After(cl.Deadline) {
			h.timedOut(ctx, cl) // the platform never saw it; too late to send
			return
		}
	}
	cl.State = queue.StateCalling
	cl.Attempts++
	cl.Owner = h.token
	cl.LeaseUntil = now.Add(w.cfg.CallTimeout + 5*time.Second)
	if err := w.claims.Update(ctx, cl); err != nil {
		h.conflictOr(ctx, "record calling", err)
		return
	}
	h.send(ctx, cl)
}

// send makes the platform call of a claim this delivery recorded as calling.
func (h *handling) send(ctx context.Context, cl *queue.Claim) {
	w, p := h.w, h.p
	// The call never outlives the deadline; one cut short by it is looked up
	// (tracked actions) before anything else happens.
	callCtx, cancel := context.WithTimeout(ctx, min(w.cfg.CallTimeout, max(cl.Deadline.Sub(w.now()), time.Millisecond)))
	stop := h.keepAlive()
	var (
		acc    platform.Accepted
		status string
		err    error
	)
	if p.action.Tracked {
		acc, err = w.cs.Execute(callCtx, p.request, cl.ProcessID)
	} else {
		status, err = w.jm.Cancel(callCtx, p.request)
	}
	stop()
	cancel()
	if err != nil {
		h.failed(ctx, cl, err, status)
		return
	}
	w.breaker.success(p.action.Platform)
	if !p.action.Tracked {
		h.settle(ctx, cl, queue.Result{Outcome: "succeeded", PlatformStatus: status})
		return
	}
	orch := acc.OrchestrationID
	if orch == "" {
		orch = cl.ProcessID
	}
	h.accepted(ctx, cl, orch)
}

// lookup resolves a claim whose previous call may have reached the
// platform. It reports whether the handling is over (accepted, or
// re-scheduled after a fault); false means the platform never saw the
// processId and the action may be sent.
func (h *handling) lookup(ctx context.Context, cl *queue.Claim) bool {
	w := h.w
	cl.Lookups++
	lctx, cancel := context.WithTimeout(ctx, w.cfg.CallTimeout)
	// A look-up may take CallTimeout, or wait out a Retry-After: keep the
	// message ours meanwhile, as a call does.
	stop := h.keepAlive()
	orch, found, err := w.cs.FindProcess(lctx, cl.ProcessID)
	stop()
	cancel()
	if err != nil {
		// A look-up fault is a platform fault too: without this, a platform
		// that is down would be asked again and again by every command in
		// state "calling" and the pause would never open. One the client
		// held (a Retry-After of the Transactions API) asked nothing.
		var pe *platform.Error
		if errors.Is(err, platform.ErrHeld) {
			// Held by the client (a Retry-After of the Transactions API):
			// nothing was asked, so it is no look-up of the budget.
			cl.Lookups--
			h.retry(ctx, cl, "lookup", err)
			return true
		}
		if !errors.As(err, &pe) || pe.Verdict == platform.Transient {
			w.breaker.failure(h.p.action.Platform)
		}
		if cl.Lookups >= w.cfg.MaxAttempts {
			h.giveUp(ctx, cl, err)
			return true
		}
		h.retry(ctx, cl, "lookup", err)
		return true
	}
	w.breaker.success(h.p.action.Platform)
	h.log.Info("looked up an unfinished call", zap.Bool("found", found), zap.String("orchestration_id", orch))
	if found {
		h.accepted(ctx, cl, orch)
		return true
	}
	return false
}

// accepted records the orchestration and hands the command to tracking.
func (h *handling) accepted(ctx context.Context, cl *queue.Claim, orchestrationID string) {
	cl.State = queue.StateAccepted
	cl.OrchestrationID = orchestrationID
	cl.AcceptedAt = h.w.now().UTC()
	cl.Error = nil
	if err := h.w.claims.Update(ctx, cl); err != nil {
		h.conflictOr(ctx, "record accepted", err)
		return
	}
	h.hand(ctx, cl)
}

// failed classifies a platform error: permanent → failed at once;
// transient → retried within the budget.
func (h *handling) failed(ctx context.Context, cl *queue.Claim, err error, platformStatus string) {
	w := h.w
	var pe *platform.Error
	if !errors.As(err, &pe) || pe.Verdict == platform.Transient {
		if errors.Is(err, platform.ErrHeld) {
			// Held by the client (a Retry-After or a 429/503 back-off of
			// that API): nothing was sent, so it is no attempt of the
			// budget and no fault of the platform; it comes back when the
			// hold is over (retry honours its RetryAfter), and a deadline
			// inside the hold still ends it on time.
			cl.Attempts--
			cl.LeaseUntil = time.Time{}
			h.retry(ctx, cl, "action", err)
			return
		}
		w.breaker.failure(h.p.action.Platform)
		budget := w.cfg.MaxAttempts
		if pe != nil && pe.HTTPStatus == 500 {
			budget = w.cfg.Max500Attempts
		}
		if cl.Attempts >= budget {
			h.giveUp(ctx, cl, err)
			return
		}
		if pe != nil && (pe.HTTPStatus == 429 || pe.HTTPStatus == 503) {
			// The platform said it did not take the request, so the next
			// delivery need not wait out the lease (which would override
			// the back-off and Retry-After with a fixed CallTimeout+5s).
			// Keep the lease for every other fault (timeout, dropped
			// connection, 500, 502, 504, malformed answer): the request may
			// still be in flight and take effect after we gave up, and a
			// look-up made at once would miss it and send the action a
			// second time (the chaos soak caught exactly that).
			cl.LeaseUntil = time.Time{}
		}
		h.retry(ctx, cl, "action", err)
		return
	}
	w.breaker.success(h.p.action.Platform) // the platform answered
	h.log.Info("platform refused the action", zap.String("code", pe.Code), zap.Int("http_status", pe.HTTPStatus))
	h.settle(ctx, cl, queue.Result{Outcome: "failed", PlatformStatus: platformStatus, Error: errorInfo(pe)})
}

// giveUp ends a command whose retry budget ran out. For a tracked action a
// last look-up first makes sure the platform did not take it after all.
func (h *handling) giveUp(ctx context.Context, cl *queue.Claim, last error) {
	if h.p.action.Tracked && cl.State == queue.StateCalling {
		lctx, cancel := context.WithTimeout(ctx, h.w.cfg.CallTimeout)
		orch, found, err := h.w.cs.FindProcess(lctx, cl.ProcessID)
		cancel()
		if err == nil && found {
			h.accepted(ctx, cl, orch)
			return
		}
	}
	info := &queue.ErrorInfo{Code: CodeRetriesExhausted}
	var pe *platform.Error
	if errors.As(last, &pe) {
		info.HTTPStatus = pe.HTTPStatus
		if pe.Code != "" {
			info.Code = pe.Code
		}
	}
	info.Message = fmt.Sprintf("gave up after %d attempts and %d look-ups: %s", cl.Attempts, cl.Lookups, clip(last.Error(), 300))
	h.log.Warn("retry budget exhausted", zap.Int("attempts", cl.Attempts), zap.Error(last))
	h.settle(ctx, cl, queue.Result{Outcome: "failed", Error: info})
}

// retry records the last error and re-schedules the message with
// exponential back-off and full jitter, honouring Retry-After.
func (h *handling) retry(ctx context.Context, cl *queue.Claim, stage string, err error) {
	w := h.w
	d := retryDelay(cl.Attempts+cl.Lookups, w.cfg.RetryBase, w.cfg.RetryMax)
	var pe *platform.Error
	if errors.As(err, &pe) {
		cl.Error = errorInfo(pe)
		d = max(d, pe.RetryAfter)
	} else {
		cl.Error = &queue.ErrorInfo{Message: clip(err.Error(), 300)}
	}
	if now := w.now(); now.Add(d).After(cl.Deadline) {
		// The next try would come after the deadline (SPEC §3). A call that
		// may still be in flight is looked up once its lease is over, and the
		// command ends then unless the platform took it.
		if !(h.p.action.Tracked && cl.State == queue.StateCalling && now.Before(cl.LeaseUntil)) {
			h.timedOut(ctx, cl)
			return
		}
		d = cl.LeaseUntil.Sub(now) + 100*time.Millisecond
	}
	if uerr := w.claims.Update(ctx, cl); uerr != nil && !errors.Is(uerr, queue.ErrConflict) {
		h.log.Warn("record retry", zap.Error(uerr))
	}
	w.m.Retry(stage, d)
	h.log.Warn("transient platform fault; will retry", zap.String("stage", stage),
		zap.Int("attempts", cl.Attempts), zap.Duration("delay", d), zap.Error(err))
	h.nak(d)
}

// conflictOr re-schedules quickly after a lost compare-and-set (another
// delivery moved the claim on) or after a bus fault.
func (h *handling) conflictOr(ctx context.Context, what string, err error) {
	if errors.Is(err, queue.ErrConflict) {
		h.log.Info("claim changed under us; re-reading", zap.String("step", what))
		h.nak(50 * time.Millisecond)
		return
	}
	h.retryLater(ctx, what, err)
}

// timedOut ends a command whose deadline passed before its action could be
// sent (again), with the last fault when there was one.
func (h *handling) timedOut(ctx context.Context, cl *queue.Claim) {
	info := &queue.ErrorInfo{Code: CodeDeadlineExceeded,
		Message: "the deadline passed before the action was sent; nothing was sent"}
	if cl.Attempts > 0 {
		info.Message = fmt.Sprintf("the deadline passed before the action could be sent again (%d attempts, %d look-ups)",
			cl.Attempts, cl.Lookups)
	}
	// The last fault, also when it sent nothing (a request the client held
	// after a Retry-After of its API).
	if last := cl.Error; last != nil {
		if last.Code != "" {
			info.Code = last.Code
		}
		info.HTTPStatus = last.HTTPStatus
		info.Message = clip(info.Message+"; last fault: "+last.Message, 500)
	}
	h.log.Info("deadline passed; not sending", zap.Int("attempts", cl.Attempts), zap.Time("deadline", cl.Deadline))
	h.settle(ctx, cl, queue.Result{Outcome: "timed_out", Error: info})
}

// keepAlive tells the server the message is in progress while a platform
// call runs, so that it is not redelivered to another replica meanwhile.
func (h *handling) keepAlive() (stop func()) {
	every := h.w.cfg.KeepAlive
	return queue.KeepAlive(func() time.Duration { return every }, func() { _ = h.msg.InProgress() })
}

func errorInfo(pe *platform.Error) *queue.ErrorInfo {
	code := pe.Code
	if code == "" && pe.HTTPStatus != 0 {
		code = fmt.Sprintf("HTTP_%d", pe.HTTPStatus)
	}
	return &queue.ErrorInfo{Code: code, Message: clip(pe.Message, 500), HTTPStatus: pe.HTTPStatus}
}

func joinProblems(problems []string) string {
	return clip(strings.Join(problems, "; "), 2000)
}

func newProcessID() string { return uuid.NewString() }
