package natstest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ClusterOptions configures a Cluster. The zero value is a three-node
// cluster.
type ClusterOptions struct {
	// Nodes is the number of servers; 0 is 3. A JetStream cluster wants at
	// least 3 for a replicated stream to survive the loss of one.
	Nodes int
	// Name is the cluster's name and the prefix of the servers' names
	// ({Name}-0, {Name}-1, …). Default "natstest".
	Name string
	// Dir holds one store directory per node ({Dir}/{server name}).
	// Default: a new temporary directory (t.TempDir() for StartCluster),
	// which Shutdown removes.
	Dir string
	// MaxPayload is the largest message; 0 is the server's default (1 MB).
	MaxPayload int32
	// ReadyTimeout bounds each node's start and, separately, the wait for
	// a JetStream meta leader; 0 is DefaultReadyTimeout.
	ReadyTimeout time.Duration
}

// Cluster is an N-node JetStream cluster on 127.0.0.1, each node a Server
// with its own client port, route port, store and name, routed to every
// other node. Client and route ports are fixed when the cluster is made,
// so a node restarts where its peers and clients look for it. Its methods
// are safe for concurrent use.
type Cluster struct {
	name  string
	dir   string
	owned bool
	ready time.Duration

	mu      sync.Mutex
	nodes   []*Server
	removed []bool
}

// NewCluster starts every node and returns once the cluster has a
// JetStream meta leader that every node follows. The caller ends it with
// Shutdown.
func NewCluster(o ClusterOptions) (*Cluster, error) {
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	if o.Nodes < 1 {
		return nil, fmt.Errorf("natstest: %d nodes", o.Nodes)
	}
	if o.Name == "" {
		o.Name = "natstest"
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = DefaultReadyTimeout
	}
	c := &Cluster{name: o.Name, dir: o.Dir, ready: o.ReadyTimeout}
	if c.dir == "" {
		d, err := os.MkdirTemp("", o.Name+"-cluster-*")
		if err != nil {
			return nil, fmt.Errorf("cluster directory: %w", err)
		}
		c.dir, c.owned = d, true
	}
	// The route ports must be known before any node starts (each node's
	// routes name all the others), so they are picked here; a port taken
	// meanwhile by someone else makes the start fail, and it is tried
	// again with new ports.
	var err error
	for range 3 {
		if err = c.start(o); err == nil {
			return c, nil
		}
		c.stopAll()
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	if c.owned {
		_ = os.RemoveAll(c.dir)
	}
	return nil, err
}

// start makes and starts the nodes on fresh route ports.
func (c *Cluster) start(o ClusterOptions) error {
	ports, err := freePorts(o.Nodes)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.nodes, c.removed = make([]*Server, o.Nodes), make([]bool, o.Nodes)
	c.mu.Unlock()
	for i := range o.Nodes {
		var routes []*url.URL
		for j, p := range ports {
			if j != i {
				routes = append(routes, &url.URL{Scheme: "nats-route", Host: fmt.Sprintf("127.0.0.1:%d", p)})
			}
		}
		name := fmt.Sprintf("%s-%d", o.Name, i)
		store := filepath.Join(c.dir, name)
		if err := os.RemoveAll(store); err != nil {
			return err
		}
		s, err := newServer(Options{Name: name, StoreDir: store, MaxPayload: o.MaxPayload, ReadyTimeout: o.ReadyTimeout},
			&clusterSetup{name: o.Name, port: ports[i], routes: routes})
		if err != nil {
			return fmt.Errorf("node %d: %w", i, err)
		}
		c.mu.Lock()
		c.nodes[i] = s
		c.mu.Unlock()
	}
	return c.waitMetaLeader()
}

// freePorts returns n loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		ls = append(ls, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

// StartCluster is NewCluster for a test with n nodes: the stores live in
// t.TempDir(), a failure ends the test with t.Fatal, and Shutdown is
// registered with t.Cleanup.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	c, err := NewCluster(ClusterOptions{Nodes: n, Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	t.Cleanup(c.Shutdown)
	return c
}

// Size is the number of nodes the cluster was made with (removed ones
// included).
func (c *Cluster) Size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.nodes)
}

// Node returns node i's Server (for its URL, store or state). Do not Stop
// or Start it directly: use the cluster's Stop and Restart, which wait for
// the cluster.
func (c *Cluster) Node(i int) *Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i]
}

// Name is node i's server name, as JetStream names it (in a stream's
// cluster info, for example).
func (c *Cluster) Name(i int) string { return c.Node(i).opts.ServerName }

// URL is node i's client URL; it stays the same across Stop and Restart.
func (c *Cluster) URL(i int) string { return c.Node(i).URL() }

// URLs is every node's client URL but removed ones', as a comma list (what
// TXWORKER_NATS_URL and nats.Connect take).
func (c *Cluster) URLs() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var us []string
	for i, s := range c.nodes {
		if !c.removed[i] {
			us = append(us, s.URL())
		}
	}
	return strings.Join(us, ",")
}

// Running reports whether node i is up.
func (c *Cluster) Running(i int) bool { return c.Node(i).Running() }

// Removed reports whether node i was removed for good.
func (c *Cluster) Removed(i int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.removed[i]
}

// Stop stops node i (its clients see a disconnect; the others elect new
// leaders for what it led); its store stays. Stopping a stopped node does
// nothing.
func (c *Cluster) Stop(i int) { c.Node(i).Stop() }

