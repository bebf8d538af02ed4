package metrics_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestNATSPermissions starts a NATS server whose account uses the two users
// of deploy/nats/permissions.conf and proves that the service user can
// provision, consume, acknowledge, publish and keep claims, that the producer
// can publish commands, follow events and read claims, and that neither can
// do the other's work or touch anything else.
func TestNATSPermissions(t *testing.T) {
	url := startPermissionedNATS(t)
	svc, svcViolations := jetStreamAs(t, url, "txworker", "service-secret")
	prod, prodViolations := jetStreamAs(t, url, "producer", "producer-secret")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	// Provisioning, as the worker does it at start-up.
	for _, sc := range []jetstream.StreamConfig{
		{Name: "TXWORKER_COMMANDS", Subjects: []string{"txworker.cmd.>"}, Retention: jetstream.WorkQueuePolicy, MaxMsgSize: 1 << 20, Duplicates: 10 * time.Minute},
		{Name: "TXWORKER_EVENTS", Subjects: []string{"txworker.evt.>"}, Retention: jetstream.LimitsPolicy, MaxAge: 7 * 24 * time.Hour, Duplicates: 10 * time.Minute},
		{Name: "TXWORKER_TRACKING", Subjects: []string{"txworker.track.>"}, Retention: jetstream.WorkQueuePolicy, Duplicates: 10 * time.Minute},
	} {
		for range 2 { // create, then update
			if _, err := svc.CreateOrUpdateStream(ctx, sc); err != nil {
				t.Fatalf("service: provision stream %s: %v", sc.Name, err)
			}
		}
	}
	for stream, durable := range map[string]string{"TXWORKER_COMMANDS": "worker", "TXWORKER_TRACKING": "poller"} {
		cfg := jetstream.ConsumerConfig{Durable: durable, AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute, MaxDeliver: -1, MaxAckPending: 4096}
		for range 2 {
			if _, err := svc.CreateOrUpdateConsumer(ctx, stream, cfg); err != nil {
				t.Fatalf("service: provision consumer %s: %v", durable, err)
			}
		}
	}
	for range 2 {
		if _, err := svc.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "TXWORKER_STATE", History: 1, TTL: 7 * 24 * time.Hour}); err != nil {
			t.Fatalf("service: provision bucket: %v", err)
		}
	}

	// Binding, as with provisioning turned off.
	for _, name := range []string{"TXWORKER_COMMANDS", "TXWORKER_EVENTS", "TXWORKER_TRACKING"} {
		if _, err := svc.Stream(ctx, name); err != nil {
			t.Errorf("service: look stream %s up: %v", name, err)
		}
	}
	commands, err := svc.Consumer(ctx, "TXWORKER_COMMANDS", "worker")
	if err != nil {
		t.Fatalf("service: bind worker consumer: %v", err)
	}
	tracking, err := svc.Consumer(ctx, "TXWORKER_TRACKING", "poller")
	if err != nil {
		t.Fatalf("service: bind poller consumer: %v", err)
	}
	kv, err := svc.KeyValue(ctx, "TXWORKER_STATE")
	if err != nil {
		t.Fatalf("service: bind bucket: %v", err)
	}

	// A command goes in; the worker claims it, acks it, publishes events and a
	// tracking message; the poller naks with delay, extends and acks.
	cmd := nats.NewMsg("txworker.cmd.cancel-offering")
	cmd.Header.Set(jetstream.MsgIDHeader, "cmd-1")
	cmd.Data = []byte(`{"params":{"securityId":"USS3JKS01I00"}}`)
	if _, err := prod.PublishMsg(ctx, cmd); err != nil {
		t.Fatalf("producer: publish command: %v", err)
	}
	if _, err := commands.Info(ctx); err != nil {
		t.Errorf("service: consumer info (pending count): %v", err)
	}
	m := fetchOne(ctx, t, commands)
	if err := m.InProgress(); err != nil {
		t.Errorf("service: in progress: %v", err)
	}
	rev, err := kv.Create(ctx, "Y21kLTE", []byte(`{"state":"received"}`))
	if err != nil {
		t.Fatalf("service: create claim: %v", err)
	}
	if _, err := kv.Get(ctx, "Y21kLTE"); err != nil {
		t.Errorf("service: read claim: %v", err)
	}
	if _, err := kv.Update(ctx, "Y21kLTE", []byte(`{"state":"accepted"}`), rev); err != nil {
		t.Errorf("service: update claim: %v", err)
	}
	for _, p := range [][2]string{ // subject, Nats-Msg-Id, in order
		{"txworker.evt.cancel-offering.accepted", "cmd-1:accepted"},
		{"txworker.track.cancel-offering", "cmd-1:track"},
		{"txworker.evt.cancel-offering.succeeded", "cmd-1:succeeded"},
	} {
		msg := nats.NewMsg(p[0])
		msg.Header.Set(jetstream.MsgIDHeader, p[1])
		if _, err := svc.PublishMsg(ctx, msg); err != nil {
			t.Errorf("service: publish %s: %v", p[0], err)
		}
	}
	if err := m.DoubleAck(ctx); err != nil {
		t.Errorf("service: ack command: %v", err)
	}
	tm := fetchOne(ctx, t, tracking)
	if err := tm.NakWithDelay(10 * time.Millisecond); err != nil {
		t.Errorf("service: nak with delay: %v", err)
	}
	tm = fetchOne(ctx, t, tracking)
	if err := tm.InProgress(); err != nil {
		t.Errorf("service: in progress: %v", err)
	}
	if err := tm.DoubleAck(ctx); err != nil {
		t.Errorf("service: ack tracking message: %v", err)
	}

	// The producer follows the events (txworker submit -wait) and reads the claim (txworker status).
	oc, err := prod.OrderedConsumer(ctx, "TXWORKER_EVENTS", jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"txworker.evt.cancel-offering.*"},
	})
	if err != nil {
		t.Fatalf("producer: follow events: %v", err)
	}
	if ev := fetchOne(ctx, t, oc); ev.Subject() != "txworker.evt.cancel-offering.accepted" {
		t.Errorf("producer: first event on %s", ev.Subject())
	}
	pkv, err := prod.KeyValue(ctx, "TXWORKER_STATE")
	if err != nil {
		t.Fatalf("producer: bind bucket: %v", err)
	}
	if _, err := pkv.Get(ctx, "Y21kLTE"); err != nil {
		t.Errorf("producer: read claim: %v", err)
	}
	// … and lists the claims (txworker list: queue.Claims.Scan's consumer).
	lc, err := prod.CreateConsumer(ctx, "KV_TXWORKER_STATE", jetstream.ConsumerConfig{DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy,
		AckPolicy: jetstream.AckNonePolicy, FilterSubject: "$KV.TXWORKER_STATE.>", MemoryStorage: true})
	if err != nil {
		t.Fatalf("producer: list claims: %v", err)
	}
	if m := fetchOne(ctx, t, lc); !strings.HasPrefix(m.Subject(), "$KV.TXWORKER_STATE.") {
		t.Errorf("producer: listed %s", m.Subject())
	}
	if err := prod.DeleteConsumer(ctx, "KV_TXWORKER_STATE", lc.CachedInfo().Name); err != nil {
		t.Errorf("producer: end the listing: %v", err)
	}

	// Everything else is refused.
	denied := []struct {
		name       string
		violations *atomic.Int64
		do         func(ctx context.Context) error
	}{
		{"service publishes a command", svcViolations, func(ctx context.Context) error {
			_, err := svc.Publish(ctx, "txworker.cmd.cancel-offering", []byte(`{}`))
			return err
		}},
		{"service deletes a stream", svcViolations, func(ctx context.Context) error { return svc.DeleteStream(ctx, "TXWORKER_EVENTS") }},
		{"service creates another stream", svcViolations, func(ctx context.Context) error {
			_, err := svc.CreateStream(ctx, jetstream.StreamConfig{Name: "OTHER", Subjects: []string{"other.>"}})
			return err
		}},
		{"service creates another consumer", svcViolations, func(ctx context.Context) error {
			_, err := svc.CreateOrUpdateConsumer(ctx, "TXWORKER_EVENTS", jetstream.ConsumerConfig{Durable: "spy", AckPolicy: jetstream.AckExplicitPolicy})
			return err
		}},
		{"producer publishes an event", prodViolations, func(ctx context.Context) error {
			_, err := prod.Publish(ctx, "txworker.evt.cancel-offering.succeeded", []byte(`{}`))
			return err
		}},
		{"producer writes a claim", prodViolations, func(ctx context.Context) error {
			_, err := pkv.Put(ctx, "Y21kLTE", []byte(`{}`))
			return err
		}},
		{"producer pulls commands", prodViolations, func(ctx context.Context) error {
			c, err := prod.Consumer(ctx, "TXWORKER_COMMANDS", "worker")
			if err != nil {
				return err
			}
			_, err = c.Next(jetstream.FetchMaxWait(time.Second))
			return err
		}},
		{"producer deletes a stream", prodViolations, func(ctx context.Context) error { return prod.DeleteStream(ctx, "TXWORKER_COMMANDS") }},
	}
	for _, d := range denied {
		before := d.violations.Load()
		dctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		err := d.do(dctx)
		cancel()
		if err == nil {
			t.Errorf("%s: allowed, want a permissions violation", d.name)
			continue
		}
		if !waitFor(func() bool { return d.violations.Load() > before }, 5*time.Second) {
			t.Errorf("%s: failed with %v, but the server reported no permissions violation", d.name, err)
		}
	}
}

