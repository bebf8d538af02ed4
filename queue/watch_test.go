package queue_test

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/txworker/txworker/internal/natstest"
	"github.com/txworker/txworker/queue"
)

// removal is what an operator deletes, and what Check must then name.
type removal struct {
	name    string
	remove  func(ctx context.Context, js jetstream.JetStream) error
	faults  []queue.Resource // in the order of queue.Resources
	mention []string         // in Health.Err
}

var removals = []removal{{
	name: "commands stream",
	remove: func(ctx context.Context, js jetstream.JetStream) error {
		return js.DeleteStream(ctx, "TXWORKER_COMMANDS")
	},
	faults:  []queue.Resource{queue.ResourceCommandsStream, queue.ResourceCommandsConsumer},
	mention: []string{"missing stream TXWORKER_COMMANDS", "consumer worker on stream TXWORKER_COMMANDS"},
}, {
	name: "state bucket",
	remove: func(ctx context.Context, js jetstream.JetStream) error {
		return js.DeleteKeyValue(ctx, "TXWORKER_STATE")
	},
	faults:  []queue.Resource{queue.ResourceStateBucket},
	mention: []string{"missing key-value bucket TXWORKER_STATE"},
}, {
	name: "tracking consumer",
	remove: func(ctx context.Context, js jetstream.JetStream) error {
		return js.DeleteConsumer(ctx, "TXWORKER_TRACKING", "poller")
	},
	faults:  []queue.Resource{queue.ResourceTrackingConsumer},
	mention: []string{"missing consumer poller on stream TXWORKER_TRACKING"},
}, {
	name: "events stream",
	remove: func(ctx context.Context, js jetstream.JetStream) error {
		return js.DeleteStream(ctx, "TXWORKER_EVENTS")
	},
	faults:  []queue.Resource{queue.ResourceEventsStream},
	mention: []string{"missing stream TXWORKER_EVENTS"},
}}

func faultResources(h queue.Health) []queue.Resource {
	var out []queue.Resource
	for _, f := range h.Faults {
		out = append(out, f.Resource)
	}
	return out
}

func TestCheckAllThere(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	b := provisioned(t, url, nil)
	h := b.Check(testCtx(t))
	if err := h.Err(); err != nil || len(h.Faults) != 0 || len(h.Recreated) != 0 {
		t.Fatalf("Check of a provisioned bus: %+v (%v)", h, err)
	}
	for _, r := range queue.Resources() {
		if !h.Ready(r) {
			t.Errorf("Ready(%s) = false", r)
		}
	}
}

func TestCheckNamesWhatIsMissingWithProvisioningOff(t *testing.T) {
	for _, tt := range removals {
		t.Run(tt.name, func(t *testing.T) {
			url := natstest.Start(t, natstest.Options{}).URL()
			admin := provisioned(t, url, nil)
			b := provisioned(t, url, func(c *queue.Config) { c.Provision = false })
			ctx := testCtx(t)
			if err := tt.remove(ctx, admin.JetStream()); err != nil {
				t.Fatal(err)
			}
			for range 2 { // nothing re-creates it: the second check finds the same
				h := b.Check(ctx)
				if got := faultResources(h); !slices.Equal(got, tt.faults) {
					t.Fatalf("faults %v, want %v", got, tt.faults)
				}
				for _, f := range h.Faults {
					if !f.Missing {
						t.Errorf("%s: not marked missing (%v)", f.Resource, f.Err)
					}
				}
				if len(h.Recreated) != 0 {
					t.Errorf("re-created %v with provisioning off", h.Recreated)
				}
				for _, want := range tt.mention {
					if err := h.Err(); err == nil || !strings.Contains(err.Error(), want) {
						t.Errorf("Err() = %v, does not name %q", err, want)
					}
				}
			}
		})
	}
}

