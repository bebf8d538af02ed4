// Package queuetest starts an embedded NATS server with JetStream for tests of
// the queue package and of everything built on it (worker, poller, cmd).
//
// It imports no project package, so the queue package's own tests can use it.
package queuetest

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// readyTimeout bounds how long StartServer and restart wait for the server to
// accept connections.
const readyTimeout = 10 * time.Second

// StartServer starts a nats-server with JetStream on 127.0.0.1 and a random
// port, its file store in t.TempDir(). It returns the client URL and two
// functions:
//
//   - restart stops the server and starts a new one on the same port with the
//     same store directory, so streams, consumers, messages and key-value
//     entries survive; it returns when the new server accepts connections.
//   - stop shuts the server down and waits until it has stopped. It is
//     registered with t.Cleanup as well and may be called more than once.
//
// Both are safe for concurrent use. Failures end the test with t.Fatal, so
// call them from the test's goroutine.
func StartServer(t testing.TB) (url string, restart func(), stop func()) {
	t.Helper()
	opts := &server.Options{
		ServerName: "queuetest",
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		JetStream:  true,
		StoreDir:   t.TempDir(),
		NoLog:      true,
		NoSigs:     true,
	}
	var mu sync.Mutex
	s := start(t, opts)
	// Pin the port so that restart comes back where the clients reconnect to.
	opts.Port = s.Addr().(*net.TCPAddr).Port
	url = s.ClientURL()

	stop = func() {
		mu.Lock()
		defer mu.Unlock()
		if s != nil {
			s.Shutdown()
			s.WaitForShutdown()
			s = nil
		}
	}
	restart = func() {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if s != nil {
			s.Shutdown()
			s.WaitForShutdown()
		}
		s = start(t, opts)
	}
	t.Cleanup(stop)
	return url, restart, stop
}

// start starts a server with a copy of opts and waits until it is ready.
func start(t testing.TB, opts *server.Options) *server.Server {
	t.Helper()
	o := *opts
	s, err := server.NewServer(&o)
	if err != nil {
		t.Fatalf("queuetest: new nats server: %v", err)
	}
	s.Start()
	if !s.ReadyForConnections(readyTimeout) {
		s.Shutdown()
		t.Fatalf("queuetest: nats server not ready within %s", readyTimeout)
	}
	return s
}
