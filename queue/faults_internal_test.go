package queue

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/txworker/txworker/internal/natstest"
)

// The failure modes of a cluster, simulated deterministically: a write the
// server stored whose answer is lost (as in a leader election), a bucket
// that answers "wrong last sequence" for a write that already landed, and
// no responders while a stream has no leader.

// faults says what the wrappers do to the next requests.
type faults struct {
	mu           sync.Mutex
	lostAnswers  int // writes that land but answer a timeout
	landedTwice  int // KV writes that land, then answer what repeating them answers
	noResponders int // requests answered "no responders" without being sent
	calls        atomic.Int64
}

func (f *faults) take(n *int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if *n > 0 {
		*n--
		return true
	}
	return false
}

// flakyJS is a JetStream whose publishes suffer f.
type flakyJS struct {
	jetstream.JetStream
	f *faults
}

func (j flakyJS) PublishMsg(ctx context.Context, m *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	j.f.calls.Add(1)
	if j.f.take(&j.f.noResponders) {
		return nil, jetstream.ErrNoStreamResponse
	}
	ack, err := j.JetStream.PublishMsg(ctx, m, opts...)
	if err == nil && j.f.take(&j.f.lostAnswers) {
		return nil, nats.ErrTimeout
	}
	return ack, err
}

// flakyKV is a KeyValue whose writes and reads suffer f.
type flakyKV struct {
	jetstream.KeyValue
	f *faults
}

func (k flakyKV) Create(ctx context.Context, key string, value []byte, opts ...jetstream.KVCreateOpt) (uint64, error) {
	k.f.calls.Add(1)
	if k.f.take(&k.f.noResponders) {
		return 0, nats.ErrNoResponders
	}
	rev, err := k.KeyValue.Create(ctx, key, value, opts...)
	if err == nil && k.f.take(&k.f.lostAnswers) {
		return 0, nats.ErrTimeout
	}
	if err == nil && k.f.take(&k.f.landedTwice) {
		// The create landed, its answer was lost in the election and the
		// retry answers that the key exists.
		return 0, nats.ErrTimeout
	}
	return rev, err
}

func (k flakyKV) Update(ctx context.Context, key string, value []byte, last uint64) (uint64, error) {
	k.f.calls.Add(1)
	if k.f.take(&k.f.noResponders) {
		return 0, nats.ErrNoResponders
	}
	rev, err := k.KeyValue.Update(ctx, key, value, last)
	if err == nil && k.f.take(&k.f.lostAnswers) {
		return 0, context.DeadlineExceeded
	}
	if err == nil && k.f.take(&k.f.landedTwice) {
		return k.KeyValue.Update(ctx, key, value, last)
	}
	return rev, err
}

func (k flakyKV) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	k.f.calls.Add(1)
	if k.f.take(&k.f.noResponders) {
		return nil, nats.ErrNoResponders
	}
	return k.KeyValue.Get(ctx, key)
}

// flakyBus returns a provisioned Bus on a server of its own whose
// JetStream publishes and claim bucket suffer the faults returned.
func flakyBus(t *testing.T) (*Bus, *faults, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	srv := natstest.Start(t, natstest.Options{})
	b, err := Connect(ctx, Config{URL: srv.URL(), Provision: true, Name: t.Name()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Drain() })
	if err := b.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	f := &faults{}
	b.js = flakyJS{JetStream: b.js, f: f}
	b.mu.Lock()
	b.kv = flakyKV{KeyValue: b.kv, f: f}
	b.mu.Unlock()
	return b, f, ctx
}

// storedCount returns how many messages stream holds.
func storedCount(t *testing.T, ctx context.Context, b *Bus, stream string) uint64 {
	t.Helper()
	s, err := b.js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	return s.CachedInfo().State.Msgs
}

// A publish whose acknowledgement is lost, or that meets no responders, is
// sent again with the same message id: it succeeds, the stream holds the
// message once, and the event counts as published by this call.
func TestPublishRetriedWithTheSameID(t *testing.T) {
	for _, tt := range []struct {
		name   string
		inject func(*faults)
	}{
		{"ack lost after the stream stored it", func(f *faults) { f.lostAnswers = 1 }},
		{"acks lost twice", func(f *faults) { f.lostAnswers = 2 }},
		{"no responders while the stream has no leader", func(f *faults) { f.noResponders = 3 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, f, ctx := flakyBus(t)
			tt.inject(f)
			ev := Event{ID: "c-1:succeeded", Data: EventData{CommandID: "c-1", Action: "cancel-offering", Outcome: OutcomeSucceeded}}
			dup, err := b.PublishEvent(ctx, ev, Trace{})
			if err != nil {
				t.Fatalf("PublishEvent: %v", err)
			}
			if dup {
				t.Error("PublishEvent reported a duplicate for the event this call stored")
			}
			tt.inject(f)
			if err := b.PublishTrack(ctx, Track{CommandID: "c-1", Action: "cancel-offering"}); err != nil {
				t.Fatalf("PublishTrack: %v", err)
			}
			if n := storedCount(t, ctx, b, b.names.events); n != 1 {
				t.Errorf("events stream holds %d messages, want 1", n)
			}
			if n := storedCount(t, ctx, b, b.names.tracking); n != 1 {
				t.Errorf("tracking stream holds %d messages, want 1", n)
			}
		})
	}
}

// A publish to a stream that does not exist (no responders, and the
// stream is not found) fails at once rather than waiting out ctx.
func TestPublishToMissingStreamFails(t *testing.T) {
	b, _, ctx := flakyBus(t)
	if err := b.js.DeleteStream(ctx, b.names.events); err != nil {
		t.Fatal(err)
	}
	ev := Event{ID: "c-2:failed", Data: EventData{CommandID: "c-2", Action: "cancel-offering", Outcome: OutcomeFailed}}
	_, err := b.PublishEvent(ctx, ev, Trace{})
	if err == nil || !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("PublishEvent without the stream: %v, want stream not found", err)
	}
	if ctx.Err() != nil {
		t.Error("PublishEvent waited out its context")
	}
}

