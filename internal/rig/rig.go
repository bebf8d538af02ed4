// Package rig is everything a load or chaos run needs around real worker
// processes, on one machine:
//
//	r, err := rig.Start(ctx, rig.Config{Sim: platformtest.Config{AutoCreate: true}})
//	defer r.Close()
//	w, err := r.StartReplica(ctx, "w1", map[string]string{"TXWORKER_CONCURRENCY": "64"})
//	col, err := r.Collect(ctx)                    // every event on the events stream
//	gen := rig.NewCommandGen("run1")              // valid commands with fresh ids
//	c := gen.Next("cancel-offering")
//	col.Expect(c.ID, c.Action, time.Now()); r.Publish(ctx, c)
//	col.WaitEnded(ctx, 1)
//	w.Kill(); w.Start(ctx)                        // SIGKILL and restart a replica
//	r.NATS.Restart()                              // same port, same store
//
// Pieces: natstest.Server is an embedded NATS server with JetStream that
// can be stopped and started again on the same port and store; Replica
// (replica.go) is one `txworker run` OS process; CommandGen (commands.go)
// makes valid commands; Collector (collector.go) follows the events stream
// with an ordered consumer.
package rig

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/txworker/txworker/internal/natstest"
	"github.com/txworker/txworker/internal/sandbox"
	"github.com/txworker/txworker/platform/platformtest"
	"github.com/txworker/txworker/queue"
)

// Config configures a rig. The zero value works.
type Config struct {
	// Binary is the txworker executable run as replicas. Default: this
	// process's own executable (os.Executable), which is right for
	// `go run ./cmd/txworker load`; tests pass a freshly built binary.
	Binary string
	// Command is what the replicas run: the subcommand and its arguments.
	// Default: run (the service).
	Command []string
	// Dir holds the replicas' log files and the NATS store. Default: a new
	// temporary directory, removed by Close unless KeepDir.
	Dir     string
	KeepDir bool
	// Prefix is the subject prefix. Default "txworker".
	Prefix string
	// Sim configures the platform simulator. Tip for big runs: LogSize -1.
	Sim platformtest.Config
	// SimMiddleware, when set, wraps the simulator's handler (to time or
	// inspect requests); the rig then serves it itself and Sim.URL() is
	// empty: use rig.SimURL, which is always set.
	SimMiddleware func(http.Handler) http.Handler
	// Env is added to (and overrides) every replica's environment; see
	// rig.Env for the defaults.
	Env map[string]string
	// Logger receives the rig's own logs; nil → none.
	Logger *zap.Logger
	// NATSNodes is how many NATS servers run: 0 or 1 is one server
	// (Rig.NATS); more is a JetStream cluster of that many (Rig.Cluster)
	// whose streams and bucket are replicated to min(NATSNodes, 5) nodes,
	// the replicas getting every node's URL and TXWORKER_STREAM_REPLICAS.
	NATSNodes int
	// Fresh leaves provisioning to the replicas, as a first rollout on a
	// new cluster does: the rig creates nothing, and StartWorkers starts
	// the replicas at the same moment. Publish only once one is ready.
	Fresh bool
	// SimPerReplica gives every replica a simulator address of its own
	// (the same simulator behind another port), so that SimCaller can
	// tell which replica sent a request.
	SimPerReplica bool
}

// Rig is an embedded NATS, the platform simulator and worker replicas
// running as separate processes, plus a connection to publish commands and
// follow events. Close stops everything it started.
type Rig struct {
	cfg     Config
	Dir     string
	NATS    *natstest.Server  // nil with a cluster
	Cluster *natstest.Cluster // nil with one server
	Sim     *platformtest.Simulator
	SimURL  string // base URL of the simulator as the replicas reach it
	simSrv  *http.Server
	NC      *nats.Conn
	JS      jetstream.JetStream
	Prefix  string // the subject prefix
	Events  string // the events stream's name
	// Commands, Tracking and StateStream are the other streams' names
	// (StateStream is the state bucket's, KV_{bucket}).
	Commands, Tracking, StateStream string
	// StreamReplicas is the replica count of the streams and the bucket.
	StreamReplicas int
	log            *zap.Logger
	ownsDir        bool

	mu       sync.Mutex
	replicas []*Replica
	simPorts map[int]string // SimPerReplica: simulator port → replica name
	// StartAttempts counts the starts StartWorkers needed beyond one per
	// replica (a replica that exited before it was ready, and was started
	// again).
	StartAttempts int
}

