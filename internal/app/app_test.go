package app_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/txworker/txworker/internal/app"
	"github.com/txworker/txworker/internal/natstest"
	"github.com/txworker/txworker/internal/sandbox"
	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/platform/platformtest"
	"github.com/txworker/txworker/poller"
	"github.com/txworker/txworker/queue"
	"github.com/txworker/txworker/worker"
)

func config(t *testing.T) app.Config {
	t.Helper()
	ns := natstest.Start(t, natstest.Options{})
	sim, err := platformtest.Start(platformtest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	return app.Config{
		Queue: queue.Config{URL: ns.URL(), Prefix: "apptest", Provision: true, AckWait: 30 * time.Second, Name: "apptest"},
		Corastone: platform.CorastoneConfig{BaseURL: sim.URL(), TokenURL: sim.URL() + "/oauth2/token",
			ClientID: sandbox.ClientID, ClientSecret: sandbox.ClientSecret, UserAgent: "apptest", RequestTimeout: 5 * time.Second,
			Actions: []string{"cancel-offering"}},
		Worker: worker.Config{Source: "apptest", Concurrency: 2, SettleTimeout: time.Minute, MaxDeadlineAhead: time.Hour,
			MaxAttempts: 3, MaxPoisonDeliveries: 3, CallTimeout: 10 * time.Second, KeepAlive: 10 * time.Second},
		Poller:          poller.Config{Source: "apptest", Interval: time.Second, MaxInterval: 2 * time.Second, BackoffAfter: 10 * time.Second},
		HTTPAddr:        "127.0.0.1:0",
		ShutdownTimeout: 10 * time.Second,
	}
}

// An Intake takes the worker's place: Start builds it from the replica's
// parts, runs it, and Shutdown ends it; readiness is off after Shutdown.
func TestIntakeReplacesTheWorker(t *testing.T) {
	cfg := config(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	built, ran, ended := make(chan app.Parts, 1), make(chan struct{}), make(chan struct{})
	intake := func(_ context.Context, p app.Parts) (func(context.Context) error, error) {
		built <- p
		return func(ctx context.Context) error {
			close(ran)
			<-ctx.Done()
			close(ended)
			return nil
		}, nil
	}
	s, err := app.Start(ctx, cfg, app.Options{Logger: zap.NewNop(), Intake: intake})
	if err != nil {
		t.Fatal(err)
	}
	p := <-built
	if p.Bus == nil || p.Logger == nil || p.JM != nil || p.Config.Queue.Prefix != "apptest" {
		t.Errorf("parts: bus %v, logger %v, jm %v, prefix %q", p.Bus != nil, p.Logger != nil, p.JM, p.Config.Queue.Prefix)
	}
	<-ran
	if err := s.WaitReady(ctx, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + s.Addr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz %d, want 200", resp.StatusCode)
	}
	if err := s.Shutdown(cfg.ShutdownTimeout); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ended:
	default:
		t.Error("the intake still runs after Shutdown")
	}
	if s.Ready() == nil {
		t.Error("ready after Shutdown")
	}
}

// An Intake that cannot be built fails Start with its error.
func TestIntakeErrorFailsStart(t *testing.T) {
	cfg := config(t)
	want := errors.New("no intake")
	_, err := app.Start(context.Background(), cfg, app.Options{Intake: func(context.Context, app.Parts) (func(context.Context) error, error) {
		return nil, want
	}})
	if !errors.Is(err, want) {
		t.Fatalf("Start: %v, want %v", err, want)
	}
}
