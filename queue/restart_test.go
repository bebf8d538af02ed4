package queue_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/txworker/txworker/internal/natstest"
	"github.com/txworker/txworker/queue"
)

// TestServerRestart: the Bus rides over a server restart (same port, same
// store): publishing, consuming and the claims resume, and what was stored
// before is still there.
func TestServerRestart(t *testing.T) {
	ns := natstest.Start(t, natstest.Options{})
	url := ns.URL()
	core, logs := observer.New(zap.InfoLevel)
	b, err := queue.Connect(testCtx(t), queue.Config{URL: url, Provision: true}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Drain() })
	if err := b.Provision(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	if _, _, err := b.Claims().Create(ctx, &queue.Claim{CommandID: "before", State: queue.StateReceived}); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	handled := map[string]bool{}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wait := runConsume(cctx, b.Commands(), 4, func(ctx context.Context, m jetstream.Msg) {
		if err := m.DoubleAck(ctx); err != nil {
			return // redelivered later
		}
		mu.Lock()
		handled[m.Headers().Get("Nats-Msg-Id")] = true
		mu.Unlock()
	})
	seen := func(id string) func() bool {
		return func() bool { mu.Lock(); defer mu.Unlock(); return handled[id] }
	}
	publishCommands(t, b, 0, 1)
	eventually(t, "command before restart handled", seen("cmd-0"))

	if err := ns.Restart(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "reconnected", b.Connected)
	// The first requests after a restart may find JetStream still starting.
	eventually(t, "publish after restart", func() bool {
		_, err := b.JetStream().Publish(ctx, b.CommandSubject("cancel-txn"), []byte(`{}`), jetstream.WithMsgID("cmd-1"))
		return err == nil
	})
	eventually(t, "command after restart handled", seen("cmd-1"))
	dup, err := b.PublishEvent(ctx, queue.EventFromClaim("txworker", failedClaim()), queue.Trace{})
	if err != nil || dup {
		t.Fatalf("PublishEvent after restart: dup %v err %v", dup, err)
	}
	if cl, err := b.Claims().Get(ctx, "before"); err != nil || cl.State != queue.StateReceived {
		t.Fatalf("claim from before the restart: %+v, %v", cl, err)
	}
	cancel()
	if err := wait(t); err != nil {
		t.Fatal(err)
	}
	for _, msg := range []string{"nats disconnected", "nats reconnected"} {
		if logs.FilterMessage(msg).Len() == 0 {
			t.Errorf("no %q log", msg)
		}
	}
}

// TestConnectGivesUpWithContext: with no server, Connect keeps trying until
// its context ends and then says why.
func TestConnectGivesUpWithContext(t *testing.T) {
	ns := natstest.Start(t, natstest.Options{})
	url := ns.URL()
	ns.Stop()
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	_, err := queue.Connect(ctx, queue.Config{URL: url}, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Connect = %v, want context.DeadlineExceeded", err)
	}
	if _, err := queue.Connect(t.Context(), queue.Config{Replicas: 9}, nil); err == nil {
		t.Error("Connect with an invalid config: nil error")
	}
}

// TestConnectTokenNeverLogged connects with a wrong and a right token and
// checks that neither appears in any log line or error.
func TestConnectTokenNeverLogged(t *testing.T) {
	const token, wrong = "s3cr3t-token-value", "wr0ng-token-value"
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, Authorization: token,
		NoLog: true, NoSigs: true, JetStream: true, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	core, logs := observer.New(zap.DebugLevel)
	logger := zap.New(core)

	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	_, wrongErr := queue.Connect(ctx, queue.Config{URL: s.ClientURL(), Token: wrong}, logger)
	if wrongErr == nil {
		t.Fatal("Connect with a wrong token: nil error")
	}
	if !strings.Contains(wrongErr.Error(), "uthorization") || strings.Contains(wrongErr.Error(), wrong) {
		t.Errorf("error %q does not say authorization failed, or shows the token", wrongErr)
	}
	b, err := queue.Connect(testCtx(t), queue.Config{URL: s.ClientURL(), Token: token, Provision: true}, logger)
	if err != nil {
		t.Fatalf("Connect with the token: %v", err)
	}
	if err := b.Provision(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if !b.Connected() {
		t.Error("not Connected")
	}
	if err := b.Drain(); err != nil {
		t.Fatal(err)
	}
	if b.Connected() {
		t.Error("Connected after Drain")
	}
	for _, e := range logs.All() {
		line := e.Message
		for k, v := range e.ContextMap() {
			line += " " + k + "=" + toString(v)
		}
		if strings.Contains(line, token) || strings.Contains(line, wrong) {
			t.Errorf("log line shows a token: %s", line)
		}
	}
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if e, ok := v.(error); ok {
		return e.Error()
	}
	return ""
}
