package load

// The reference consumer: what `txworker load -scenario sync -reference
// MODE` runs in the worker's place, to measure what the machine itself costs
// a command that crosses the bus, the platform and the bus again. It is the
// shortest program with the same hops, written straight on nats.go's
// jetstream API and the platform client, with none of the worker's code:
// no validation beyond parsing, no metrics, no logging per command, no
// retries, no leases.
//
//	claims  the worker's writes: the claim before the call, the terminal
//	        claim before the event, the published mark after it
//	bare    none: the command, the call, the event; the floor of any design
//	        that passes a command through JetStream to another process
//
// It handles cancel-txn only (the sync scenario) and does not survive
// faults: a command it cannot finish is terminated and logged, and the load
// run then reports it as never ended. It is an instrument, not a worker.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/txworker/txworker/internal/app"
	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/queue"
	"github.com/txworker/txworker/worker"
)

const (
	referenceClaims = "claims"
	referenceBare   = "bare"
)

// referenceTimeout bounds one command's handling.
const referenceTimeout = 30 * time.Second

// ReferenceModes returns the -reference values, in the order usage names
// them.
func ReferenceModes() []string { return []string{referenceClaims, referenceBare} }

// reference consumes commands the way the reference mode says.
type reference struct {
	mode   string
	bus    *queue.Bus
	js     jetstream.JetStream
	kv     jetstream.KeyValue // nil when bare
	jm     worker.JourneyManager
	slots  chan struct{} // one per command in hand
	log    *zap.Logger
	cancel platform.Action
}

// ReferenceIntake is an app.Intake that puts a reference consumer of the
// mode (one of ReferenceModes) in the worker's place: `txworker
// load-reference MODE`, which `txworker load -reference MODE` starts as the
// replica. It needs a Journey Manager; an unknown mode fails the start.
func ReferenceIntake(mode string) app.Intake {
	return func(ctx context.Context, p app.Parts) (func(context.Context) error, error) {
		// The reference talks to JetStream straight, over a connection of
		// its own with the Bus's settings.
		nc, err := p.Config.Queue.Dial()
		if err != nil {
			return nil, err
		}
		js, err := jetstream.New(nc)
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("jetstream: %w", err)
		}
		r, err := newReference(ctx, mode, p.Bus, js, p.JM, p.Config.Worker.Concurrency, p.Logger)
		if err != nil {
			nc.Close()
			return nil, err
		}
		return func(ctx context.Context) error {
			defer nc.Close()
			return r.Run(ctx)
		}, nil
	}
}

// newReference binds a reference consumer to a provisioned bus: it takes
// commands from bus and writes claims and events through js.
func newReference(ctx context.Context, mode string, bus *queue.Bus, js jetstream.JetStream, jm worker.JourneyManager, concurrency int, logger *zap.Logger) (*reference, error) {
	if !slices.Contains(ReferenceModes(), mode) {
		return nil, fmt.Errorf("reference mode %q is not %s", mode, strings.Join(ReferenceModes(), " or "))
	}
	if jm == nil {
		return nil, errors.New("the reference consumer sends cancel-txn: it needs a Journey Manager")
	}
	act, _ := platform.LookupAction("cancel-txn")
	r := &reference{mode: mode, bus: bus, js: js, jm: jm, slots: make(chan struct{}, max(concurrency, 1)),
		log: logger.Named("reference"), cancel: act}
	if mode == referenceClaims {
		kv, err := js.KeyValue(ctx, bus.StateBucket())
		if err != nil {
			return nil, fmt.Errorf("claims bucket: %w", err)
		}
		r.kv = kv
	}
	return r, nil
}

// Run takes commands, each on a goroutine of its own, at most
// cap(slots) at once, until ctx ends; then it waits for those in hand.
func (r *reference) Run(ctx context.Context) error {
	r.log.Info("reference consumer in the worker's place", zap.String("mode", r.mode))
	cc, err := r.bus.Commands().Consume(func(m jetstream.Msg) {
		select {
		case r.slots <- struct{}{}:
		case <-ctx.Done():
			return // not taken: redelivered after the ack wait
		}
		go func() {
			defer func() { <-r.slots }()
			// A command in hand is finished even when ctx ends (shutdown).
			hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), referenceTimeout)
			defer cancel()
			r.handle(hctx, m)
		}()
	}, jetstream.PullMaxMessages(cap(r.slots)))
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	<-ctx.Done()
	cc.Stop()
	for range cap(r.slots) {
		r.slots <- struct{}{}
	}
	return nil
}

// referenceClaim is about the size and shape of the worker's claim.
type referenceClaim struct {
	CommandID  string    `json:"commandId"`
	Action     string    `json:"action"`
	ProcessID  string    `json:"processId"`
	Resource   string    `json:"resource"`
	State      string    `json:"state"`
	Outcome    string    `json:"outcome,omitempty"`
	Owner      string    `json:"owner"`
	StreamSeq  uint64    `json:"streamSeq"`
	Attempts   int       `json:"attempts"`
	ReceivedAt time.Time `json:"receivedAt"`
	LeaseUntil time.Time `json:"leaseUntil"`
	Published  bool      `json:"published,omitempty"`
}

