package queue

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// eventsClockSkew is how far before a command's receipt CommandEvents starts
// reading: the claim's times are the worker's clock, the stream's the
// server's.
const eventsClockSkew = time.Minute

// CommandEvents returns the events of one command stored on the events
// stream, in the order stored: those on {prefix}.evt.{action}.* (action an
// action token or ActionUnknown) whose data.commandId is commandID. It reads
// from since minus a minute (the command's receipt: no event of it can be
// older; zero: the whole stream) up to the stream's end when it starts, with
// one ordered consumer, and returns what it found when ctx ends first, with
// ctx's error.
func (b *Bus) CommandEvents(ctx context.Context, action, commandID string, since time.Time) ([]Event, error) {
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{b.EventSubject(action, "*")},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	}
	if !since.IsZero() {
		start := since.Add(-eventsClockSkew)
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	}
	cons, err := b.js.OrderedConsumer(ctx, b.names.events, cfg)
	if err != nil {
		return nil, fmt.Errorf("events of %s: %w", commandID, err)
	}
	// An event is JSON written by marshal: its commandId appears in it as
	// marshal writes the string. Only messages holding that are decoded.
	needle, err := marshal(commandID)
	if err != nil {
		return nil, fmt.Errorf("events of %s: %w: %w", commandID, ErrUnencodable, err)
	}
	var out []Event
	for {
		batch, err := cons.FetchNoWait(scanBatch)
		if err != nil {
			return out, fmt.Errorf("events of %s: %w", commandID, err)
		}
		n, last := 0, uint64(1)
		for m := range batch.Messages() {
			n++
			if md, err := m.Metadata(); err == nil {
				last = md.NumPending
			}
			if !bytes.Contains(m.Data(), needle) {
				continue
			}
			var ev Event
			if decodeEvent(m.Data(), &ev) == nil && ev.Data.CommandID == commandID {
				out = append(out, ev)
			}
		}
		if err := batch.Error(); err != nil {
			return out, fmt.Errorf("events of %s: %w", commandID, err)
		}
		if n == 0 || last == 0 {
			return out, nil
		}
		if ctx.Err() != nil {
			return out, fmt.Errorf("events of %s: %w", commandID, ctx.Err())
		}
	}
}
