package queue

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/txworker/txworker/internal/natstest"
)

// limitsBus returns a provisioned Bus on a fresh embedded server.
func limitsBus(t *testing.T) (*Bus, context.Context) {
	t.Helper()
	url := natstest.Start(t, natstest.Options{}).URL()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	b, err := Connect(ctx, Config{URL: url, Provision: true, Name: t.Name()}, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { _ = b.Drain() })
	if err := b.Provision(ctx); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	return b, ctx
}

// TestProvisionedStreamLimits checks the limits and discard policy of every
// stream as the server holds them after Provision.
func TestProvisionedStreamLimits(t *testing.T) {
	b, ctx := limitsBus(t)
	for _, want := range []struct {
		stream   string
		maxMsgs  int64
		maxBytes int64
		maxAge   time.Duration
		discard  jetstream.DiscardPolicy
	}{
		{"TXWORKER_COMMANDS", 1_000_000, 1 << 30, 0, jetstream.DiscardNew},
		{"TXWORKER_TRACKING", 1_000_000, 1 << 30, 0, jetstream.DiscardNew},
		{"TXWORKER_EVENTS", -1, 2 << 30, 7 * 24 * time.Hour, jetstream.DiscardOld},
	} {
		s, err := b.js.Stream(ctx, want.stream)
		if err != nil {
			t.Fatalf("stream %s: %v", want.stream, err)
		}
		got := s.CachedInfo().Config
		if got.MaxMsgs != want.maxMsgs || got.MaxBytes != want.maxBytes || got.MaxAge != want.maxAge || got.Discard != want.discard {
			t.Errorf("stream %s: max msgs %d, max bytes %d, max age %s, discard %s; want %d, %d, %s, %s", want.stream,
				got.MaxMsgs, got.MaxBytes, got.MaxAge, got.Discard, want.maxMsgs, want.maxBytes, want.maxAge, want.discard)
		}
	}
	if trackingMaxMsgs != trackingMaxAckPending {
		t.Errorf("the tracking stream holds %d messages, its consumer keeps %d pending", trackingMaxMsgs, trackingMaxAckPending)
	}
}

// TestFullStreamRefusesPublish shrinks each stream's provisioned configuration
// (every setting kept but one limit) and fills it: a full work-queue stream
// refuses the next publish and keeps every message it holds; the events
// stream accepts it and drops its oldest event.
func TestFullStreamRefusesPublish(t *testing.T) {
	const held = 3
	for _, tc := range []struct {
		name    string
		stream  func(names) string
		subject string
		shrink  func(c *jetstream.StreamConfig, msgBytes uint64)
		refuses bool
	}{
		{"commands by count", func(n names) string { return n.commands }, "txworker.cmd.cancel-txn",
			func(c *jetstream.StreamConfig, _ uint64) { c.MaxMsgs = held }, true},
		{"commands by size", func(n names) string { return n.commands }, "txworker.cmd.cancel-txn",
			func(c *jetstream.StreamConfig, n uint64) { c.MaxBytes = int64(held * n) }, true},
		{"tracking by count", func(n names) string { return n.tracking }, "txworker.track.abc",
			func(c *jetstream.StreamConfig, _ uint64) { c.MaxMsgs = held }, true},
		{"tracking by size", func(n names) string { return n.tracking }, "txworker.track.abc",
			func(c *jetstream.StreamConfig, n uint64) { c.MaxBytes = int64(held * n) }, true},
		{"events by size", func(n names) string { return n.events }, "txworker.evt.cancel-txn.succeeded",
			func(c *jetstream.StreamConfig, n uint64) { c.MaxBytes = int64(held * n) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, ctx := limitsBus(t)
			name := tc.stream(b.names)
			var cfg jetstream.StreamConfig
			for _, sc := range b.streamConfigs() {
				if sc.Name == name {
					cfg = sc
				}
			}
			// One message first, to learn what a message takes in the stream.
			payload := make([]byte, 100)
			if _, err := b.js.Publish(ctx, tc.subject, payload); err != nil {
				t.Fatalf("publish 1 of %d: %v", held, err)
			}
			s, err := b.js.Stream(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			tc.shrink(&cfg, s.CachedInfo().State.Bytes)
			if _, err := b.js.UpdateStream(ctx, cfg); err != nil {
				t.Fatalf("update %s: %v", name, err)
			}
			for i := 1; i < held; i++ {
				if _, err := b.js.Publish(ctx, tc.subject, payload); err != nil {
					t.Fatalf("publish %d of %d: %v", i+1, held, err)
				}
			}
			_, err = b.js.Publish(ctx, tc.subject, payload)
			if tc.refuses && err == nil {
				t.Fatalf("%s is full and accepted another message", name)
			}
			if !tc.refuses && err != nil {
				t.Fatalf("%s refused a message when full: %v", name, err)
			}
			if s, err = b.js.Stream(ctx, name); err != nil {
				t.Fatal(err)
			}
			st := s.CachedInfo().State
			want := fmt.Sprintf("first 1, last %d", held)
			if !tc.refuses {
				want = fmt.Sprintf("last %d, first above 1", held+1)
			}
			if tc.refuses && (st.FirstSeq != 1 || st.LastSeq != held || st.Msgs != held) ||
				!tc.refuses && (st.LastSeq != held+1 || st.FirstSeq <= 1) {
				t.Errorf("%s holds %d messages, first %d, last %d; want %s", name, st.Msgs, st.FirstSeq, st.LastSeq, want)
			}
		})
	}
}
