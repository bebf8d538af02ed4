package platformtest

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Request is one request the simulator received, as Requests reports it.
type Request struct {
	Time      time.Time // arrival, by the simulator's clock
	Method    string
	Path      string // escaped path as sent (r.URL.EscapedPath())
	RawQuery  string
	UserAgent string
	Endpoint  string // endpoint label ("token", "cancel-offering", …, "jm-query"); "" if no route matched
	Status    int    // HTTP status answered; 0 if the connection was dropped or the client left
	Fault     string // injected fault: "", "error", "rate-limit", "drop", "drop-after-accept", "malformed", "revoke", "latency" (client left while delayed)
}

// maxCountKeys bounds the distinct (method, path) counters; see Count.
const maxCountKeys = 1 << 16

type countKey struct{ method, path string }

// slot is one ring entry; seq 0 means empty.
type slot struct {
	mu  sync.Mutex
	seq uint64
	req Request
}

// reqLog keeps the latest requests in a ring and exact counters per (method, path). Writers
// do not share a lock: each reserves a ring slot with an atomic counter, and counters are
// atomics in a sync.Map. Reset swaps in a fresh log.
type reqLog struct {
	cur atomic.Pointer[logState]
}

type logState struct {
	ring   []slot
	next   atomic.Uint64
	counts sync.Map // countKey → *atomic.Int64
	keys   atomic.Int64
}

func (l *reqLog) reset(size int) {
	l.cur.Store(&logState{ring: make([]slot, max(size, 0))})
}

func (l *reqLog) add(e *Request, ep endpoint) {
	l.cur.Load().add(e, ep)
}

func (l *logState) add(e *Request, ep endpoint) {
	l.count(countKey{e.Method, e.Path}, ep)
	if len(l.ring) == 0 {
		return
	}
	n := l.next.Add(1)
	sl := &l.ring[(n-1)%uint64(len(l.ring))]
	sl.mu.Lock()
	if n > sl.seq { // a slower writer of an older lap must not overwrite a newer entry
		sl.seq, sl.req = n, *e
	}
	sl.mu.Unlock()
}

func (l *logState) count(k countKey, ep endpoint) {
	if c, ok := l.counts.Load(k); ok {
		c.(*atomic.Int64).Add(1)
		return
	}
	if l.keys.Load() >= maxCountKeys {
		k.path = foldPath(k.path, ep)
	}
	c, loaded := l.counts.LoadOrStore(k, new(atomic.Int64))
	if !loaded {
		l.keys.Add(1)
	}
	c.(*atomic.Int64).Add(1)
}

// foldPath is the counter key of a path once maxCountKeys distinct paths have been seen: the
// route template for reject-asset, else the first two segments followed by "/*".
func foldPath(path string, ep endpoint) string {
	if ep == epReject {
		if strings.HasPrefix(path, rejectPrefix+"asset/") {
			return rejectPrefix + "asset/{assetId}" + rejectSuffix
		}
		return rejectPrefix + "{assetId}" + rejectSuffix
	}
	parts := strings.SplitN(path, "/", 4)
	if len(parts) < 4 {
		return path
	}
	return strings.Join(parts[:3], "/") + "/*"
}

// Requests returns the latest requests (at most Config.LogSize), oldest first. A request still
// being recorded while Requests runs may be missing.
func (s *Simulator) Requests() []Request {
	l := s.log.cur.Load()
	type entry struct {
		seq uint64
		req Request
	}
	entries := make([]entry, 0, min(len(l.ring), int(l.next.Load())))
	for i := range l.ring {
		sl := &l.ring[i]
		sl.mu.Lock()
		if sl.seq != 0 {
			entries = append(entries, entry{sl.seq, sl.req})
		}
		sl.mu.Unlock()
	}
	slices.SortFunc(entries, func(a, b entry) int { return int(int64(a.seq) - int64(b.seq)) })
	out := make([]Request, len(entries))
	for i, e := range entries {
		out[i] = e.req
	}
	return out
}

// Count returns how many requests with method (any if "") had a path starting with pathPrefix,
// since New or Reset. It is exact for every prefix while fewer than 65,536 distinct (method,
// path) pairs have been seen; after that, new reject-asset paths are counted under their route
// template and other new paths under their first two segments, so prefixes up to those stay exact.
func (s *Simulator) Count(method, pathPrefix string) int {
	n := int64(0)
	s.log.cur.Load().counts.Range(func(k, v any) bool {
		ck := k.(countKey)
		if (method == "" || ck.method == method) && strings.HasPrefix(ck.path, pathPrefix) {
			n += v.(*atomic.Int64).Load()
		}
		return true
	})
	return int(n)
}
