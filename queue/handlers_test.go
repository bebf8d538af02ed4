package queue

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// The fetch loop's hand-off: every message handled, never more than max at
// once, on at most max goroutines however many messages pass.
func TestHandlersReuseAtMostMaxGoroutines(t *testing.T) {
	const max, msgs = 3, 500
	var running, peak, done atomic.Int64
	slots := make(chan struct{}, max)
	h := &handlers{ctx: context.Background(), work: make(chan jetstream.Msg), max: max, slots: slots,
		handle: func(context.Context, jetstream.Msg) {
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			runtime.Gosched()
			running.Add(-1)
			done.Add(1)
		}}
	for range msgs {
		slots <- struct{}{} // the fetch loop takes a slot per message
		h.run(nil)
	}
	h.wait()
	if got := done.Load(); got != msgs {
		t.Errorf("handled %d of %d", got, msgs)
	}
	if p := peak.Load(); p > max {
		t.Errorf("%d handlers ran at once, max %d", p, max)
	}
	if h.n > max || h.n < 1 {
		t.Errorf("%d goroutines started for %d messages, want 1..%d", h.n, msgs, max)
	}
	if len(slots) != 0 {
		t.Errorf("%d slots still held after every handler returned", len(slots))
	}
}