// startPermissionedNATS starts a JetStream server on 127.0.0.1 whose account
// TXWORKER has the users of deploy/nats/permissions.conf, and returns its URL.
func startPermissionedNATS(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	perms, err := os.ReadFile(filepath.Join("..", "deploy", "nats", "permissions.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "txworker-permissions.conf"), perms, 0o600); err != nil {
		t.Fatal(err)
	}
	conf := `listen: "127.0.0.1:-1"
jetstream { store_dir: "` + filepath.ToSlash(filepath.Join(dir, "js")) + `" }
include ./txworker-permissions.conf
accounts {
  TXWORKER {
    jetstream: enabled
    users: [
      {user: txworker, password: service-secret, permissions: $TXWORKER_SERVICE}
      {user: producer, password: producer-secret, permissions: $TXWORKER_PRODUCER}
    ]
  }
}
`
	path := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("nats config with permissions.conf: %v", err)
	}
	opts.NoLog, opts.NoSigs = true, true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	return s.ClientURL()
}

// jetStreamAs connects as user and counts the permissions violations the
// server reports to that connection.
func jetStreamAs(t *testing.T, url, user, password string) (jetstream.JetStream, *atomic.Int64) {
	t.Helper()
	violations := new(atomic.Int64)
	nc, err := nats.Connect(url, nats.UserInfo(user, password),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrPermissionViolation) {
				violations.Add(1)
			}
		}))
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js, violations
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(cond func() bool, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

func fetchOne(ctx context.Context, t *testing.T, c jetstream.Consumer) jetstream.Msg {
	t.Helper()
	deadline, _ := ctx.Deadline()
	m, err := c.Next(jetstream.FetchMaxWait(time.Until(deadline)))
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	return m
}

// TestDevNATSConfigParses loads the dev overlay's nats.conf with the server's
// own configuration parser.
func TestDevNATSConfigParses(t *testing.T) {
	docs := readDocsFile(t, filepath.Join(deployDir, "overlays", "dev", "nats.yaml"))
	conf := str(findOne(t, docs, "ConfigMap", "nats-config"), "data", "nats.conf")
	path := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("dev nats.conf: %v", err)
	}
	if !opts.JetStream || opts.StoreDir != "/data" || opts.Port != 4222 || opts.HTTPPort != 8222 {
		t.Errorf("dev nats.conf: jetstream=%t store=%q port=%d monitor=%d, want true /data 4222 8222",
			opts.JetStream, opts.StoreDir, opts.Port, opts.HTTPPort)
	}
	if opts.MaxPayload < 1<<20 {
		t.Errorf("dev nats.conf: max_payload %d is below the 1 MiB command stream limit", opts.MaxPayload)
	}
}