// referenceEvent is a CloudEvent with the data the load driver reads.
type referenceEvent struct {
	SpecVersion string `json:"specversion"`
	ID          string `json:"id"`
	Source      string `json:"source"`
	Type        string `json:"type"`
	Subject     string `json:"subject"`
	Time        string `json:"time"`
	ContentType string `json:"datacontenttype"`
	Data        struct {
		CommandID      string `json:"commandId"`
		Action         string `json:"action"`
		ProcessID      string `json:"processId"`
		Outcome        string `json:"outcome"`
		PlatformStatus string `json:"platformStatus,omitempty"`
		ReceivedAt     string `json:"receivedAt"`
	} `json:"data"`
}

// handle is one command: claim, call, terminal claim, event, published
// mark, ack (claims) or call, event, ack (bare).
func (r *reference) handle(ctx context.Context, m jetstream.Msg) {
	var cmd struct {
		CommandID string          `json:"commandId"`
		ProcessID string          `json:"processId"`
		Params    json.RawMessage `json:"params"`
	}
	meta, err := m.Metadata()
	if err == nil {
		err = json.Unmarshal(m.Data(), &cmd)
	}
	if err == nil && (cmd.CommandID == "" || !strings.HasSuffix(m.Subject(), ".cmd.cancel-txn")) {
		err = errors.New("the reference takes cancel-txn commands with a commandId only")
	}
	var req *platform.Request
	if err == nil {
		var problems []string
		if req, problems = r.cancel.Parse(cmd.Params); len(problems) > 0 {
			err = errors.New(strings.Join(problems, "; "))
		}
	}
	if err != nil {
		r.drop(m, "command", err)
		return
	}
	if cmd.ProcessID == "" {
		cmd.ProcessID = uuid.NewString()
	}
	key := base64.RawURLEncoding.EncodeToString([]byte(cmd.CommandID))
	cl := referenceClaim{CommandID: cmd.CommandID, Action: r.cancel.Name, ProcessID: cmd.ProcessID, Resource: req.Resource,
		State: "calling", Owner: uuid.NewString(), StreamSeq: meta.Sequence.Stream, Attempts: 1,
		ReceivedAt: meta.Timestamp.UTC(), LeaseUntil: time.Now().Add(time.Minute).UTC()}
	var rev uint64
	if r.kv != nil {
		if rev, err = r.kv.Create(ctx, key, mustJSON(cl)); err != nil {
			r.drop(m, "claim", err)
			return
		}
	}
	status, callErr := r.jm.Cancel(ctx, req)
	outcome := queue.OutcomeSucceeded
	if callErr != nil {
		outcome = queue.OutcomeFailed
	}
	if r.kv != nil {
		cl.State, cl.Outcome = "terminal", outcome
		if rev, err = r.kv.Update(ctx, key, mustJSON(cl), rev); err != nil {
			r.drop(m, "terminal claim", err)
			return
		}
	}
	ev := referenceEvent{SpecVersion: "1.0", ID: cmd.CommandID + ":" + outcome, Source: "txworker-reference",
		Type: "txworker." + r.cancel.Name + "." + outcome, Subject: req.Resource, Time: time.Now().UTC().Format(time.RFC3339Nano),
		ContentType: "application/json"}
	ev.Data.CommandID, ev.Data.Action, ev.Data.ProcessID, ev.Data.Outcome = cmd.CommandID, r.cancel.Name, cmd.ProcessID, outcome
	ev.Data.PlatformStatus, ev.Data.ReceivedAt = status, meta.Timestamp.UTC().Format(time.RFC3339Nano)
	msg := nats.NewMsg(r.bus.EventSubject(r.cancel.Name, outcome))
	msg.Data = mustJSON(ev)
	msg.Header.Set(nats.MsgIdHdr, ev.ID)
	msg.Header.Set("Content-Type", "application/cloudevents+json")
	if _, err := r.js.PublishMsg(ctx, msg); err != nil {
		r.drop(m, "event", err)
		return
	}
	if r.kv != nil {
		cl.Published = true
		if _, err := r.kv.Update(ctx, key, mustJSON(cl), rev); err != nil {
			r.log.Error("published mark", zap.String("command_id", cmd.CommandID), zap.Error(err))
		}
	}
	if err := m.Ack(); err != nil {
		r.log.Warn("ack", zap.String("command_id", cmd.CommandID), zap.Error(err))
	}
}

// drop terminates a command the reference cannot finish; the load run
// reports it as never ended.
func (r *reference) drop(m jetstream.Msg, step string, err error) {
	r.log.Error("command dropped by the reference consumer", zap.String("step", step), zap.Error(err))
	if err := m.TermWithReason("reference: " + step); err != nil {
		r.log.Warn("term", zap.Error(err))
	}
}

// mustJSON marshals values that cannot fail to marshal.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
