package queue

import (
	"context"
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
// waits for the stream's acknowledgement (bounded by ctx, or 5s when ctx has
// no deadline). dup reports that the stream already had an event with this id
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
	ack, err := b.js.PublishMsg(ctx, m, jetstream.WithMsgID(ev.ID), jetstream.WithExpectStream(b.names.events))
	if err != nil {
		return false, fmt.Errorf("publish event %s: %w", ev.ID, err)
	}
	return ack.Duplicate, nil
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
	_, err = b.js.PublishMsg(ctx, m, jetstream.WithMsgID(t.CommandID+":track"), jetstream.WithExpectStream(b.names.tracking))
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
