package platformtest

import (
	"strings"
	"sync"
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

// reqLog keeps the latest requests in a ring and exact counters per (method, path).
type reqLog struct {
	mu      sync.Mutex
	ring    []Request
	ringCap int
	next    int
	full    bool
	counts  map[countKey]int
}

func (l *reqLog) reset(size int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ring = make([]Request, 0, min(max(size, 0), 4096))
	if size <= 0 {
		l.ring = nil
	}
	l.next, l.full = 0, false
	l.counts = make(map[countKey]int)
	l.ringCap = max(size, 0)
}

func (l *reqLog) add(e *Request, ep endpoint) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := countKey{e.Method, e.Path}
	if _, ok := l.counts[k]; !ok && len(l.counts) >= maxCountKeys {
		k = countKey{e.Method, foldPath(e.Path, ep)}
	}
	l.counts[k]++
	switch {
	case l.ringCap == 0:
	case len(l.ring) < l.ringCap:
		l.ring = append(l.ring, *e)
	default:
		l.ring[l.next] = *e
		l.next = (l.next + 1) % l.ringCap
		l.full = true
	}
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

// Requests returns the latest requests (at most Config.LogSize), oldest first.
func (s *Simulator) Requests() []Request {
	l := &s.log
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Request, 0, len(l.ring))
	if l.full {
		out = append(out, l.ring[l.next:]...)
		return append(out, l.ring[:l.next]...)
	}
	return append(out, l.ring...)
}

// Count returns how many requests with method (any if "") had a path starting with pathPrefix,
// since New or Reset. It is exact for every prefix while fewer than 65,536 distinct (method,
// path) pairs have been seen; after that, new reject-asset paths are counted under their route
// template and other new paths under their first two segments, so prefixes up to those stay exact.
func (s *Simulator) Count(method, pathPrefix string) int {
	l := &s.log
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for k, c := range l.counts {
		if (method == "" || k.method == method) && strings.HasPrefix(k.path, pathPrefix) {
			n += c
		}
	}
	return n
}