// Start starts NATS, provisions the streams (so commands can be
// published before any replica runs) and starts the simulator.
func Start(ctx context.Context, cfg Config) (_ *Rig, err error) {
	r := &Rig{cfg: cfg, Dir: cfg.Dir, Prefix: cfg.Prefix, log: cfg.Logger}
	if r.log == nil {
		r.log = zap.NewNop()
	}
	if r.Prefix == "" {
		r.Prefix = queue.DefaultPrefix
	}
	if r.cfg.Binary == "" {
		if r.cfg.Binary, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("own executable: %w", err)
		}
	}
	if r.Dir == "" {
		if r.Dir, err = os.MkdirTemp("", "txworker-rig-*"); err != nil {
			return nil, fmt.Errorf("rig directory: %w", err)
		}
		r.ownsDir = !cfg.KeepDir
	}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	r.StreamReplicas = 1
	if cfg.NATSNodes > 1 {
		r.StreamReplicas = min(cfg.NATSNodes, 5)
		if r.Cluster, err = natstest.NewCluster(natstest.ClusterOptions{Nodes: cfg.NATSNodes, Name: "txworker-rig",
			Dir: filepath.Join(r.Dir, "nats"), MaxPayload: 1 << 20, ReadyTimeout: time.Minute}); err != nil {
			return nil, err
		}
	} else if r.NATS, err = natstest.New(natstest.Options{Name: "txworker-rig", StoreDir: filepath.Join(r.Dir, "nats"), MaxPayload: 1 << 20}); err != nil {
		return nil, err
	}
	bus, err := queue.Connect(ctx, queue.Config{URL: r.NATSURL(), Prefix: r.Prefix, Provision: true, Name: "txworker-rig",
		Replicas: r.StreamReplicas}, r.log)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	var perr error
	if !cfg.Fresh {
		perr = bus.Provision(ctx)
	}
	r.Events = bus.EventsStream()
	base := strings.TrimSuffix(r.Events, "_EVENTS")
	r.Commands, r.Tracking, r.StateStream = base+"_COMMANDS", base+"_TRACKING", "KV_"+bus.StateBucket()
	_ = bus.Drain()
	if perr != nil {
		return nil, fmt.Errorf("provision: %w", perr)
	}
	r.NC, err = nats.Connect(r.NATSURL(), nats.Name("txworker-rig"), nats.MaxReconnects(-1),
		nats.ReconnectWait(100*time.Millisecond), nats.ReconnectBufSize(64<<20))
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if r.JS, err = jetstream.New(r.NC, jetstream.WithPublishAsyncMaxPending(4096)); err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	if err := r.startSim(); err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	return r, nil
}

// startSim starts the simulator, behind SimMiddleware if there is one.
func (r *Rig) startSim() error {
	if r.cfg.SimMiddleware == nil && !r.cfg.SimPerReplica {
		sim, err := platformtest.Start(r.cfg.Sim)
		if err != nil {
			return err
		}
		r.Sim, r.SimURL = sim, sim.URL()
		return nil
	}
	r.Sim = platformtest.New(r.cfg.Sim)
	var h http.Handler = r.Sim
	if r.cfg.SimMiddleware != nil {
		h = r.cfg.SimMiddleware(h)
	}
	r.simSrv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	url, err := r.serveSim()
	r.SimURL = url
	return err
}

// serveSim serves the simulator on one more loopback port and returns its
// base URL.
func (r *Rig) serveSim() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	go func() { _ = r.simSrv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

// SimCaller is the name of the replica that sent req to the simulator
// (Config.SimPerReplica), or "" (a request of the rig's, or no
// SimPerReplica). Middleware calls it.
func (r *Rig) SimCaller(req *http.Request) string {
	a, ok := req.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return ""
	}
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.simPorts[ta.Port]
}

