package worker

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/txworker/txworker/metrics"
	"github.com/txworker/txworker/queue"
)

// Worker-side error codes of the checks made against the bus.
const (
	// CodeDuplicateCommandID: a different command under a commandId already
	// used (the "duplicate" event).
	CodeDuplicateCommandID = "DUPLICATE_COMMAND_ID"
	// CodeProcessIDInUse: the command's processId belongs to another command.
	CodeProcessIDInUse = "PROCESS_ID_IN_USE"
	// CodeInternalError: the worker could not take the command through (a
	// value it cannot store or publish, a fault inside the worker that
	// repeats on every delivery).
	CodeInternalError = "INTERNAL_ERROR"
)

// OutcomeDuplicate is the non-terminal outcome of a different command under
// a commandId already used (SPEC §4).
const OutcomeDuplicate = "duplicate"

// outage reports an error of the bus being unreachable or busy (a timeout,
// a lost connection, a stream or bucket missing, JetStream unavailable):
// the command is retried for as long as it lasts (SPEC §4: an outage of
// NATS is not the command's fault).
func outage(err error) bool {
	if err == nil || deterministic(err) {
		return false
	}
	for _, target := range []error{
		context.DeadlineExceeded, context.Canceled,
		nats.ErrTimeout, nats.ErrNoResponders, nats.ErrConnectionClosed, nats.ErrDisconnected,
		nats.ErrConnectionDraining, nats.ErrConnectionReconnecting, nats.ErrNoServers, nats.ErrStaleConnection,
		jetstream.ErrNoHeartbeat, jetstream.ErrNoStreamResponse, jetstream.ErrStreamNotFound,
		jetstream.ErrBucketNotFound, jetstream.ErrJetStreamNotEnabled, jetstream.ErrJetStreamNotEnabledForAccount,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case jetstream.JSErrCodeStreamNotFound, jetstream.JSErrCodeJetStreamNotEnabled,
			jetstream.JSErrCodeJetStreamNotEnabledForAccount, jsErrCodeStreamNotMatch:
			return true
		}
		return apiErr.Code == 503 || apiErr.Code == 504 || apiErr.Code == 408
	}
	return false
}

// jsErrCodeStreamNotMatch: "expected stream does not match" (the events or
// tracking stream was replaced by one the worker did not provision).
const jsErrCodeStreamNotMatch jetstream.ErrorCode = 10060

// deterministic reports an error that the same command meets again on every
// delivery: a value that cannot be encoded or published.
func deterministic(err error) bool {
	if errors.Is(err, queue.ErrUnencodable) || errors.Is(err, nats.ErrBadSubject) ||
		errors.Is(err, nats.ErrMaxPayload) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum
}

