package worker

import (
	"context"
	"encoding/base64"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/txworker/txworker/internal/backoff"
	"github.com/txworker/txworker/queue"
)

// handling is one delivery of one command message.
type handling struct {
	w     *Worker
	msg   jetstream.Msg
	meta  *jetstream.MsgMetadata
	p     *parsed
	log   *zap.Logger
	token string      // lease owner for this delivery
	fresh bool        // this delivery created the claim in state calling: send at once
	fp    string      // the command's fingerprint, once computed
	trace queue.Trace // the command's trace context (claims and events carry it)
}

// start claims a valid command and moves it on from wherever its claim is.
func (h *handling) start(ctx context.Context) {
	w, p := h.w, h.p
	processID := p.processID
	if processID != "" {
		// One processId, one command (SPEC §3): to the platform a second
		// command's call would be the first one's process.
		owner, err := w.claims.ReserveProcessID(ctx, processID, p.commandID)
		if err != nil {
			h.retryLater(ctx, "reserve processId", err)
			return
		}
		if owner != p.commandID {
			h.processIDInUse(ctx, owner)
			return
		}
	} else {
		processID = newProcessID()
	}
	deadline := p.deadline
	if deadline.IsZero() {
		deadline = h.meta.Timestamp.Add(w.cfg.SettleTimeout)
	}
	cl := &queue.Claim{
		CommandID:   p.commandID,
		Action:      p.action.Name,
		Fingerprint: h.fingerprint(),
		ProcessID:   processID,
		Resource:    p.request.Resource,
		State:       queue.StateReceived,
		StreamSeq:   h.meta.Sequence.Stream,
		ReceivedAt:  h.meta.Timestamp.UTC(),
		Deadline:    deadline.UTC(),
		Trace:       h.trace,
	}
	// A new command is claimed directly in state calling: the processId is
	// stored before the first call, in one write.
	now := w.now()
	if !now.After(cl.Deadline) && w.breaker.wait(p.action.Platform) <= 0 {
		cl.State = queue.StateCalling
		cl.Attempts = 1
		cl.Owner = h.token
		cl.LeaseUntil = now.Add(w.cfg.CallTimeout + 5*time.Second)
	}
	stored, created, err := w.claims.Create(ctx, cl)
	if err != nil {
		h.retryLater(ctx, "claim", err)
		return
	}
	h.log = h.log.WithLazy(zap.String("process_id", stored.ProcessID))
	h.fresh = created && stored.State == queue.StateCalling
	if !created && h.duplicate(ctx, stored) {
		return
	}
	h.advance(ctx, stored)
}

// fingerprint is the command's fingerprint (SPEC §3), computed once.
func (h *handling) fingerprint() string {
	if h.fp == "" {
		_, token := actionToken(h.w.bus.Prefix(), h.msg.Subject())
		h.fp = fingerprint(token, h.msg.Data(), h.p.envelope)
	}
	return h.fp
}

// advance moves a claim on from its stored state.
func (h *handling) advance(ctx context.Context, cl *queue.Claim) {
	switch cl.State {
	case queue.StateTerminal:
		if !cl.Published {
			if _, _, err := h.w.bus.Settle(ctx, h.w.cfg.Source, cl, resultOf(cl)); err != nil {
				h.retryLater(ctx, "settle", err)
				return
			}
		}
		h.term("terminal event published")
	case queue.StateAccepted:
		h.hand(ctx, cl)
	default:
		h.call(ctx, cl)
	}
}

// settle records a terminal outcome and publishes its event exactly once;
// it reports whether this call published it.
func (h *handling) settle(ctx context.Context, cl *queue.Claim, r queue.Result) bool {
	w := h.w
	if r.SettledAt.IsZero() {
		r.SettledAt = w.now().UTC()
	}
	stored, published, err := w.bus.Settle(ctx, w.cfg.Source, cl, r)
	if err != nil {
		h.retryLater(ctx, "settle", err)
		return false
	}
	if published {
		w.m.TerminalTraced(w.exemplar(stored.Trace), stored.Action, stored.Outcome, stored.SettledAt.Sub(stored.ReceivedAt))
		w.m.EventPublished(stored.Outcome)
		h.log.Info("command settled", zap.String("outcome", stored.Outcome),
			zap.String("orchestration_id", stored.OrchestrationID), zap.Int("attempts", stored.Attempts))
	}
	h.term("terminal event published")
	return published
}

