package queue

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// What the bus offers its clients (`txworker submit`, the tools): publishing
// a command and following events. The worker and the poller do not use it.

// PublishCommand publishes body as a command for action on
// {prefix}.cmd.{action}, with Nats-Msg-Id msgID (the commands stream drops
// a message whose id it has stored within its duplicate window: ack.Duplicate
// then reports it), and waits for the commands stream's acknowledgement.
// The action token is not checked: the worker answers a command for an
// unknown action with a rejected event (SPEC §3).
func (b *Bus) PublishCommand(ctx context.Context, action string, body []byte, msgID string) (*jetstream.PubAck, error) {
	m := nats.NewMsg(b.CommandSubject(action))
	m.Data = body
	ack, err := b.js.PublishMsg(ctx, m, jetstream.WithMsgID(msgID), jetstream.WithExpectStream(b.names.commands))
	if err != nil {
		return nil, fmt.Errorf("publish to %s: %w", m.Subject, err)
	}
	return ack, nil
}

// WatchEvents delivers, from now on, every event published for the action
// token (an action name or ActionUnknown; "*" for all) in the order the
// events stream stored them, until stop is called. A message that is not an
// event is skipped. handle runs on one goroutine at a time.
func (b *Bus) WatchEvents(ctx context.Context, action string, handle func(Event)) (stop func(), err error) {
	cons, err := b.js.OrderedConsumer(ctx, b.names.events, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{b.EventSubject(action, "*")},
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("watch events of %s: %w", b.names.events, err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		var ev Event
		if decodeEvent(m.Data(), &ev) == nil {
			handle(ev)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("watch events of %s: %w", b.names.events, err)
	}
	return cc.Stop, nil
}

// Dial opens a plain connection with the Config's URL and credentials: for
// instruments that talk to JetStream directly (the load tool's reference
// consumer) rather than through a Bus. The caller closes it.
func (c Config) Dial() (*nats.Conn, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c = c.withDefaults()
	b := &Bus{cfg: c}
	nc, err := nats.Connect(c.URL, append(b.credentials(), nats.Name(c.Name))...)
	if err != nil {
		return nil, fmt.Errorf("connect nats: %w", err)
	}
	return nc, nil
}
