package worker

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// progressMsg counts InProgress; any other method of the message panics.
type progressMsg struct {
	jetstream.Msg
	n atomic.Int32
}

func (m *progressMsg) InProgress() error { m.n.Add(1); return nil }

func TestKeepAliveTicksUntilStopped(t *testing.T) {
	msg := &progressMsg{}
	h := &handling{w: &Worker{cfg: Config{KeepAlive: 10 * time.Millisecond}}, msg: msg}
	stop := h.keepAlive()
	deadline := time.Now().Add(5 * time.Second)
	for msg.n.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d InProgress within 5s, want 3", msg.n.Load())
		}
		time.Sleep(time.Millisecond) // polling a condition
	}
	stop()
	n := msg.n.Load()
	time.Sleep(50 * time.Millisecond)   // five periods: no new tick may follow stop
	if got := msg.n.Load(); got > n+1 { // (one already firing as stop ran may finish)
		t.Errorf("%d InProgress after stop", got-n)
	}

	quick := &progressMsg{}
	h.msg = quick
	h.keepAlive()() // a call that ends before the first tick
	time.Sleep(30 * time.Millisecond)
	if got := quick.n.Load(); got != 0 {
		t.Errorf("%d InProgress for a call stopped at once", got)
	}
}
