package natstest_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/txworker/txworker/internal/natstest"
)

// A restart comes back on the same URL with the same store: a stream and
// its message survive it.
func TestRestartKeepsPortAndStore(t *testing.T) {
	s := natstest.Start(t, natstest.Options{})
	url := s.URL()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "s.1", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if s.Running() {
		t.Fatal("running after Stop")
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if !s.Running() || s.URL() != url {
		t.Fatalf("after restart: running %v, url %q, want %q", s.Running(), s.URL(), url)
	}
	st, err := js.Stream(ctx, "S")
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetMsg(ctx, 1)
	if err != nil {
		t.Fatalf("message after restart: %v", err)
	}
	if string(m.Data) != "kept" {
		t.Fatalf("message after restart: %q, want kept", m.Data)
	}
}

// New without a store directory makes one and Shutdown removes it; a
// store directory given by the caller stays.
func TestShutdownRemovesOnlyItsOwnStore(t *testing.T) {
	s, err := natstest.New(natstest.Options{Name: "natstest-own"})
	if err != nil {
		t.Fatal(err)
	}
	dir := s.StoreDir()
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
	s.Shutdown()
	s.Shutdown() // a second call does nothing
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("own store %s after Shutdown: %v", dir, err)
	}
	given := t.TempDir()
	s, err = natstest.New(natstest.Options{StoreDir: given})
	if err != nil {
		t.Fatal(err)
	}
	s.Shutdown()
	if _, err := os.Stat(given); err != nil {
		t.Errorf("given store removed: %v", err)
	}
}
