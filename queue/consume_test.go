package queue_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/txworker/txworker/internal/natstest"
	"github.com/txworker/txworker/queue"
)

// publishCommands publishes n commands with distinct ids.
func publishCommands(t *testing.T, b *queue.Bus, from, n int) {
	t.Helper()
	ctx := testCtx(t)
	for i := from; i < from+n; i++ {
		id := "cmd-" + strconv.Itoa(i)
		if _, err := b.JetStream().Publish(ctx, b.CommandSubject("cancel-txn"), []byte(`{"commandId":"`+id+`"}`),
			jetstream.WithMsgID(id)); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
}

// runConsume starts Consume in a goroutine; wait receives its result.
func runConsume(ctx context.Context, c jetstream.Consumer, n int, h func(context.Context, jetstream.Msg)) (wait func(t *testing.T) error) {
	done := make(chan error, 1)
	go func() { done <- queue.Consume(ctx, c, n, nil, h) }()
	return func(t *testing.T) error {
		t.Helper()
		select {
		case err := <-done:
			return err
		case <-time.After(testTimeout):
			t.Fatal("Consume did not return")
			return nil
		}
	}
}

func TestConsumeBoundsConcurrency(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	b := provisioned(t, url, nil)
	const n, total = 4, 40
	publishCommands(t, b, 0, total)

	var active, most, handled atomic.Int32
	release := make(chan struct{})
	ctx, cancel := context.WithCancel(testCtx(t))
	wait := runConsume(ctx, b.Commands(), n, func(ctx context.Context, m jetstream.Msg) {
		a := active.Add(1)
		for {
			if m := most.Load(); a <= m || most.CompareAndSwap(m, a) {
				break
			}
		}
		<-release
		active.Add(-1)
		if err := m.DoubleAck(ctx); err != nil {
			t.Errorf("ack: %v", err)
		}
		handled.Add(1)
	})
	eventually(t, "n handlers running", func() bool { return active.Load() == n })
	// Nothing pulled beyond the free handlers: exactly n delivered, unacked.
	info, err := b.Commands().Info(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending != n || info.NumPending != total-n {
		t.Errorf("ack pending %d, pending %d; want %d, %d", info.NumAckPending, info.NumPending, n, total-n)
	}
	if p, err := b.CommandsPending(testCtx(t)); err != nil || p != total-n {
		t.Errorf("CommandsPending = %d, %v", p, err)
	}
	close(release)
	eventually(t, "every command handled", func() bool { return handled.Load() == total })
	cancel()
	if err := wait(t); err != nil {
		t.Fatalf("Consume: %v", err)
	}
	if most.Load() > n {
		t.Errorf("%d handlers ran at once, limit %d", most.Load(), n)
	}
}

func TestConsumeStopsAndWaitsOnCancel(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	b := provisioned(t, url, nil)
	publishCommands(t, b, 0, 2)

	var started, finished atomic.Int32
	release := make(chan struct{})
	ctx, cancel := context.WithCancel(testCtx(t))
	wait := runConsume(ctx, b.Commands(), 2, func(hctx context.Context, m jetstream.Msg) {
		started.Add(1)
		<-hctx.Done() // the handler sees the shutdown…
		<-release     // …and takes a while to wrap up
		_ = m.NakWithDelay(time.Second)
		finished.Add(1)
	})
	eventually(t, "both handlers running", func() bool { return started.Load() == 2 })
	cancel()
	publishCommands(t, b, 2, 3) // arrives after intake stopped
	close(release)
	if err := wait(t); err != nil {
		t.Fatalf("Consume: %v", err)
	}
	if finished.Load() != 2 {
		t.Errorf("Consume returned with %d of 2 handlers finished", finished.Load())
	}
	if started.Load() != 2 {
		t.Errorf("%d handlers started, want 2: pulled after cancel", started.Load())
	}
	if err := queue.Consume(ctx, nil, 1, nil, nil); err == nil {
		t.Error("Consume without a consumer: nil error")
	}
}