// hand publishes "accepted" and the tracking message, then lets go of the
// command message: tracking owns the command from here.
func (h *handling) hand(ctx context.Context, cl *queue.Claim) {
	w := h.w
	h.log = h.log.WithLazy(zap.String("orchestration_id", cl.OrchestrationID))
	// Both messages carry a Nats-Msg-Id, so a redelivery that sends them
	// again is dropped by the stream: no "handed" write is needed. The event
	// goes first, so that "accepted" is always stored before the terminal
	// event the poller may publish.
	ev := queue.NewEvent(w.cfg.Source, cl.Resource, eventData(cl, "accepted"), w.now().UTC())
	dup, err := w.bus.PublishEvent(ctx, ev, cl.Trace)
	if err != nil {
		h.retryLater(ctx, "publish accepted", err)
		return
	}
	if !dup {
		w.m.EventPublished("accepted")
	}
	h.indexForHints(ctx, cl)
	err = w.bus.PublishTrack(ctx, queue.Track{
		CommandID: cl.CommandID, Action: cl.Action, Fingerprint: cl.Fingerprint, ProcessID: cl.ProcessID,
		OrchestrationID: cl.OrchestrationID, Resource: cl.Resource,
		ReceivedAt: cl.ReceivedAt, AcceptedAt: cl.AcceptedAt, Deadline: cl.Deadline,
		Attempts: cl.Attempts, Lookups: cl.Lookups, StreamSeq: cl.StreamSeq, Trace: cl.Trace,
		ClaimRevision: cl.Revision,
	})
	if err != nil {
		h.retryLater(ctx, "publish tracking", err)
		return
	}
	h.log.Info("command accepted")
	h.ack()
}

// reject settles an invalid command as "rejected", naming every problem
// and keeping the first 4 KiB of the raw command. Its claim and event carry
// only checked tokens: the action token, or "unknown" with the command's
// subject in commandSubject (SPEC §4). The rejection is counted once per
// command, when its event is first published.
func (h *handling) reject(ctx context.Context, in input) {
	w, p := h.w, h.p
	cl := &queue.Claim{
		CommandID:   p.commandID,
		Action:      in.action,
		Fingerprint: h.fingerprint(),
		ProcessID:   p.processID,
		State:       queue.StateReceived,
		StreamSeq:   h.meta.Sequence.Stream,
		ReceivedAt:  storable(h.meta.Timestamp),
		Trace:       h.trace,
	}
	if in.action == queue.ActionUnknown {
		cl.CommandSubject = commandSubject(in.subject)
	}
	if p.request != nil {
		cl.Resource = p.request.Resource
	}
	stored, ok := h.claimForRejection(ctx, cl)
	if !ok {
		return
	}
	raw := h.msg.Data()
	if len(raw) > rawKeep {
		raw = raw[:rawKeep]
		// Do not let the cut split the last character of a UTF-8 text.
		for i := 0; i < utf8.UTFMax && len(raw) > 0 && !utf8.Valid(raw); i++ {
			raw = raw[:len(raw)-1]
		}
		if !utf8.Valid(raw) {
			raw = h.msg.Data()[:rawKeep]
		}
	}
	settled, published, err := w.bus.Settle(ctx, w.cfg.Source, stored, queue.Result{
		Outcome:          queue.OutcomeRejected,
		Error:            &queue.ErrorInfo{Code: CodeInvalidCommand, Message: joinProblems(p.problems)},
		Problems:         p.problems,
		RawCommand:       rawText(raw),
		RawCommandBase64: rawBase64(raw),
		SettledAt:        w.now().UTC(),
	})
	if published { // also with an error marking it published: it is out
		w.m.CommandRejected(p.reason)
		w.m.TerminalTraced(w.exemplar(settled.Trace), settled.Action, settled.Outcome, settled.SettledAt.Sub(settled.ReceivedAt))
		w.m.EventPublished(settled.Outcome)
		h.log.Info("command rejected", zap.String("reason", p.reason), zap.Int("problems", len(p.problems)))
	}
	if err != nil {
		h.retryLater(ctx, "settle", err)
		return
	}
	h.term("terminal event published")
}

// commandSubjectKeep bounds the subject a rejected command's event carries.
const commandSubjectKeep = 512

