package load

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/txworker/txworker/internal/natstest"
	"github.com/txworker/txworker/internal/rig"
	"github.com/txworker/txworker/internal/sandbox"
	"github.com/txworker/txworker/metrics"
	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/platform/platformtest"
	"github.com/txworker/txworker/queue"
)

// The reference consumer, in this process against the rig's NATS and
// simulator: every cancel ends succeeded exactly once; with claims each
// command's claim is left terminal and published, bare leaves none.
func TestReferenceConsumer(t *testing.T) {
	for _, mode := range ReferenceModes() {
		t.Run(mode, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			r, err := rig.Start(ctx, rig.Config{Sim: platformtest.Config{AutoCreate: true, LogSize: -1}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(r.Close)
			bus, err := queue.Connect(ctx, queue.Config{URL: r.NATS.URL(), Prefix: r.Prefix, Provision: true, Name: "reference-test"}, zap.NewNop())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = bus.Drain() })
			if err := bus.Provision(ctx); err != nil {
				t.Fatal(err)
			}
			jm, err := platform.NewJM(platform.JMConfig{BaseURL: r.SimURL, Username: sandbox.JMUser, Password: sandbox.JMPassword,
				UserAgent: "reference-test"}, zap.NewNop(), metrics.New(prometheus.NewRegistry()))
			if err != nil {
				t.Fatal(err)
			}
			_, js := natstest.Connect(t, r.NATS.URL())
			ref, err := newReference(ctx, mode, bus, js, jm, 4, zap.NewNop())
			if err != nil {
				t.Fatal(err)
			}
			runCtx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- ref.Run(runCtx) }()
			col, err := r.Collect(ctx)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(col.Stop)

			gen := rig.NewCommandGen("R" + time.Now().Format("150405"))
			var ids []string
			for range 10 {
				c := gen.Next("cancel-txn")
				col.Expect(c.ID, c.Action, time.Now())
				if err := r.Publish(ctx, c); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, c.ID)
			}
			if err := col.WaitEnded(ctx, len(ids)); err != nil {
				t.Fatal(err)
			}
			stop()
			if err := <-done; err != nil {
				t.Fatalf("Run: %v", err)
			}
			missing, twice, undecoded := col.Check(ids)
			if len(missing)+len(twice)+undecoded > 0 {
				t.Fatalf("missing %v, twice %v, undecoded %d", missing, twice, undecoded)
			}
			kv, err := js.KeyValue(ctx, bus.StateBucket())
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range ids {
				rec, _ := col.Record(id)
				if rec.Outcome != queue.OutcomeSucceeded || rec.CommandStoredAt.IsZero() {
					t.Errorf("%s: outcome %q, command stored at %v", id, rec.Outcome, rec.CommandStoredAt)
				}
				e, err := kv.Get(ctx, base64.RawURLEncoding.EncodeToString([]byte(id)))
				if mode == referenceBare {
					if !errors.Is(err, jetstream.ErrKeyNotFound) {
						t.Errorf("%s: bare wrote a claim (err %v)", id, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: claim: %v", id, err)
				}
				var cl referenceClaim
				if err := json.Unmarshal(e.Value(), &cl); err != nil || cl.State != "terminal" || !cl.Published {
					t.Errorf("%s: claim %s (err %v), want terminal and published", id, e.Value(), err)
				}
			}
		})
	}
}