// Restart stops node i if it runs and starts it again on the same ports
// with the same store, and returns once it has rejoined: the cluster has a
// meta leader, every running node, this one included, follows it and is
// healthy (see WaitMetaLeader).
func (c *Cluster) Restart(i int) error {
	if c.Removed(i) {
		return fmt.Errorf("natstest: node %d was removed", i)
	}
	s := c.Node(i)
	if err := s.Restart(); err != nil {
		return fmt.Errorf("node %d: %w", i, err)
	}
	return c.waitMetaLeader()
}

// Remove stops node i for good and deletes its store, as when a machine
// and its disk are lost; the cluster carries on with the others (a
// replicated stream keeps a quorum while a majority of its peers is up).
// The lost node stays an offline peer of the meta group, as it would
// until an operator removes it.
func (c *Cluster) Remove(i int) error {
	s := c.Node(i)
	s.Stop()
	c.mu.Lock()
	c.removed[i] = true
	c.mu.Unlock()
	if err := os.RemoveAll(s.StoreDir()); err != nil {
		return fmt.Errorf("node %d store: %w", i, err)
	}
	return nil
}

// Shutdown stops every node and removes the directory if NewCluster made
// it. It may be called more than once.
func (c *Cluster) Shutdown() {
	c.stopAll()
	if c.owned {
		_ = os.RemoveAll(c.dir)
	}
}

func (c *Cluster) stopAll() {
	c.mu.Lock()
	nodes := append([]*Server(nil), c.nodes...)
	c.mu.Unlock()
	for _, s := range nodes {
		if s != nil {
			s.Shutdown()
		}
	}
}

// WaitMetaLeader waits until a running node is the JetStream meta leader,
// every running node is current with it, the leader knows every running
// node as a JetStream peer with its stats (before that it answers "no
// suitable peers for placement" to a replicated stream's creation), and
// every running node is healthy (its replicas of streams and consumers
// have caught up); at most the ready timeout.
func (c *Cluster) WaitMetaLeader() error { return c.waitMetaLeader() }

func (c *Cluster) waitMetaLeader() error {
	deadline := time.Now().Add(c.ready)
	for {
		problem := c.metaProblem()
		if problem == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("natstest: after %s: %s", c.ready, problem)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// metaProblem says what the cluster's JetStream still lacks, or "".
func (c *Cluster) metaProblem() string {
	c.mu.Lock()
	nodes := append([]*Server(nil), c.nodes...)
	c.mu.Unlock()
	var leader *server.Server
	running := 0
	for i, s := range nodes {
		srv := s.server()
		if srv == nil {
			continue
		}
		running++
		if srv.JetStreamIsLeader() {
			leader = srv
		}
		if !srv.JetStreamIsCurrent() {
			return fmt.Sprintf("node %d is not current with the meta leader", i)
		}
	}
	if leader == nil {
		return "no JetStream meta leader"
	}
	if peers := leader.JetStreamClusterPeers(); len(peers) < running {
		return fmt.Sprintf("the meta leader knows %d of %d running nodes as JetStream peers (%v)", len(peers), running, peers)
	}
	// What a node's /healthz says: every stream and consumer it holds a
	// replica of has caught up (what a rolling upgrade waits for before it
	// restarts the next node).
	for i, s := range nodes {
		if srv := s.server(); srv != nil {
			if h := srv.Healthz(&server.HealthzOptions{}); h.Status != "ok" {
				return fmt.Sprintf("node %d is not healthy: %s", i, h.Error)
			}
		}
	}
	return ""
}

// MetaLeader returns the index of the node that is the JetStream meta
// leader now, or -1.
func (c *Cluster) MetaLeader() int {
	c.mu.Lock()
	nodes := append([]*Server(nil), c.nodes...)
	c.mu.Unlock()
	for i, s := range nodes {
		if srv := s.server(); srv != nil && srv.JetStreamIsLeader() {
			return i
		}
	}
	return -1
}

// ErrNoLeader is returned by StreamLeader while a stream has no leader.
var ErrNoLeader = errors.New("natstest: the stream has no leader")

// StreamLeader returns the index of the node that leads stream (a
// key-value bucket's stream is KV_{bucket}), as `nats stream info` finds
// it: from the stream's cluster info, asked of the cluster over a
// connection of its own. While the stream has no leader the request may go
// unanswered until ctx ends: give it a short deadline and try again.
func (c *Cluster) StreamLeader(ctx context.Context, stream string) (int, error) {
	nc, err := nats.Connect(c.URLs(), nats.Name("natstest-leader"), nats.Timeout(2*time.Second))
	if err != nil {
		return -1, fmt.Errorf("natstest: connect: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return -1, err
	}
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return -1, fmt.Errorf("natstest: stream %s: %w", stream, err)
	}
	info := st.CachedInfo()
	if info.Cluster == nil || info.Cluster.Leader == "" {
		return -1, ErrNoLeader
	}
	return c.index(info.Cluster.Leader)
}

// index is the node named name.
func (c *Cluster) index(name string) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, s := range c.nodes {
		if s.opts.ServerName == name {
			return i, nil
		}
	}
	return -1, fmt.Errorf("natstest: no node named %q", name)
}

// server is the running nats server, or nil.
func (s *Server) server() *server.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv
}