// commandSubject is a command's subject as its event carries it: valid
// UTF-8, at most commandSubjectKeep bytes.
func commandSubject(s string) string {
	return strings.ToValidUTF8(clip(s, commandSubjectKeep), "\uFFFD")
}

// storable returns t, or the zero time (not stored) when a claim could not
// encode it: RFC 3339 holds the years 0001–9999 only. A stream timestamp
// always fits (it is Unix nanoseconds); this keeps it so whatever comes.
func storable(t time.Time) time.Time {
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		return time.Time{}
	}
	return t.UTC()
}

func (h *handling) ack() {
	if err := h.msg.Ack(); err != nil {
		h.log.Warn("ack", zap.Error(err))
	}
}

func (h *handling) term(reason string) {
	if err := h.msg.TermWithReason(reason); err != nil {
		h.log.Warn("term", zap.Error(err))
	}
}

// retryLater re-schedules the message after a bus fault, with back-off by
// delivery count. Bus faults do not consume the platform retry budget. An
// outage of NATS is retried for as long as it lasts; any other fault is the
// worker's own and ends the command (poison) at once when it is
// deterministic, else after MaxPoisonDeliveries deliveries.
func (h *handling) retryLater(ctx context.Context, what string, err error) {
	if !outage(err) && (deterministic(err) || h.meta.NumDelivered >= uint64(h.w.cfg.MaxPoisonDeliveries)) {
		h.poison(ctx, what, err)
		return
	}
	d := retryDelay(int(h.meta.NumDelivered), 200*time.Millisecond, 10*time.Second)
	h.log.Warn("bus fault; will retry", zap.String("step", what), zap.Duration("delay", d), zap.Error(err))
	h.w.m.Retry("publish", d)
	h.nak(d)
}

func (h *handling) nak(d time.Duration) {
	if err := h.msg.NakWithDelay(d); err != nil {
		h.log.Warn("nak", zap.Error(err))
	}
}

// retryDelay is the worker's back-off: exponential from base, capped at
// max, with full jitter, never below a tenth of the step so that retries do
// not spin.
func retryDelay(attempt int, base, max time.Duration) time.Duration {
	return backoff.Policy{Base: base, Max: max, Floor: 10}.Delay(attempt)
}

func resultOf(cl *queue.Claim) queue.Result {
	return queue.Result{
		Outcome: cl.Outcome, PlatformStatus: cl.PlatformStatus, FailedProcessID: cl.FailedProcessID,
		FailedStatus: cl.FailedStatus, Error: cl.Error, SettledAt: cl.SettledAt, Polls: cl.Polls,
		Problems: cl.Problems, RawCommand: cl.RawCommand, RawCommandBase64: cl.RawCommandBase64,
	}
}

func eventData(cl *queue.Claim, outcome string) queue.EventData {
	d := queue.EventData{
		CommandID: cl.CommandID, Action: cl.Action, ProcessID: cl.ProcessID,
		OrchestrationID: cl.OrchestrationID, Outcome: outcome, Attempts: cl.Attempts, Polls: cl.Polls,
	}
	if !cl.ReceivedAt.IsZero() {
		t := cl.ReceivedAt
		d.ReceivedAt = &t
	}
	if !cl.AcceptedAt.IsZero() {
		t := cl.AcceptedAt
		d.AcceptedAt = &t
	}
	return d
}

// rawText is the raw command as text when it is valid UTF-8.
func rawText(raw []byte) string {
	if utf8.Valid(raw) {
		return string(raw)
	}
	return ""
}

// rawBase64 is the raw command in base64 when it is not valid UTF-8.
func rawBase64(raw []byte) string {
	if utf8.Valid(raw) {
		return ""
	}
	return base64.StdEncoding.EncodeToString(raw)
}

// claimForRejection creates the claim of a command about to be rejected and
// returns the stored claim still in state received. ok is false when this
// handling is over: a bus fault (re-scheduled), a duplicate, or an outcome
// recorded before (moved on from there).
func (h *handling) claimForRejection(ctx context.Context, cl *queue.Claim) (stored *queue.Claim, ok bool) {
	stored, created, err := h.w.claims.Create(ctx, cl)
	if err != nil {
		h.retryLater(ctx, "claim", err)
		return nil, false
	}
	if !created && h.duplicate(ctx, stored) {
		return nil, false
	}
	if stored.State != queue.StateReceived {
		h.advance(ctx, stored) // a recorded outcome wins
		return nil, false
	}
	return stored, true
}