// Env is a replica's environment: connections to this rig's NATS and
// simulator with the sandbox credentials, an ops server on a free loopback
// port, no platform rate cap, info logs; then cfg.Env, then extra.
func (r *Rig) Env(extra map[string]string) []string {
	m := map[string]string{
		"TXWORKER_NATS_URL":            r.NATSURL(),
		"TXWORKER_STREAM_REPLICAS":     strconv.Itoa(r.StreamReplicas),
		"TXWORKER_SUBJECT_PREFIX":      r.Prefix,
		"TXWORKER_PLATFORM_URL":        r.SimURL,
		"TXWORKER_CLIENT_ID":           sandbox.ClientID,
		"TXWORKER_CLIENT_SECRET":       sandbox.ClientSecret,
		"TXWORKER_JM_URL":              r.SimURL,
		"TXWORKER_JM_USERNAME":         sandbox.JMUser,
		"TXWORKER_JM_PASSWORD":         sandbox.JMPassword,
		"TXWORKER_ALLOW_INSECURE_HTTP": "true",
		"TXWORKER_HTTP_ADDR":           "127.0.0.1:0",
		"TXWORKER_PLATFORM_RPS":        "0",
		"TXWORKER_SHUTDOWN_TIMEOUT":    "10s",
		"TXWORKER_LOG_LEVEL":           "info",
	}
	for _, src := range []map[string]string{r.cfg.Env, extra} {
		for k, v := range src {
			m[k] = v
		}
	}
	env := []string{"PATH=" + os.Getenv("PATH")}
	for _, k := range goRuntimeEnv {
		if v := os.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	for k, v := range m {
		env = append(env, k+"="+v)
	}
	return env
}

// goRuntimeEnv are the Go runtime's settings that a replica takes from
// this process's environment, so that a run can try them on the worker.
var goRuntimeEnv = []string{"GOMAXPROCS", "GOGC", "GOMEMLIMIT"}

// StartWorkers starts n replicas named worker-1 … worker-n, one after the
// other, each ready when the next starts (with Config.Fresh: all at the
// same moment, each started again up to 4 times if it exits before it is
// ready, counted in StartAttempts), and then the collector of the events
// (stop it when done; Close stops the replicas).
func (r *Rig) StartWorkers(ctx context.Context, n int) ([]*Replica, *Collector, error) {
	reps := make([]*Replica, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range reps {
		start := func() {
			p, err := r.StartReplica(ctx, fmt.Sprintf("worker-%d", i+1), nil)
			for attempt := 2; err != nil && p != nil && r.cfg.Fresh && attempt <= 5 && ctx.Err() == nil; attempt++ {
				r.mu.Lock()
				r.StartAttempts++
				r.mu.Unlock()
				r.log.Info("replica not ready, starting it again", zap.String("replica", p.Name), zap.Error(err))
				err = p.Start(ctx)
			}
			reps[i], errs[i] = p, err
		}
		if !r.cfg.Fresh {
			if start(); errs[i] != nil {
				return nil, nil, errs[i]
			}
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); start() }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	col, err := r.Collect(ctx)
	if err != nil {
		return nil, nil, err
	}
	return reps, col, nil
}

// NATSURL is what the replicas get as TXWORKER_NATS_URL: the server's URL,
// or every cluster node's as a comma list.
func (r *Rig) NATSURL() string {
	if r.Cluster != nil {
		return r.Cluster.URLs()
	}
	return r.NATS.URL()
}

// StartReplica starts `txworker run` (or cfg.Command) as a new OS process named name (its
// logs go to {Dir}/{name}.log) with r.Env(extra), and returns once its
// /readyz answers 200. Close kills every replica still running.
func (r *Rig) StartReplica(ctx context.Context, name string, extra map[string]string) (*Replica, error) {
	if r.cfg.SimPerReplica {
		url, err := r.serveSim()
		if err != nil {
			return nil, fmt.Errorf("simulator for %s: %w", name, err)
		}
		port, _ := strconv.Atoi(url[strings.LastIndexByte(url, ':')+1:])
		r.mu.Lock()
		if r.simPorts == nil {
			r.simPorts = map[int]string{}
		}
		r.simPorts[port] = name
		r.mu.Unlock()
		own := map[string]string{"TXWORKER_PLATFORM_URL": url, "TXWORKER_JM_URL": url}
		for k, v := range extra {
			own[k] = v
		}
		extra = own
	}
	p := &Replica{Name: name, LogPath: filepath.Join(r.Dir, name+".log"), bin: r.cfg.Binary, args: r.cfg.Command, env: r.Env(extra)}
	r.mu.Lock()
	r.replicas = append(r.replicas, p)
	r.mu.Unlock()
	if err := p.Start(ctx); err != nil {
		return p, err
	}
	return p, nil
}

// Publish publishes one command and waits for the stream's acknowledgement;
// Nats-Msg-Id is the commandId.
func (r *Rig) Publish(ctx context.Context, c Command) error {
	_, err := r.JS.PublishMsg(ctx, r.CommandMsg(c))
	if err != nil {
		return fmt.Errorf("publish %s: %w", c.ID, err)
	}
	return nil
}

// CommandMsg is the message that publishes c: its subject, body and
// Nats-Msg-Id (the commandId).
func (r *Rig) CommandMsg(c Command) *nats.Msg {
	m := nats.NewMsg(r.Prefix + ".cmd." + c.Action)
	m.Data = c.Body
	m.Header.Set(nats.MsgIdHdr, c.ID)
	return m
}

// Collect follows every event on the events stream from its start with an
// ordered consumer (which survives NATS restarts). Stop it when done.
func (r *Rig) Collect(ctx context.Context) (*Collector, error) {
	return startCollector(ctx, r.JS, r.Events)
}

// Close kills the replicas still running, stops the simulator and NATS and
// removes the directory it created (unless KeepDir).
func (r *Rig) Close() {
	r.mu.Lock()
	reps := r.replicas
	r.mu.Unlock()
	for _, p := range reps {
		_ = p.Kill()
	}
	if r.NC != nil {
		r.NC.Close()
	}
	if r.Sim != nil {
		r.Sim.Close()
	}
	if r.simSrv != nil {
		_ = r.simSrv.Close()
	}
	if r.NATS != nil {
		r.NATS.Shutdown()
	}
	if r.Cluster != nil {
		r.Cluster.Shutdown()
	}
	if r.ownsDir {
		_ = os.RemoveAll(r.Dir)
	}
}
