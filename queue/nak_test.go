package queue_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/txworker/txworker/internal/natstest"
	"github.com/txworker/txworker/queue"
)

// These tests pin down server behaviour the tracking design relies on.

// nakStream creates a work-queue stream and a consumer with the given ack
// wait and max ack pending, and publishes n messages.
func nakStream(t *testing.T, b *queue.Bus, ackWait time.Duration, maxAckPending, n int) jetstream.Consumer {
	t.Helper()
	ctx := testCtx(t)
	js := b.JetStream()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "NAK", Subjects: []string{"nak.>"},
		Retention: jetstream.WorkQueuePolicy}); err != nil {
		t.Fatal(err)
	}
	c, err := js.CreateConsumer(ctx, "NAK", jetstream.ConsumerConfig{Durable: "c", AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: ackWait, MaxDeliver: -1, MaxAckPending: maxAckPending})
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		if _, err := js.Publish(ctx, "nak.x", []byte("m")); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// fetchAll fetches up to n messages waiting at most wait.
func fetchAll(t *testing.T, c jetstream.Consumer, n int, wait time.Duration) []jetstream.Msg {
	t.Helper()
	batch, err := c.Fetch(n, jetstream.FetchMaxWait(wait))
	if err != nil {
		t.Fatal(err)
	}
	var out []jetstream.Msg
	for m := range batch.Messages() {
		out = append(out, m)
	}
	return out
}

// TestNakWithDelayStaysAckPending: a message answered with NakWithDelay
// counts against MaxAckPending until it is redelivered, also past AckWait, so
// it blocks further deliveries when the limit is reached.
func TestNakWithDelayStaysAckPending(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	b := provisioned(t, url, nil)
	c := nakStream(t, b, time.Second, 2, 3)

	msgs := fetchAll(t, c, 2, time.Second)
	if len(msgs) != 2 {
		t.Fatalf("fetched %d, want 2", len(msgs))
	}
	for _, m := range msgs {
		if err := m.NakWithDelay(time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "naks processed", func() bool {
		ci, err := c.Info(testCtx(t))
		return err == nil && ci.NumAckPending == 2 && ci.NumRedelivered == 0 && ci.NumPending == 1
	})
	// Two ack waits later nothing came: the third message is held back by
	// MaxAckPending, the two delayed ones wait for their delay.
	if got := fetchAll(t, c, 3, 2500*time.Millisecond); len(got) != 0 {
		t.Fatalf("fetched %d messages while 2 delayed naks fill MaxAckPending 2", len(got))
	}
	ci, err := c.Info(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if ci.NumAckPending != 2 || ci.NumPending != 1 {
		t.Errorf("after AckWait: ack pending %d pending %d, want 2 and 1", ci.NumAckPending, ci.NumPending)
	}
}

// TestNakWithDelayLongerThanAckWait: the message comes back after the nak
// delay, not after AckWait.
func TestNakWithDelayLongerThanAckWait(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	b := provisioned(t, url, nil)
	const ackWait, delay = time.Second, 3 * time.Second
	c := nakStream(t, b, ackWait, 10, 1)

	msgs := fetchAll(t, c, 1, time.Second)
	if len(msgs) != 1 {
		t.Fatalf("fetched %d, want 1", len(msgs))
	}
	naked := time.Now()
	if err := msgs[0].NakWithDelay(delay); err != nil {
		t.Fatal(err)
	}
	again := fetchAll(t, c, 1, 10*time.Second)
	back := time.Since(naked)
	if len(again) != 1 {
		t.Fatal("message not redelivered")
	}
	if back < delay-200*time.Millisecond || back > delay+2*time.Second {
		t.Errorf("redelivered after %v; ack wait %v, nak delay %v", back, ackWait, delay)
	}
	md, err := again[0].Metadata()
	if err != nil || md.NumDelivered != 2 {
		t.Errorf("metadata %+v, %v", md, err)
	}
	t.Logf("redelivered %v after NakWithDelay(%v) with AckWait %v", back.Round(10*time.Millisecond), delay, ackWait)
}

// TestTrackingPendingCountsDelayed: TrackingPending counts orchestrations
// whose messages wait out a NakWithDelay.
func TestTrackingPendingCountsDelayed(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	b := provisioned(t, url, nil)
	ctx := testCtx(t)
	for _, id := range []string{"a", "b", "c"} {
		if err := b.PublishTrack(ctx, queue.Track{CommandID: id, Action: "cancel-offering", OrchestrationID: "o-" + id}); err != nil {
			t.Fatal(err)
		}
	}
	msgs := fetchAll(t, b.Tracking(), 2, time.Second)
	for _, m := range msgs {
		if err := m.NakWithDelay(time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "three tracked", func() bool {
		n, err := b.TrackingPending(ctx)
		return err == nil && n == 3
	})
}
