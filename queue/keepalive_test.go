package queue_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/txworker/txworker/queue"
)

func TestKeepAlive(t *testing.T) {
	var n atomic.Int64
	stop := queue.KeepAlive(func() time.Duration { return 5 * time.Millisecond }, func() { n.Add(1) })
	deadline := time.Now().Add(10 * time.Second)
	for n.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("touched %d times in 10s, want ≥ 3", n.Load())
		}
		time.Sleep(time.Millisecond)
	}
	stop()
	after := n.Load()
	time.Sleep(30 * time.Millisecond) // six intervals: none may touch
	if got := n.Load(); got != after {
		t.Errorf("touched %d times after stop", got-after)
	}
}

// stop waits for a touch in progress: after it returns, nothing touches a
// message the caller goes on to acknowledge.
func TestKeepAliveStopWaitsForTouch(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var inTouch atomic.Bool
	var once atomic.Bool
	stop := queue.KeepAlive(func() time.Duration { return time.Millisecond }, func() {
		inTouch.Store(true)
		if once.CompareAndSwap(false, true) {
			close(entered)
			<-release
		}
		inTouch.Store(false)
	})
	<-entered
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("stop returned while a touch was in progress")
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	<-stopped
	if inTouch.Load() {
		t.Error("a touch runs after stop returned")
	}
}