// poison ends a command the worker cannot take through (SPEC §4): settled
// failed with INTERNAL_ERROR, or, when not even that can be stored, a
// minimal terminal event published directly; then the message is
// terminated. Only an outage on the way re-schedules it.
func (h *handling) poison(ctx context.Context, step string, cause error) {
	w, p := h.w, h.p
	now := w.now().UTC()
	info := &queue.ErrorInfo{Code: CodeInternalError, Message: clip(fmt.Sprintf(
		"the worker could not take the command through: step %q failed on delivery %d: %v",
		step, h.meta.NumDelivered, cause), 500)}
	h.log.Error("command cannot be taken through; ending it", zap.String("step", step),
		zap.Uint64("delivery", h.meta.NumDelivered), zap.Error(cause))
	// A claim built only from checked values: Settle takes the stored claim
	// when there is one and creates this one otherwise.
	cl := &queue.Claim{
		CommandID:   p.commandID,
		Action:      safeAction(p.action.Name),
		Fingerprint: h.fingerprint(),
		ProcessID:   p.processID,
		State:       queue.StateReceived,
		StreamSeq:   h.meta.Sequence.Stream,
		ReceivedAt:  h.meta.Timestamp.UTC(),
	}
	stored, published, err := w.bus.Settle(ctx, w.cfg.Source, cl, queue.Result{Outcome: queue.OutcomeFailed, Error: info, SettledAt: now})
	if err == nil {
		if published {
			w.m.TerminalTraced(w.exemplar(stored.Trace), stored.Action, stored.Outcome, stored.SettledAt.Sub(stored.ReceivedAt))
			w.m.EventPublished(stored.Outcome)
			w.m.InternalError(metrics.FaultPoison)
		}
		h.term("ended: " + CodeInternalError)
		return
	}
	if outage(err) {
		h.outageLater(step, err)
		return
	}
	// Not even the claim can be written: publish a minimal terminal event
	// (the stored outcome if the claim has one).
	d := queue.EventData{CommandID: p.commandID, Action: cl.Action, ProcessID: p.processID,
		Outcome: queue.OutcomeFailed, Error: info, ReceivedAt: &cl.ReceivedAt, SettledAt: &now}
	if stored != nil && stored.State == queue.StateTerminal && queue.Terminal(stored.Outcome) {
		d.Outcome, d.Error, d.OrchestrationID = stored.Outcome, stored.Error, stored.OrchestrationID
		d.Attempts, d.Polls = stored.Attempts, stored.Polls
		if d.Error != nil {
			e := *d.Error
			e.Message = clip(e.Message, 500)
			d.Error = &e
		}
	}
	ev := queue.NewEvent(w.cfg.Source, "", d, now)
	dup, perr := w.bus.PublishEvent(ctx, ev, queue.Trace{})
	switch {
	case perr != nil && outage(perr):
		h.outageLater(step, perr)
		return
	case perr != nil:
		h.log.Error("not even a minimal terminal event can be published; terminating the command",
			zap.NamedError("settle_error", err), zap.NamedError("publish_error", perr))
	case !dup:
		w.m.Terminal(d.Action, d.Outcome, now.Sub(cl.ReceivedAt))
		w.m.EventPublished(d.Outcome)
		w.m.InternalError(metrics.FaultPoison)
		h.log.Warn("minimal terminal event published; the claim could not be stored", zap.NamedError("settle_error", err))
	}
	h.term("ended: " + CodeInternalError)
}

// outageLater re-schedules the message after an outage of the bus.
func (h *handling) outageLater(what string, err error) {
	d := retryDelay(int(h.meta.NumDelivered), 200*time.Millisecond, 10*time.Second)
	h.log.Warn("bus unavailable; will retry", zap.String("step", what), zap.Duration("delay", d), zap.Error(err))
	h.w.m.Retry(metrics.StagePublish, d)
	h.nak(d)
}

// panicked handles a panic recovered while handling msg (h is nil when it
// came before the command was decoded): logged with its stack and counted;
// the message is re-scheduled, and after MaxPoisonDeliveries deliveries the
// command ends failed INTERNAL_ERROR.
func (w *Worker) panicked(ctx context.Context, msg jetstream.Msg, h *handling, r any) {
	w.m.InternalError(metrics.FaultPanic)
	w.log.Error("panic while handling a command", zap.String("subject", clip(msg.Subject(), 200)),
		zap.Any("panic", r), zap.ByteString("stack", debug.Stack()))
	defer func() {
		if again := recover(); again != nil {
			w.log.Error("panic while ending a command after a panic", zap.Any("panic", again))
			_ = msg.NakWithDelay(10 * time.Second)
		}
	}()
	if h == nil {
		meta, err := msg.Metadata()
		if err != nil {
			_ = msg.TermWithReason("no metadata")
			return
		}
		id := msg.Headers().Get(nats.MsgIdHdr)
		if checkCommandID(id) != "" {
			id = derivedID(w.bus.CommandsCreated(), meta.Sequence.Stream)
		}
		h = &handling{w: w, msg: msg, meta: meta, log: w.log, p: &parsed{commandID: id}}
	}
	cause := fmt.Errorf("panic: %v", r)
	if h.meta.NumDelivered >= uint64(w.cfg.MaxPoisonDeliveries) {
		h.poison(ctx, "panic", cause)
		return
	}
	h.nak(retryDelay(int(h.meta.NumDelivered), 200*time.Millisecond, 10*time.Second))
}
