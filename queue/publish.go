package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Track is the tracking message of an accepted Corastone action: what the
// poller needs to follow the orchestration to its end and settle the command.
type Track struct {
	CommandID       string    `json:"commandId"`
	Action          string    `json:"action"`
	Fingerprint     string    `json:"fingerprint,omitempty"` // the claim's
	ProcessID       string    `json:"processId,omitempty"`
	OrchestrationID string    `json:"orchestrationId,omitempty"`
	Resource        string    `json:"resource,omitempty"`
	ReceivedAt      time.Time `json:"receivedAt,omitzero"`
	AcceptedAt      time.Time `json:"acceptedAt,omitzero"`
	Deadline        time.Time `json:"deadline,omitzero"`
	Attempts        int       `json:"attempts,omitzero"`
	Lookups         int       `json:"lookups,omitzero"`
	StreamSeq       uint64    `json:"streamSeq,omitzero"` // the command message's
	Trace           Trace     `json:"trace,omitzero"`
	// ClaimRevision is the claim's revision when the command was handed to
	// tracking: the settle compare-and-sets the claim rebuilt from this
	// message at it and reads the claim only when it has changed since.
	ClaimRevision uint64 `json:"claimRevision,omitzero"`
}

// PublishEvent publishes ev to {prefix}.evt.{action}.{outcome} (taken from
// ev.Data) on the events stream, with headers Nats-Msg-Id = ev.ID,
// Content-Type application/cloudevents+json and the trace headers of tr, and
// waits for the stream's acknowledgement, retrying what may pass (see
// publish) within ctx. dup reports that the stream already had an event with this id
// within the duplicate window and dropped this one; that is a success.
func (b *Bus) PublishEvent(ctx context.Context, ev Event, tr Trace) (dup bool, err error) {
	subject, err := b.eventSubject(ev.Data.Action, ev.Data.Outcome)
	if err != nil {
		return false, fmt.Errorf("publish event %s: %w", ev.ID, err)
	}
	ctx, span, tr := b.startSend(ctx, subject, ev.ID, tr) // the event's traceparent is its send span
	defer func() { endSpan(span, err) }()
	data, err := marshal(&ev)
	if err != nil {
		return false, fmt.Errorf("publish event %s: %w: %w", ev.ID, ErrUnencodable, err)
	}
	m := nats.NewMsg(subject)
	m.Data = data
	m.Header["Content-Type"] = []string{ContentType}
	tr.Apply(m.Header)
	ack, ambiguous, err := b.publish(ctx, m, ev.ID, b.names.events)
	if err != nil {
		return false, fmt.Errorf("publish event %s: %w", ev.ID, err)
	}
	// A duplicate after an attempt of ours whose answer was lost is most
	// likely that attempt's message: this call stored it.
	return ack.Duplicate && !ambiguous, nil
}

// publish publishes m with Nats-Msg-Id id to stream and waits for the
// acknowledgement. An attempt that fails for a reason that may pass (no
// responders while the stream has no leader, an acknowledgement lost or
// late during a leader election, the same id still in process) is sent
// again with the same id (no responders because the stream does not exist
// is final), each attempt bounded by 5s, with back-off, until
// ctx ends; retries stop half a duplicate window after the first attempt,
// so that the stream still drops a copy the first one stored. ambiguous
// reports that an earlier attempt may have stored the message.
func (b *Bus) publish(ctx context.Context, m *nats.Msg, id, stream string) (ack *jetstream.PubAck, ambiguous bool, err error) {
	rctx, cancel := context.WithTimeout(ctx, b.cfg.DuplicateWindow/2)
	defer cancel()
	err = retrying(rctx, func(ctx context.Context, attempt int) error {
		var err error
		ack, err = b.js.PublishMsg(ctx, m, jetstream.WithMsgID(id), jetstream.WithExpectStream(stream))
		if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) {
			// No leader, or no stream at all: only the latter is final.
			if _, serr := b.js.Stream(ctx, stream); errors.Is(serr, jetstream.ErrStreamNotFound) {
				return permanentError{fmt.Errorf("%w (stream %s: %w)", err, stream, serr)}
			}
			return err
		}
		if err != nil {
			ambiguous = true // the server may have stored it and its answer been lost
		}
		return err
	})
	return ack, ambiguous, err
}

// PublishTrack publishes t to {prefix}.track.{action} on the tracking stream
// with Nats-Msg-Id "{commandId}:track" and t's trace headers, and waits for
// the acknowledgement. Publishing the same command's track twice within the
// duplicate window stores it once.
func (b *Bus) PublishTrack(ctx context.Context, t Track) (err error) {
	if t.CommandID == "" {
		return fmt.Errorf("publish track: empty command id")
	}
	if err := checkTokens(t.Action); err != nil {
		return fmt.Errorf("publish track %s: %w", t.CommandID, err)
	}
	ctx, span, _ := b.startSend(ctx, b.trackSubject(t.Action), t.CommandID+":track", t.Trace) // the message keeps the command's trace
	defer func() { endSpan(span, err) }()
	data, err := marshal(&t)
	if err != nil {
		return fmt.Errorf("publish track %s: %w: %w", t.CommandID, ErrUnencodable, err)
	}
	m := nats.NewMsg(b.trackSubject(t.Action))
	m.Data = data
	m.Header["Content-Type"] = []string{"application/json"}
	t.Trace.Apply(m.Header)
	_, _, err = b.publish(ctx, m, t.CommandID+":track", b.names.tracking)
	if err != nil {
		return fmt.Errorf("publish track %s: %w", t.CommandID, err)
	}
	return nil
}

// checkTokens reports a value that cannot stand in a published subject: an
// empty one, or one with a wildcard or whitespace. Dots are allowed (they
// make more tokens, still under the stream's "{prefix}.evt.>").
func checkTokens(vals ...string) error {
	for _, v := range vals {
		if v == "" {
			return fmt.Errorf("empty subject token: %w", ErrUnencodable)
		}
		for _, tok := range strings.Split(v, ".") {
			if tok == "" || strings.ContainsAny(tok, "*> \t\r\n") {
				return fmt.Errorf("invalid subject token %q: %w", v, ErrUnencodable)
			}
		}
	}
	return nil
}