// A claim write that landed but whose answer was lost, or that answers
// "wrong last sequence" / "key exists" because it already landed, is this
// call's own write: the stored claim is read again and compared, never
// assumed either way. A write that really lost to another is still a
// conflict.
func TestClaimWritesThatAlreadyLanded(t *testing.T) {
	for _, tt := range []struct {
		name   string
		inject func(*faults)
	}{
		{"answer lost", func(f *faults) { f.lostAnswers = 1 }},
		{"wrong last sequence after landing", func(f *faults) { f.landedTwice = 1 }},
		{"no responders", func(f *faults) { f.noResponders = 2 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, f, ctx := flakyBus(t)
			claims := b.Claims()
			tt.inject(f)
			cl := &Claim{CommandID: "c-1", Action: "cancel-offering", State: StateReceived, Owner: "r1"}
			stored, created, err := claims.Create(ctx, cl)
			if err != nil || !created || stored.Revision == 0 {
				t.Fatalf("Create = %+v, %v, %v; want created", stored, created, err)
			}
			got, err := claims.Get(ctx, "c-1")
			if err != nil || got.Revision != stored.Revision {
				t.Fatalf("Get = %+v, %v; want revision %d", got, err, stored.Revision)
			}

			tt.inject(f)
			next := *stored
			next.State = StateCalling
			if err := claims.Update(ctx, &next); err != nil {
				t.Fatalf("Update: %v", err)
			}
			got, err = claims.Get(ctx, "c-1")
			if err != nil || got.State != StateCalling || got.Revision != next.Revision {
				t.Fatalf("after Update: %+v, %v; want calling at revision %d", got, err, next.Revision)
			}

			// Another writer's change: the same wrapper, a real conflict.
			tt.inject(f)
			stale := *stored // at the first revision
			stale.State = StateTerminal
			if err := claims.Update(ctx, &stale); !errors.Is(err, ErrConflict) {
				t.Errorf("Update from a stale revision: %v, want ErrConflict", err)
			}
			// Someone else's claim under the id is not mistaken for ours.
			tt.inject(f)
			other := &Claim{CommandID: "c-1", Action: "cancel-offering", State: StateReceived, Owner: "r2"}
			stored2, created, err := claims.Create(ctx, other)
			if err != nil || created || stored2.Owner != "r1" {
				t.Errorf("Create of a second claim = %+v, %v, %v; want the first, not created", stored2, created, err)
			}

			tt.inject(f)
			owner, err := claims.ReserveProcessID(ctx, "5b3b1c38-0e0c-4a1e-9d8a-6f1f0c2b7a11", "c-1")
			if err != nil || owner != "c-1" {
				t.Errorf("ReserveProcessID = %q, %v; want c-1", owner, err)
			}
		})
	}
}

// A pull request the server forgot (its consumer leader moved or crashed
// before the request reached the others) is detected by its missed
// heartbeats and sent again, not waited out. The consumer here is reached
// through an API prefix whose requests a relay forwards to JetStream,
// dropping the first pull request: the server never answers it, no
// message, no heartbeat, no timeout status. The pull window is below the
// 10s from which nats.go asks for heartbeats of its own: the stall must be
// detected by the heartbeats Consume asks for (and logged as such), not by
// the window running out.
func TestConsumeRecoversFromAStalledPull(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	srv := natstest.Start(t, natstest.Options{})
	b, err := Connect(ctx, Config{URL: srv.URL(), Provision: true, Name: t.Name()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Drain() })
	if err := b.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	var drop atomic.Int64
	drop.Store(1)
	var pulls atomic.Int64
	relay, err := b.nc.Subscribe("STALL.>", func(m *nats.Msg) {
		subject := "$JS.API." + strings.TrimPrefix(m.Subject, "STALL.")
		if strings.HasPrefix(subject, "$JS.API.CONSUMER.MSG.NEXT.") {
			pulls.Add(1)
			if drop.Add(-1) >= 0 {
				return // lost: the server never hears of it
			}
		}
		out := nats.NewMsg(subject)
		out.Data, out.Header, out.Reply = m.Data, m.Header, m.Reply
		_ = b.nc.PublishMsg(out)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Unsubscribe()
	sjs, err := jetstream.NewWithAPIPrefix(b.nc, "STALL")
	if err != nil {
		t.Fatal(err)
	}
	cons, err := sjs.Consumer(ctx, b.names.commands, commandConsumer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.js.Publish(ctx, b.CommandSubject("cancel-offering"), []byte("m-1")); err != nil {
		t.Fatal(err)
	}

	core, logs := observer.New(zap.WarnLevel)
	handled := make(chan string, 4)
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- consume(cctx, cons, 1, zap.New(core), func(_ context.Context, m jetstream.Msg) {
			handled <- string(m.Data())
			_ = m.Ack()
		}, pullTiming{window: 8 * time.Second, heartbeat: 500 * time.Millisecond})
	}()
	defer func() { stop(); <-done }()
	select {
	case got := <-handled:
		if got != "m-1" {
			t.Errorf("handled %q", got)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("the message was not handled")
	}
	if logs.FilterMessageSnippet("missed heartbeats").Len() == 0 {
		t.Error("the lost pull request was waited out, not detected by missed heartbeats")
	}
	if n := pulls.Load(); n < 2 {
		t.Errorf("%d pull requests, want the lost one and another", n)
	}
}
