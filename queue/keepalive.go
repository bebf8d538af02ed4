package queue

import (
	"sync"
	"time"
)

// KeepAlive calls touch every interval (every() is asked before each wait,
// so that it can follow a setting changed meanwhile) until stop is called: the worker
// and the poller tell JetStream with InProgress that messages in hand are
// still being worked on, so that the ack wait does not hand them to another
// replica. stop returns once a touch in progress has returned, and no touch
// starts after it. It is a timer, not a goroutine: work that ends before
// the first interval costs nothing more.
func KeepAlive(every func() time.Duration, touch func()) (stop func()) {
	var (
		mu      sync.Mutex
		stopped bool
		t       *time.Timer
	)
	mu.Lock()
	defer mu.Unlock()
	t = time.AfterFunc(every(), func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		touch()
		t.Reset(every())
	})
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		t.Stop()
	}
}
