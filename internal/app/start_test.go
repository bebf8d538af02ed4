package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/txworker/txworker/internal/app"
)

// A replica whose JetStream cannot be provisioned (here: a NATS server
// without JetStream, which answers no API request) keeps the ops server
// up and /readyz at 503 while it retries, and fails Start only when the
// start-up budget is spent, naming the stream it waited for and the last
// error.
func TestStartWaitsForJetStreamWithinTheBudget(t *testing.T) {
	cfg := config(t)
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(srv.Shutdown)
	cfg.Queue.URL = srv.ClientURL()
	cfg.Queue.StartTimeout = 8 * time.Second

	core, logs := observer.New(zap.InfoLevel)
	done := make(chan error, 1)
	go func() {
		_, err := app.Start(context.Background(), cfg, app.Options{Logger: zap.New(core)})
		done <- err
	}()
	var addr string
	deadline := time.Now().Add(20 * time.Second)
	for addr == "" {
		for _, e := range logs.FilterMessage("connecting").All() {
			addr, _ = e.ContextMap()["http_addr"].(string)
		}
		if time.Now().After(deadline) {
			t.Fatal("no \"connecting\" log with the ops address")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// While provisioning retries, /readyz answers 503 (at least once
	// before Start gives up, which is 8s away).
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatalf("/readyz while provisioning: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz while provisioning: %d, want 503", resp.StatusCode)
	}
	select {
	case err := <-done:
		t.Fatalf("Start returned while provisioning could still be retried: %v", err)
	default:
	}
	var startErr error
	select {
	case startErr = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Start did not give up after its budget")
	}
	if startErr == nil {
		t.Fatal("Start succeeded without JetStream")
	}
	for _, want := range []string{"provision JetStream", "stream APPTEST_COMMANDS", "gave up after", "last error"} {
		if !strings.Contains(startErr.Error(), want) {
			t.Errorf("Start error %q does not say %q", startErr, want)
		}
	}
	if n := logs.FilterMessage("jetstream not ready yet; retrying").Len(); n < 2 {
		t.Errorf("%d retries logged, want several within the budget", n)
	}
}
