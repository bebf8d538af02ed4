package queue_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/txworker/txworker/internal/natstest"
	"github.com/txworker/txworker/queue"
)

// clusterCtx bounds a test on a three-node cluster: creating replicated
// streams on a loaded machine takes longer than testTimeout.
func clusterCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// clusterBus returns a Bus on every node of c with three replicas, not yet
// provisioned.
func clusterBus(t *testing.T, ctx context.Context, c *natstest.Cluster, name string) *queue.Bus {
	t.Helper()
	b, err := queue.Connect(ctx, queue.Config{URL: c.URLs(), Provision: true, Replicas: 3, Name: name,
		StartTimeout: 90 * time.Second}, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { _ = b.Drain() })
	return b
}

// Several replicas started at once on a fresh three-node cluster with
// three replicas all provision (issue 17: they used to crash-loop on a 5s
// create-or-update each), and each works with what the others created.
func TestProvisionConcurrentOnFreshCluster(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	ctx := clusterCtx(t)
	const replicas = 4
	buses := make([]*queue.Bus, replicas)
	for i := range buses {
		buses[i] = clusterBus(t, ctx, c, t.Name())
	}
	for i, err := range provisionAtOnce(ctx, buses) {
		if err != nil {
			t.Fatalf("replica %d: Provision: %v", i, err)
		}
	}
	for i, b := range buses {
		_, created, err := b.Claims().Create(ctx, &queue.Claim{CommandID: "c", State: queue.StateReceived})
		if err != nil || created != (i == 0) {
			t.Fatalf("replica %d: Create: created %v, %v", i, created, err)
		}
	}
}

// A budget that runs out while the cluster cannot place the streams (two
// of its three nodes are down) names the stream Provision waited for.
func TestProvisionBudgetNamesWhatItWaitedFor(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	ctx := clusterCtx(t)
	b, err := queue.Connect(ctx, queue.Config{URL: c.URL(0), Provision: true, Replicas: 3, Name: t.Name(),
		StartTimeout: 5 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Drain() })
	c.Stop(1)
	c.Stop(2)
	err = b.Provision(ctx)
	if err == nil {
		t.Fatal("Provision with one node of three: nil error")
	}
	for _, want := range []string{"provision stream TXWORKER_COMMANDS", "gave up after", "last error"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// While the leader of the events stream and of the state bucket is
// stopped, events are published (once) and claims written: no responders
// and lost answers during the election are retried, not failed.
func TestClusterLeaderStopped(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	ctx := clusterCtx(t)
	b := clusterBus(t, ctx, c, t.Name())
	if err := b.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	claims := b.Claims()
	for round, stream := range []string{"TXWORKER_EVENTS", "KV_TXWORKER_STATE"} {
		leader := -1
		for leader < 0 {
			lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			i, err := c.StreamLeader(lctx, stream)
			cancel()
			if err != nil && ctx.Err() != nil {
				t.Fatalf("leader of %s: %v", stream, err)
			}
			leader = i
		}
		c.Stop(leader)
		id := []string{"c-events", "c-state"}[round]
		ev := queue.Event{ID: id + ":succeeded", Data: queue.EventData{CommandID: id, Action: "cancel-offering",
			Outcome: queue.OutcomeSucceeded}}
		pctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		if _, err := b.PublishEvent(pctx, ev, queue.Trace{}); err != nil {
			t.Errorf("PublishEvent with the %s leader stopped: %v", stream, err)
		}
		cl := &queue.Claim{CommandID: id, State: queue.StateReceived}
		if _, _, err := claims.Create(pctx, cl); err != nil {
			t.Errorf("Create with the %s leader stopped: %v", stream, err)
		} else {
			next := *cl
			next.State = queue.StateCalling
			if err := claims.Update(pctx, &next); err != nil {
				t.Errorf("Update with the %s leader stopped: %v", stream, err)
			}
		}
		cancel()
		if err := c.Restart(leader); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(events(t, b)); n != 2 {
		t.Errorf("%d events stored, want 2", n)
	}
}
