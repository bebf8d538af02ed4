package rig

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/txworker/txworker/queue"
)

// Record is what the collector knows of one command. Times are the rig's
// clock: SentAt when Expect was called, the others when the event reached
// the collector.
type Record struct {
	Action          string
	SentAt          time.Time
	AcceptedAt      time.Time // first accepted event
	TerminalAt      time.Time // first terminal event
	Outcome         string    // of the first terminal event
	OrchestrationID string
	ErrorCode       string
	Accepted        int // accepted events received
	Terminals       int // terminal events received (exactly one is right)
	// The server's clock, from the first terminal event: when the command
	// was stored in its stream (the event's receivedAt) and when the event
	// was stored in its own (its JetStream timestamp). Between the two lies
	// all the worker does, and none of the driver's publishing or receipt.
	CommandStoredAt, TerminalStoredAt time.Time
}

// Collector follows the events stream with a JetStream ordered consumer
// (from the stream's first message; it recreates itself after a NATS
// restart) and counts events per command, part of the rig (rig.go).
// Events of commands never announced with Expect are recorded too. Safe
// for concurrent use.
type Collector struct {
	cc jetstream.ConsumeContext

	mu        sync.Mutex
	recs      map[string]*Record
	accepted  int // commands with at least one accepted event
	ended     int // commands with at least one terminal event
	events    int
	undecoded int
	changed   chan struct{} // closed and replaced when accepted or ended grows
}

// startCollector starts following stream.
func startCollector(ctx context.Context, js jetstream.JetStream, stream string) (*Collector, error) {
	c := &Collector{recs: map[string]*Record{}, changed: make(chan struct{})}
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, fmt.Errorf("events consumer: %w", err)
	}
	c.cc, err = cons.Consume(c.handle, jetstream.PullMaxMessages(2048))
	if err != nil {
		return nil, fmt.Errorf("events consume: %w", err)
	}
	return c, nil
}

// wireEvent is the part of an event the collector reads.
type wireEvent struct {
	Data struct {
		CommandID       string           `json:"commandId"`
		Action          string           `json:"action"`
		Outcome         string           `json:"outcome"`
		OrchestrationID string           `json:"orchestrationId"`
		Error           *queue.ErrorInfo `json:"error"`
		ReceivedAt      time.Time        `json:"receivedAt"`
	} `json:"data"`
}

func (c *Collector) handle(m jetstream.Msg) {
	now := time.Now()
	var ev wireEvent
	err := json.Unmarshal(m.Data(), &ev)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events++
	if err != nil || ev.Data.CommandID == "" {
		c.undecoded++
		return
	}
	d := ev.Data
	r := c.recs[d.CommandID]
	if r == nil {
		r = &Record{Action: d.Action}
		c.recs[d.CommandID] = r
	}
	if d.OrchestrationID != "" {
		r.OrchestrationID = d.OrchestrationID
	}
	if d.Outcome == queue.OutcomeAccepted {
		if r.Accepted == 0 {
			r.AcceptedAt = now
			c.accepted++
			c.signal()
		}
		r.Accepted++
		return
	}
	r.Terminals++
	if r.Terminals > 1 {
		return
	}
	r.TerminalAt, r.Outcome = now, d.Outcome
	r.CommandStoredAt = d.ReceivedAt
	if meta, err := m.Metadata(); err == nil {
		r.TerminalStoredAt = meta.Timestamp
	}
	if d.Error != nil {
		r.ErrorCode = d.Error.Code
	}
	c.ended++
	c.signal()
}

// signal wakes the waiters; c.mu is held.
func (c *Collector) signal() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Expect announces a command about to be published, so that its latency
// can be measured and its absence noticed. Call it before publishing.
func (c *Collector) Expect(id, action string, sentAt time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.recs[id]; r != nil {
		r.SentAt = sentAt
		return
	}
	c.recs[id] = &Record{Action: action, SentAt: sentAt}
}

// Counts returns how many commands have had an accepted event and a
// terminal event, and how many events arrived in all.
func (c *Collector) Counts() (accepted, ended, events int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.accepted, c.ended, c.events
}

// WaitEnded blocks until at least n commands have had a terminal event,
// or ctx ends.
func (c *Collector) WaitEnded(ctx context.Context, n int) error {
	return c.wait(ctx, func(_, ended int) bool { return ended >= n }, n, "ended")
}

// WaitAccepted blocks until at least n commands have had an accepted
// event, or ctx ends.
func (c *Collector) WaitAccepted(ctx context.Context, n int) error {
	return c.wait(ctx, func(acc, _ int) bool { return acc >= n }, n, "accepted")
}

func (c *Collector) wait(ctx context.Context, done func(accepted, ended int) bool, n int, what string) error {
	for {
		c.mu.Lock()
		acc, ended, ch := c.accepted, c.ended, c.changed
		c.mu.Unlock()
		if done(acc, ended) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%d accepted, %d ended, waiting for %d %s: %w", acc, ended, n, what, ctx.Err())
		}
	}
}

// Record returns a copy of one command's record.
func (c *Collector) Record(id string) (Record, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.recs[id]
	if !ok {
		return Record{}, false
	}
	return *r, true
}

// Each calls f for every command's record (a copy), in no order, with the
// collector locked: f must not call the collector.
func (c *Collector) Each(f func(id string, r Record)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, r := range c.recs {
		f(id, *r)
	}
}

// Check returns, sorted, the ids among ids that have no terminal event and
// those that have more than one, and how many events could not be read.
func (c *Collector) Check(ids []string) (missing, twice []string, undecoded int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		r := c.recs[id]
		switch {
		case r == nil || r.Terminals == 0:
			missing = append(missing, id)
		case r.Terminals > 1:
			twice = append(twice, id)
		}
	}
	sort.Strings(missing)
	sort.Strings(twice)
	return missing, twice, c.undecoded
}

// Stop stops following the stream.
func (c *Collector) Stop() { c.cc.Stop() }
