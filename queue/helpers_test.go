package queue_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/txworker/txworker/queue"
)

// testTimeout bounds every wait in these tests.
const testTimeout = 20 * time.Second

// testCtx returns a context that ends with the test or after testTimeout.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// connect returns a Bus on url with Provision on, changed by mutate, not yet
// provisioned; it is drained at cleanup.
func connect(t *testing.T, url string, mutate func(*queue.Config)) *queue.Bus {
	t.Helper()
	cfg := queue.Config{URL: url, Provision: true, Name: t.Name()}
	if mutate != nil {
		mutate(&cfg)
	}
	b, err := queue.Connect(testCtx(t), cfg, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Drain(); err != nil {
			t.Errorf("Drain: %v", err)
		}
	})
	return b
}

// provisioned returns a provisioned Bus on url.
func provisioned(t *testing.T, url string, mutate func(*queue.Config)) *queue.Bus {
	t.Helper()
	b := connect(t, url, mutate)
	if err := b.Provision(testCtx(t)); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	return b
}

// eventually fails the test unless cond holds before the deadline, checking
// every few milliseconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// streamMsgs returns every message stored on a stream whose subject matches
// filter ("" for all).
func streamMsgs(t *testing.T, b *queue.Bus, stream, filter string) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := testCtx(t)
	s, err := b.JetStream().Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	st := s.CachedInfo().State
	var out []*jetstream.RawStreamMsg
	for seq := st.FirstSeq; seq <= st.LastSeq && st.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("get message %d: %v", seq, err)
		}
		if filter == "" || m.Subject == filter {
			out = append(out, m)
		}
	}
	return out
}

// provisionAtOnce runs Provision on every bus at the same moment, as
// replicas started together do, and returns each one's error.
func provisionAtOnce(ctx context.Context, buses []*queue.Bus) []error {
	errs := make([]error, len(buses))
	var wg sync.WaitGroup
	for i, b := range buses {
		wg.Go(func() { errs[i] = b.Provision(ctx) })
	}
	wg.Wait()
	return errs
}
