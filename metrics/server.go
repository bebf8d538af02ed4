package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// DefaultAddr is the ops server's listen address when ServerConfig.Addr is empty.
const DefaultAddr = ":8080"

// ServerConfig configures the ops HTTP server.
type ServerConfig struct {
	// Addr is the TCP address to listen on (TXWORKER_HTTP_ADDR); default
	// [DefaultAddr]. Port 0 picks a free port; see [Server.Addr].
	Addr string
	// Pprof serves the runtime profiles under /debug/pprof/ (TXWORKER_PPROF):
	// CPU (/debug/pprof/profile?seconds=N, N below the 30 s write timeout),
	// heap, goroutines and execution traces. Off by default: profiles show
	// the process's internals, so only turn it on where the ops port is not
	// reachable from outside the cluster.
	Pprof bool
}

// Validate reports whether Addr, if set, is a host:port address.
func (c ServerConfig) Validate() error {
	if c.Addr == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("http address %q: %w", c.Addr, err)
	}
	return nil
}

// Server is the ops HTTP server: /metrics, /healthz and /readyz on its own
// ServeMux, with read, write and idle timeouts. Only GET and HEAD are served.
type Server struct {
	cfg      ServerConfig
	logger   *zap.Logger
	live     func() error
	ready    func() error
	mux      *http.ServeMux
	srv      *http.Server
	draining atomic.Bool
	lastOK   atomic.Int32 // last /readyz verdict: 0 unknown, 1 ready, 2 not ready

	mu   sync.Mutex
	ln   net.Listener
	done chan struct{} // closed when Serve has returned
}

// NewServer builds the ops server; it does not listen until [Server.Start].
// g is served on /metrics. live answers /healthz and must only check the
// worker's own loops, never a remote service; ready answers /readyz (connected,
// provisioned, first token obtained). A nil live or ready always passes. A nil
// logger becomes zap.NewNop().
func NewServer(cfg ServerConfig, g prometheus.Gatherer, live func() error, ready func() error, logger *zap.Logger) *Server {
	if logger == nil {
		logger = zap.NewNop()
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	s := &Server{cfg: cfg, logger: logger, live: live, ready: ready, mux: http.NewServeMux()}
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorHandling:       promhttp.ContinueOnError,
		EnableOpenMetrics:   true, // exemplars (trace ids) are only in the OpenMetrics format
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	}))
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	if cfg.Pprof {
		s.mux.HandleFunc("GET /debug/pprof/", pprof.Index) // heap, goroutine, allocs, block, mutex, …
		s.mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		s.mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		s.mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}

	errorLog, _ := zap.NewStdLogAt(logger, zap.WarnLevel) // errs only for an invalid level
	s.srv = &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          errorLog,
	}
	return s
}

// Start listens on the configured address and serves in the background until
// [Server.Shutdown]. It returns the listen error, if any; calling it twice is
// an error.
func (s *Server) Start() error {
	if err := s.cfg.Validate(); err != nil {
		return fmt.Errorf("start ops server: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return errors.New("start ops server: already started")
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("start ops server: %w", err)
	}
	s.ln, s.done = ln, make(chan struct{})
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("ops server stopped", zap.Error(err))
		}
	}()
	s.logger.Info("ops server listening", zap.String("addr", ln.Addr().String()))
	return nil
}

// Addr returns the address the server listens on (with the real port when
// the configured port was 0), or "" before [Server.Start].
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// SetDraining makes /readyz answer 503 from now on (shutdown has begun).
func (s *Server) SetDraining() {
	if !s.draining.Swap(true) {
		s.logger.Info("draining: readiness off")
	}
}

// Shutdown stops accepting connections and waits, until ctx ends, for active
// requests to finish. It is a no-op before [Server.Start].
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done == nil {
		return nil
	}
	if err := s.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("shutdown ops server: %w", err)
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("shutdown ops server: %w", ctx.Err())
	}
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	if s.live != nil {
		if err := s.live(); err != nil {
			s.logger.Warn("liveness check failed", zap.Error(err))
			plain(w, http.StatusServiceUnavailable, "not alive: "+err.Error())
			return
		}
	}
	plain(w, http.StatusOK, "ok")
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if s.draining.Load() {
		plain(w, http.StatusServiceUnavailable, "draining")
		return
	}
	var err error
	if s.ready != nil {
		err = s.ready()
	}
	s.noteReady(err)
	if err != nil {
		plain(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
		return
	}
	plain(w, http.StatusOK, "ok")
}

// noteReady logs readiness transitions, not every probe.
func (s *Server) noteReady(err error) {
	state := int32(1)
	if err != nil {
		state = 2
	}
	if s.lastOK.Swap(state) == state {
		return
	}
	if err != nil {
		s.logger.Warn("not ready", zap.Error(err))
		return
	}
	s.logger.Info("ready")
}

func plain(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body+"\n")
}
