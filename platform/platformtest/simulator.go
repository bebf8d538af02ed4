package platformtest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"
)

// Simulator is the in-process simulator of Corastone and Journey Manager. It is an http.Handler;
// Start also serves it on a loopback port. All methods are safe for concurrent use.
type Simulator struct {
	cfg    Config
	logger *zap.Logger

	faults   atomic.Pointer[faultSet]
	faultMu  sync.Mutex // guards faultRng
	faultRng *rand.Rand

	authMu sync.RWMutex // guards tokens
	tokens map[string]*token

	sessMu   sync.Mutex // guards sessions
	sessions map[string]string

	mu         sync.RWMutex // guards the fields from here to cancelsN
	rng        *rand.Rand
	securities map[string]*Security
	secCorr    map[string]string // corrKey → securityId
	assets     map[string]*Asset
	assetCorr  map[string]string // corrKey → assetId
	orgs       map[string]struct{}
	txns       map[string]*Txn
	txnOrder   []string
	orchList   []*orch              // creation order
	seqIndex   map[int64][]seqEntry // the Sequencer's entries by the second of their timestamp
	stepIdx    map[uuid.UUID]*orch
	pending    pendingHeap
	seq        int64
	autoSeq    int
	accepted   map[string]int // lower-cased processId → accepted actions
	repeats    map[string]int
	acceptedN  int
	maxAccept  int
	cancels    map[string]int
	cancelsN   int

	orchs sync.Map // lower-cased orchestrationId → *orch; written under mu, read without it

	log reqLog

	srv    *http.Server
	url    string
	served chan struct{}
	done   chan struct{}
	closed sync.Once
}

// New returns a Simulator with cfg's defaults applied and the fixtures listed in the package
// documentation seeded. It starts nothing: use it as an http.Handler, or call Start instead.
func New(cfg Config) *Simulator {
	cfg = cfg.withDefaults()
	seed := uint64(cfg.Seed)
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	s := &Simulator{
		cfg:      cfg,
		logger:   cfg.Logger.Named("platformtest"),
		faultRng: rand.New(rand.NewPCG(seed, 0x6661756c74)),
		rng:      rand.New(rand.NewPCG(seed, 0x706c616e)),
		done:     make(chan struct{}),
	}
	s.reset()
	return s
}

// Start returns a Simulator serving on a fresh 127.0.0.1 port (URL). Close stops it.
func Start(cfg Config) (*Simulator, error) {
	s := New(cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s.url = "http://" + ln.Addr().String()
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          zap.NewStdLog(s.logger),
	}
	s.served = make(chan struct{})
	go func() {
		defer close(s.served)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("serve", zap.Error(err))
		}
	}()
	s.logger.Info("simulator listening", zap.String("url", s.url))
	return s, nil
}

// URL is the base URL ("http://127.0.0.1:port") of a started Simulator; "" after New.
func (s *Simulator) URL() string { return s.url }

// Close stops a started Simulator: it closes the listener and every connection, wakes requests
// waiting on an injected latency, and waits for the server goroutine. Safe to call more than once,
// and on a Simulator from New (then it only wakes waiting requests).
func (s *Simulator) Close() {
	s.closed.Do(func() {
		close(s.done)
		if s.srv != nil {
			if err := s.srv.Close(); err != nil {
				s.logger.Warn("close", zap.Error(err))
			}
			<-s.served
		}
	})
}

// Reset brings the simulator back to the state New created: seeded fixtures only, no
// orchestrations, tokens or sessions, empty request log and counters, Config.Faults.
func (s *Simulator) Reset() {
	s.authMu.Lock()
	s.sessMu.Lock()
	s.mu.Lock()
	s.reset()
	s.mu.Unlock()
	s.sessMu.Unlock()
	s.authMu.Unlock()
}

// reset initialises all state; the caller holds every lock (or owns s exclusively).
func (s *Simulator) reset() {
	s.tokens = make(map[string]*token)
	s.sessions = make(map[string]string)
	s.securities = make(map[string]*Security)
	s.secCorr = make(map[string]string)
	s.assets = make(map[string]*Asset)
	s.assetCorr = make(map[string]string)
	s.orgs = make(map[string]struct{})
	s.txns = make(map[string]*Txn)
	s.txnOrder = nil
	s.orchs.Clear()
	s.orchList = nil
	s.seqIndex = make(map[int64][]seqEntry)
	s.stepIdx = make(map[uuid.UUID]*orch)
	s.pending = nil
	s.seq, s.autoSeq = 0, 0
	s.accepted = make(map[string]int)
	s.repeats = make(map[string]int)
	s.acceptedN, s.maxAccept = 0, 0
	s.cancels = make(map[string]int)
	s.cancelsN = 0
	s.log.reset(s.cfg.LogSize)
	s.faults.Store(compileFaults(s.cfg.Faults))
	s.seedFixtures(s.cfg.Now())
}

// SetFaults replaces the injected faults from the next request on.
func (s *Simulator) SetFaults(f Faults) { s.faults.Store(compileFaults(f)) }

// Faults returns the faults currently injected.
func (s *Simulator) Faults() Faults { return s.faults.Load().Faults }
