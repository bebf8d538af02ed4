package queue_test

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/txworker/txworker/internal/natstest"
	"github.com/txworker/txworker/queue"
)

// trackingAckWait is the tracking consumer's ack wait as the server has it.
func trackingAckWait(t *testing.T, b *queue.Bus) time.Duration {
	t.Helper()
	info, err := b.Tracking().Info(testCtx(t))
	if err != nil {
		t.Fatalf("tracking consumer info: %v", err)
	}
	return info.Config.AckWait
}

// TestTrackingAckWaitProvisioned: the tracking consumer gets
// Config.TrackingAckWait (default DefaultTrackingAckWait, 15s), and an
// existing consumer with another ack wait is updated when provisioning is on.
func TestTrackingAckWaitProvisioned(t *testing.T) {
	if queue.DefaultTrackingAckWait != 15*time.Second {
		t.Errorf("DefaultTrackingAckWait = %s, want 15s (issue 17: in the order of 10-15s)", queue.DefaultTrackingAckWait)
	}
	url := natstest.Start(t, natstest.Options{}).URL()
	for _, step := range []struct {
		name string
		set  time.Duration // 0: the default
		want time.Duration
	}{
		{"created with the default", 0, queue.DefaultTrackingAckWait},
		{"shortened", 2 * time.Second, 2 * time.Second},
		{"lengthened", time.Minute, time.Minute},
		{"back to the default", 0, queue.DefaultTrackingAckWait},
	} {
		b := provisioned(t, url, func(c *queue.Config) { c.TrackingAckWait = step.set })
		if got := trackingAckWait(t, b); got != step.want {
			t.Errorf("%s: tracking ack wait %s, want %s", step.name, got, step.want)
		}
		// The command consumer keeps its own.
		info, err := b.Commands().Info(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		if info.Config.AckWait != queue.DefaultAckWait {
			t.Errorf("%s: command ack wait %s, want %s", step.name, info.Config.AckWait, queue.DefaultAckWait)
		}
	}
}

// TestTrackingAckWaitDriftWithProvisioningOff: with provisioning off, a
// tracking (or command) consumer whose ack wait differs from the configured
// one is left as it is and reported as drift, like the other settings.
func TestTrackingAckWaitDriftWithProvisioningOff(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	provisioned(t, url, func(c *queue.Config) { c.TrackingAckWait = time.Minute; c.AckWait = 45 * time.Second })

	core, logs := observer.New(zap.WarnLevel)
	b, err := queue.Connect(testCtx(t), queue.Config{URL: url, Name: t.Name()}, zap.New(core)) // Provision false
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Drain() })
	if err := b.Provision(testCtx(t)); err != nil {
		t.Fatalf("Provision (check only): %v", err)
	}
	if got := trackingAckWait(t, b); got != time.Minute {
		t.Errorf("tracking ack wait %s after a check, want 1m0s left as it was", got)
	}
	want := map[string]string{
		"poller": "ack wait 1m0s, want " + queue.DefaultTrackingAckWait.String(),
		"worker": "ack wait 45s, want " + queue.DefaultAckWait.String(),
	}
	for _, e := range logs.FilterMessage("consumer differs from the design").All() {
		consumer, _ := e.ContextMap()["consumer"].(string)
		diffs := strings.Join(anyStrings(e.ContextMap()["differences"]), "; ")
		if w, ok := want[consumer]; ok && strings.Contains(diffs, w) {
			delete(want, consumer)
		}
	}
	for consumer, w := range want {
		t.Errorf("consumer %s: no drift warning %q (logged: %v)", consumer, w, logs.All())
	}
}

// anyStrings turns a logged []string field back into strings.
func anyStrings(v any) []string {
	switch x := v.(type) {
	case []string:
		return x
	case []any:
		out := make([]string, 0, len(x))
		for _, s := range x {
			if str, ok := s.(string); ok {
				out = append(out, str)
			}
		}
		return out
	}
	return nil
}
