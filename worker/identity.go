package worker

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/txworker/txworker/metrics"
	"github.com/txworker/txworker/queue"
)

// The rules "one commandId, one command" and "one processId, one command" (SPEC §3).

// processIDInUse rejects a command whose processId another command owns.
func (h *handling) processIDInUse(ctx context.Context, owner string) {
	w, p := h.w, h.p
	cl := &queue.Claim{
		CommandID:   p.commandID,
		Action:      p.action.Name,
		Fingerprint: h.fingerprint(),
		ProcessID:   p.processID,
		Resource:    p.request.Resource,
		State:       queue.StateReceived,
		StreamSeq:   h.meta.Sequence.Stream,
		ReceivedAt:  storable(h.meta.Timestamp),
		Trace:       h.trace,
	}
	stored, ok := h.claimForRejection(ctx, cl)
	if !ok {
		return
	}
	problem := fmt.Sprintf("processId %s is already used by command %q; nothing was sent", p.processID, clip(owner, 128))
	h.log.Warn("command rejected: processId in use", zap.String("owner_command_id", owner))
	if h.settle(ctx, stored, queue.Result{
		Outcome:  "rejected",
		Error:    &queue.ErrorInfo{Code: CodeProcessIDInUse, Message: problem},
		Problems: []string{problem},
	}) {
		w.m.CommandRejected(metrics.ReasonProcessIDInUse)
	}
}

// duplicate handles a message whose commandId already has a claim. A
// different command (another fingerprint) is never executed: it is answered
// with a "duplicate" event. The same command carried by another message is
// dropped; the owner's message stays in the stream until the command is
// settled or handed to tracking, so nothing is lost. A claim written before
// fingerprints were kept counts as the same command.
func (h *handling) duplicate(ctx context.Context, stored *queue.Claim) bool {
	if stored.Fingerprint != "" && stored.Fingerprint != h.fingerprint() {
		h.different(ctx, stored)
		return true
	}
	if stored.StreamSeq == h.meta.Sequence.Stream {
		return false // a redelivery of the owning message: resume
	}
	if stored.State == queue.StateTerminal && !stored.Published {
		return false // help publish the recorded outcome
	}
	h.w.m.DuplicateDropped(metrics.KindCommand)
	h.log.Info("duplicate command dropped", zap.String("state", string(stored.State)),
		zap.Uint64("owner_seq", stored.StreamSeq), zap.Uint64("seq", h.meta.Sequence.Stream))
	h.ack()
	return true
}

// different answers a different command under a used commandId with a
// non-terminal "duplicate" event (SPEC §4); the first command's outcome
// stands and this one is not executed.
func (h *handling) different(ctx context.Context, first *queue.Claim) {
	w, p := h.w, h.p
	fp := h.fingerprint()
	state := string(first.State)
	if first.Outcome != "" {
		state += " (" + first.Outcome + ")"
	}
	received := h.meta.Timestamp.UTC()
	d := queue.EventData{
		CommandID: p.commandID, Action: safeAction(p.action.Name), ProcessID: p.processID,
		Outcome: OutcomeDuplicate, ReceivedAt: &received,
		Error: &queue.ErrorInfo{Code: CodeDuplicateCommandID, Message: fmt.Sprintf(
			"commandId %q already names another command (fingerprint %s, state %s); this command (fingerprint %s) was not executed and the first command's outcome stands",
			clip(p.commandID, 128), first.Fingerprint, state, fp)},
	}
	resource := ""
	if p.request != nil {
		resource = p.request.Resource
	}
	ev := queue.NewEvent(w.cfg.Source, resource, d, w.now().UTC())
	ev.ID = p.commandID + ":duplicate:" + fp
	dup, err := w.bus.PublishEvent(ctx, ev, h.trace)
	if err != nil {
		h.retryLater(ctx, "publish duplicate", err)
		return
	}
	if !dup {
		w.m.EventPublished(OutcomeDuplicate)
		w.m.DuplicateDropped(metrics.KindDifferent)
		h.log.Warn("a different command under a commandId already used; not executed",
			zap.String("fingerprint", fp), zap.String("first_fingerprint", first.Fingerprint),
			zap.String("first_state", state), zap.Uint64("first_seq", first.StreamSeq), zap.Uint64("seq", h.meta.Sequence.Stream))
	}
	h.ack()
}
