package queue_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/txworker/txworker/internal/natstest"
	"github.com/txworker/txworker/queue"
)

func TestProvisionCreatesDesign(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	b := provisioned(t, url, func(c *queue.Config) { c.Prefix = "acme.tx-1"; c.AckWait = 90 * time.Second })
	ctx := testCtx(t)
	js := b.JetStream()

	streams := []struct {
		name, subject string
		retention     jetstream.RetentionPolicy
		maxAge        time.Duration
	}{
		{"ACME_TX_1_COMMANDS", "acme.tx-1.cmd.>", jetstream.WorkQueuePolicy, 0},
		{"ACME_TX_1_EVENTS", "acme.tx-1.evt.>", jetstream.LimitsPolicy, 7 * 24 * time.Hour},
		{"ACME_TX_1_TRACKING", "acme.tx-1.track.>", jetstream.WorkQueuePolicy, 0},
	}
	for _, want := range streams {
		s, err := js.Stream(ctx, want.name)
		if err != nil {
			t.Fatalf("stream %s: %v", want.name, err)
		}
		got := s.CachedInfo().Config
		if len(got.Subjects) != 1 || got.Subjects[0] != want.subject || got.Retention != want.retention ||
			got.MaxAge != want.maxAge || got.Duplicates != queue.DefaultDuplicateWindow || got.Replicas != 1 {
			t.Errorf("stream %s: subjects %v retention %v max age %v duplicates %v replicas %d", want.name,
				got.Subjects, got.Retention, got.MaxAge, got.Duplicates, got.Replicas)
		}
	}
	for _, want := range []struct {
		stream, name  string
		ackWait       time.Duration
		maxAckPending int
	}{
		{"ACME_TX_1_COMMANDS", "worker", 90 * time.Second, 4096},
		{"ACME_TX_1_TRACKING", "poller", queue.DefaultTrackingAckWait, 1_000_000},
	} {
		c, err := js.Consumer(ctx, want.stream, want.name)
		if err != nil {
			t.Fatalf("consumer %s: %v", want.name, err)
		}
		got := c.CachedInfo().Config
		if got.AckPolicy != jetstream.AckExplicitPolicy || got.AckWait != want.ackWait ||
			got.MaxDeliver != -1 || got.MaxAckPending != want.maxAckPending || got.Durable != want.name {
			t.Errorf("consumer %s: %+v", want.name, got)
		}
	}
	kv, err := js.KeyValue(ctx, "ACME_TX_1_STATE")
	if err != nil {
		t.Fatalf("bucket: %v", err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.History() != 1 || st.TTL() != queue.DefaultStateTTL {
		t.Errorf("bucket history %d ttl %v", st.History(), st.TTL())
	}
	if b.Commands() == nil || b.Tracking() == nil {
		t.Error("consumers not bound")
	}
	if got := b.CommandSubject("cancel-txn"); got != "acme.tx-1.cmd.cancel-txn" {
		t.Errorf("CommandSubject = %q", got)
	}
	if got := b.EventSubject("cancel-txn", "succeeded"); got != "acme.tx-1.evt.cancel-txn.succeeded" {
		t.Errorf("EventSubject = %q", got)
	}
}

func TestProvisionIdempotentAndUpdates(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	provisioned(t, url, nil)
	// Again with the same settings, then with a changed ack wait and window.
	provisioned(t, url, nil)
	b := provisioned(t, url, func(c *queue.Config) { c.AckWait = 2 * time.Minute; c.DuplicateWindow = time.Hour })
	ctx := testCtx(t)
	c, err := b.JetStream().Consumer(ctx, "TXWORKER_COMMANDS", "worker")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.CachedInfo().Config.AckWait; got != 2*time.Minute {
		t.Errorf("ack wait after update = %v", got)
	}
	s, err := b.JetStream().Stream(ctx, "TXWORKER_EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().Config.Duplicates; got != time.Hour {
		t.Errorf("duplicate window after update = %v", got)
	}
}

func TestProvisionConcurrent(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	const replicas = 8
	buses := make([]*queue.Bus, replicas)
	for i := range buses {
		buses[i] = connect(t, url, nil)
	}
	ctx := testCtx(t)
	for i, err := range provisionAtOnce(ctx, buses) {
		if err != nil {
			t.Errorf("replica %d: Provision: %v", i, err)
		}
	}
	// Each replica works with what the others created.
	for _, b := range buses {
		if _, _, err := b.Claims().Create(ctx, &queue.Claim{CommandID: "c", State: queue.StateReceived}); err != nil {
			t.Fatalf("Create: %v", err)
		}
	}
}

func TestProvisionOffNamesEverythingMissing(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	off := func(c *queue.Config) { c.Provision = false }
	err := connect(t, url, off).Provision(testCtx(t))
	if err == nil {
		t.Fatal("Provision on an empty server: nil error")
	}
	for _, want := range []string{
		"stream TXWORKER_COMMANDS", "stream TXWORKER_EVENTS", "stream TXWORKER_TRACKING",
		"consumer worker on stream TXWORKER_COMMANDS", "consumer poller on stream TXWORKER_TRACKING",
		"key-value bucket TXWORKER_STATE",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}

	// Provisioned by someone else, then one consumer deleted.
	admin := provisioned(t, url, nil)
	b := connect(t, url, off)
	if err := b.Provision(testCtx(t)); err != nil {
		t.Fatalf("Provision with everything there: %v", err)
	}
	if b.Commands() == nil || b.Tracking() == nil {
		t.Error("consumers not bound")
	}
	if err := admin.JetStream().DeleteConsumer(testCtx(t), "TXWORKER_TRACKING", "poller"); err != nil {
		t.Fatal(err)
	}
	err = connect(t, url, off).Provision(testCtx(t))
	if err == nil || !strings.Contains(err.Error(), "missing consumer poller on stream TXWORKER_TRACKING") ||
		strings.Contains(err.Error(), "stream TXWORKER_COMMANDS") {
		t.Errorf("Provision without the poller consumer: %v", err)
	}
}

func TestProvisionRefusesIncompatibleStream(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	b := connect(t, url, nil)
	// Someone made the commands stream a limits stream: retention cannot change.
	_, err := b.JetStream().CreateStream(testCtx(t), jetstream.StreamConfig{
		Name: "TXWORKER_COMMANDS", Subjects: []string{"txworker.cmd.>"}, Retention: jetstream.LimitsPolicy,
	})
	if err != nil {
		t.Fatal(err)
	}
	err = b.Provision(testCtx(t))
	if err == nil || !strings.Contains(err.Error(), "stream TXWORKER_COMMANDS") {
		t.Fatalf("Provision = %v, want an error naming the stream", err)
	}
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		t.Errorf("error %v does not wrap the API error", err)
	}
}