func TestCheckRecreatesWithProvisioningOn(t *testing.T) {
	for _, tt := range removals {
		t.Run(tt.name, func(t *testing.T) {
			url := natstest.Start(t, natstest.Options{}).URL()
			b := provisioned(t, url, nil)
			ctx := testCtx(t)
			// A worker consuming from before the deletion: its handle must
			// serve the re-created consumer.
			commands, tracking := b.Commands(), b.Tracking()
			var got atomic.Int64
			cctx, cancel := context.WithCancel(ctx)
			wait := runConsume(cctx, commands, 2, func(_ context.Context, m jetstream.Msg) {
				_ = m.Ack()
				got.Add(1)
			})
			defer func() { cancel(); _ = wait(t) }()

			if err := tt.remove(ctx, b.JetStream()); err != nil {
				t.Fatal(err)
			}
			h := b.Check(ctx)
			if err := h.Err(); err != nil || len(h.Faults) != 0 {
				t.Fatalf("after re-creating: %v", err)
			}
			if !slices.Equal(h.Recreated, tt.faults) {
				t.Errorf("re-created %v, want %v", h.Recreated, tt.faults)
			}
			if h2 := b.Check(ctx); len(h2.Faults) != 0 || len(h2.Recreated) != 0 {
				t.Errorf("second check: %+v", h2)
			}

			publishCommands(t, b, 0, 1)
			eventually(t, "the command published after re-creation consumed", func() bool { return got.Load() == 1 })
			if _, _, err := b.Claims().Create(ctx, &queue.Claim{CommandID: "after", State: queue.StateReceived}); err != nil {
				t.Errorf("claim after re-creation: %v", err)
			}
			if _, err := b.JetStream().Publish(ctx, b.EventSubject("cancel-txn", "succeeded"), []byte(`{}`)); err != nil {
				t.Errorf("event after re-creation: %v", err)
			}
			if _, err := b.JetStream().Publish(ctx, "txworker.track.cancel-txn", []byte(`{}`)); err != nil {
				t.Fatalf("tracking message after re-creation: %v", err)
			}
			if msgs := fetchAll(t, tracking, 1, 5*time.Second); len(msgs) != 1 {
				t.Errorf("tracking handle from before the deletion fetched %d messages, want 1", len(msgs))
			}
			for _, c := range []jetstream.Consumer{b.Commands(), b.Tracking()} {
				if _, err := c.Info(ctx); err != nil {
					t.Errorf("bound consumer after re-creation: %v", err)
				}
			}
		})
	}
}

func TestCheckUnreachable(t *testing.T) {
	ns := natstest.Start(t, natstest.Options{})
	url := ns.URL()
	// Provisioning on, yet nothing is re-created. Not drained at cleanup:
	// the drain of a connection that is down fails.
	b, err := queue.Connect(testCtx(t), queue.Config{URL: url, Provision: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Conn().Close() })
	if err := b.Provision(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	ns.Stop()
	ctx, cancel := context.WithTimeout(testCtx(t), 2*time.Second)
	defer cancel()
	h := b.Check(ctx)
	if got := faultResources(h); !slices.Equal(got, queue.Resources()) {
		t.Fatalf("faults %v, want every resource", got)
	}
	for _, f := range h.Faults {
		if f.Missing || f.Err == nil {
			t.Errorf("%s: missing %v, err %v; want a lookup failure", f.Resource, f.Missing, f.Err)
		}
	}
	if len(h.Recreated) != 0 || h.RecreateErr != nil {
		t.Errorf("re-create attempted for unreachable resources: %v %v", h.Recreated, h.RecreateErr)
	}
	if err := h.Err(); err == nil || !strings.Contains(err.Error(), "lookup failed: stream TXWORKER_COMMANDS") {
		t.Errorf("Err() = %v", err)
	}
}

func TestWatchReportsLossAndRecovery(t *testing.T) {
	tests := []struct {
		name      string
		provision bool
	}{{"provisioning on", true}, {"provisioning off", false}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := natstest.Start(t, natstest.Options{}).URL()
			admin := provisioned(t, url, nil)
			b := provisioned(t, url, func(c *queue.Config) { c.Provision = tt.provision })
			ctx, cancel := context.WithCancel(testCtx(t))
			reports := make(chan queue.Health, 100)
			done := make(chan error, 1)
			go func() {
				done <- b.Watch(ctx, 10*time.Millisecond, func(h queue.Health) {
					select {
					case reports <- h:
					default:
					}
				})
			}()
			next := func(what string, cond func(queue.Health) bool) queue.Health {
				t.Helper()
				deadline := time.After(testTimeout)
				for {
					select {
					case h := <-reports:
						if cond(h) {
							return h
						}
					case <-deadline:
						t.Fatalf("no report %s", what)
					}
				}
			}
			next("with everything there", func(h queue.Health) bool { return len(h.Faults) == 0 })
			if err := admin.JetStream().DeleteStream(ctx, "TXWORKER_COMMANDS"); err != nil {
				t.Fatal(err)
			}
			if tt.provision {
				h := next("of the re-creation", func(h queue.Health) bool { return len(h.Recreated) > 0 })
				if len(h.Faults) != 0 {
					t.Errorf("faults after re-creation: %v", h.Err())
				}
			} else {
				h := next("naming the stream", func(h queue.Health) bool { return !h.Ready(queue.ResourceCommandsStream) })
				if !strings.Contains(h.Err().Error(), "stream TXWORKER_COMMANDS") {
					t.Errorf("Err() = %v", h.Err())
				}
				// An operator re-creates it.
				if err := admin.Provision(ctx); err != nil {
					t.Fatal(err)
				}
				next("after the operator's fix", func(h queue.Health) bool { return len(h.Faults) == 0 })
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Watch returned %v", err)
				}
			case <-time.After(testTimeout):
				t.Fatal("Watch did not return after cancel")
			}
		})
	}
}

func TestWatchNeedsReport(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	if err := provisioned(t, url, nil).Watch(testCtx(t), time.Second, nil); err == nil {
		t.Error("Watch with a nil report: nil error")
	}
}
