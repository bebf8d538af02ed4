// Package natstest runs an embedded NATS server with JetStream on loopback,
// for tests and for the tools that need a bus of their own (sandbox, rig,
// load, chaos).
//
// A Server can be stopped and started again on the same port with the same
// file store, so streams, consumers, messages and key-value entries survive
// a restart. A Cluster (cluster.go) is N such servers routed to one another,
// a JetStream cluster. The package imports no project package, so every
// package's tests may use it.
package natstest

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// DefaultReadyTimeout is how long a start waits for the server to accept
// connections when Options.ReadyTimeout is zero (JetStream recovers its
// store first).
const DefaultReadyTimeout = 30 * time.Second

// RandomPort picks a free port once; later starts keep it.
const RandomPort = server.RANDOM_PORT

// Options configures a Server. The zero value works: a random port, a
// store directory of its own, no logs.
type Options struct {
	// Name is the server's name and the prefix of a store directory it
	// creates. Default "natstest".
	Name string
	// Port is the client port; 0 or RandomPort picks a free one.
	Port int
	// StoreDir is the JetStream file store. Default: a new temporary
	// directory (t.TempDir() for Start), which Shutdown removes.
	StoreDir string
	// MaxPayload is the largest message; 0 is the server's default (1 MB).
	MaxPayload int32
	// ReadyTimeout bounds each start; 0 is DefaultReadyTimeout.
	ReadyTimeout time.Duration
}

// Server is one embedded NATS server with JetStream on 127.0.0.1. Its
// methods are safe for concurrent use.
type Server struct {
	mu    sync.Mutex
	opts  server.Options // Port pinned after the first start
	ready time.Duration
	srv   *server.Server // nil while stopped
	url   string
	owned bool // the store directory is ours to remove on Shutdown
}

// clusterSetup is what a Cluster adds to one node's server options: the
// cluster name, its route listener and the routes to every other node.
type clusterSetup struct {
	name   string
	port   int
	routes []*url.URL
}

// New starts a server and returns when it accepts connections. The caller
// ends it with Shutdown.
func New(o Options) (*Server, error) { return newServer(o, nil) }

// newServer is New, for one node of a cluster when cl is not nil.
func newServer(o Options, cl *clusterSetup) (*Server, error) {
	if o.Name == "" {
		o.Name = "natstest"
	}
	if o.Port == 0 {
		o.Port = RandomPort
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = DefaultReadyTimeout
	}
	s := &Server{ready: o.ReadyTimeout}
	if o.StoreDir == "" {
		d, err := os.MkdirTemp("", o.Name+"-*")
		if err != nil {
			return nil, fmt.Errorf("store directory: %w", err)
		}
		o.StoreDir, s.owned = d, true
	}
	s.opts = server.Options{
		ServerName: o.Name,
		Host:       "127.0.0.1",
		Port:       o.Port,
		JetStream:  true,
		StoreDir:   o.StoreDir,
		NoLog:      true,
		NoSigs:     true,
		MaxPayload: o.MaxPayload,
	}
	if cl != nil {
		s.opts.Cluster = server.ClusterOpts{Name: cl.name, Host: "127.0.0.1", Port: cl.port}
		s.opts.Routes = cl.routes
	}
	if err := s.Start(); err != nil {
		if s.owned {
			_ = os.RemoveAll(o.StoreDir)
		}
		return nil, err
	}
	return s, nil
}

// Start is New for a test: the store defaults to t.TempDir(), a failure
// ends the test with t.Fatal, and Shutdown is registered with t.Cleanup.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	if o.StoreDir == "" {
		o.StoreDir = t.TempDir()
	}
	s, err := New(o)
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// URL is the client URL; it stays the same across Stop and Start.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// StoreDir is the JetStream store directory.
func (s *Server) StoreDir() string { return s.opts.StoreDir }

// Running reports whether the server is up.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv != nil
}

// Start starts the server if it is stopped and returns when it accepts
// connections, at most the ready timeout later. Starting a running server
// does nothing.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return nil
	}
	o := s.opts
	srv, err := server.NewServer(&o)
	if err != nil {
		return fmt.Errorf("nats server: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(s.ready) {
		srv.Shutdown()
		return fmt.Errorf("nats server did not become ready in %s", s.ready)
	}
	s.srv = srv
	s.url = srv.ClientURL()
	// Pin the port so that a restart comes back where clients reconnect to.
	s.opts.Port = srv.Addr().(*net.TCPAddr).Port
	return nil
}

// Stop shuts the server down (clients see a disconnect) and waits until it
// has stopped; the store stays. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil {
		return
	}
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
	s.srv = nil
}

// Restart is Stop then Start: the same port, the same store.
func (s *Server) Restart() error {
	s.Stop()
	return s.Start()
}

// Shutdown stops the server and removes the store if New created it. It
// may be called more than once.
func (s *Server) Shutdown() {
	s.Stop()
	if s.owned {
		_ = os.RemoveAll(s.opts.StoreDir)
	}
}
