package platformtest

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// endpoint is one route of the simulator.
type endpoint uint8

const (
	epNone endpoint = iota
	epToken
	epCancel
	epRevert
	epRemove
	epReject
	epRestrict
	epOrchestrations
	epTransactions
	epJMCancel
	epJMQuery
	epSequencer
	numEndpoints
)

// String is the endpoint label (the design's closed set, plus "restrict-offering").
func (e endpoint) String() string {
	switch e {
	case epToken:
		return "token"
	case epCancel:
		return "cancel-offering"
	case epRevert:
		return "revert-to-active"
	case epRemove:
		return "remove-service-provider"
	case epReject:
		return "reject-asset"
	case epRestrict:
		return "restrict-offering"
	case epOrchestrations:
		return "orchestrations"
	case epTransactions:
		return "transactions"
	case epJMCancel:
		return "cancel-txn"
	case epJMQuery:
		return "jm-query"
	case epSequencer:
		return "sequencer"
	}
	return ""
}

func (e endpoint) isAction() bool { return e >= epCancel && e <= epRestrict }

func (e endpoint) isJM() bool { return e == epJMCancel || e == epJMQuery }

func (e endpoint) method() string {
	switch {
	case e.isAction():
		return http.MethodPut
	case e == epOrchestrations || e == epTransactions || e == epSequencer:
		return http.MethodGet
	}
	return http.MethodPost
}

const (
	rejectPrefix = "/external/v1/primary/"
	rejectSuffix = "/reject"
	jmPrefix     = "/workspaces/"
)

// route is a matched request: its endpoint and, for reject-asset, the unescaped assetId.
type route struct {
	ep    endpoint
	asset string
}

// matchRoute matches the escaped path. The assetId of reject-asset is exactly one escaped
// segment, in either the documented form /primary/asset/{assetId}/reject or the heading's
// /primary/{assetId}/reject.
func matchRoute(path string) route {
	switch path {
	case "/oauth2/token":
		return route{ep: epToken}
	case "/external/v1/security-admin/cancel":
		return route{ep: epCancel}
	case "/external/v1/security-admin/revert-completed-to-active":
		return route{ep: epRevert}
	case "/external/v1/service-providers/remove":
		return route{ep: epRemove}
	case "/external/v1/security-admin/restrict":
		return route{ep: epRestrict}
	case "/external/v1/transactions/orchestrations":
		return route{ep: epOrchestrations}
	case "/external/v1/transactions":
		return route{ep: epTransactions}
	case "/workspaces/secure/api/v1/txn/cancel":
		return route{ep: epJMCancel}
	case "/workspaces/secure/api/v1/txn/query":
		return route{ep: epJMQuery}
	case sequencerPath:
		return route{ep: epSequencer}
	}
	if !strings.HasPrefix(path, rejectPrefix) || !strings.HasSuffix(path, rejectSuffix) ||
		len(path) <= len(rejectPrefix)+len(rejectSuffix) {
		return route{}
	}
	seg := path[len(rejectPrefix) : len(path)-len(rejectSuffix)]
	if strings.Contains(seg, "/") {
		var ok bool
		if seg, ok = strings.CutPrefix(seg, "asset/"); !ok || seg == "" || strings.Contains(seg, "/") {
			return route{}
		}
	}
	id, err := url.PathUnescape(seg)
	if err != nil {
		return route{}
	}
	return route{ep: epReject, asset: id}
}

// reply is a handler's answer; ServeHTTP writes it (or replaces it with an injected fault).
type reply struct {
	status int
	body   []byte
	buf    *[]byte // pooled buffer holding body, released after writing
	ctype  string  // "" → application/json
}

func (r reply) ok() bool { return r.status >= 200 && r.status < 300 }

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) <= 1<<20 {
		*b = (*b)[:0]
		bufPool.Put(b)
	}
}

// ServeHTTP answers one request: User-Agent check (403), routing (404/405), injected faults,
// then the endpoint. Every request is logged and counted before its answer leaves, so a client
// that has its answer (or lost its connection) finds it in Requests and Count.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	arrived := s.cfg.Now()
	path := r.URL.EscapedPath()
	rt := matchRoute(path)
	out := s.serve(w, r, rt, arrived)
	entry := Request{Time: arrived, Method: r.Method, Path: path, RawQuery: r.URL.RawQuery,
		UserAgent: r.Header.Get("User-Agent"), Endpoint: rt.ep.String(), Fault: out.fault}
	if !out.drop && !out.gone {
		entry.Status = out.rep.status
	}
	s.log.add(&entry, rt.ep)
	switch {
	case out.gone:
	case out.drop:
		release(out.rep)
		drop(w)
	default:
		s.write(w, out.rep)
	}
}

// verdict is what ServeHTTP does with a request: write rep, drop the connection, or nothing
// (the client left during an injected latency).
type verdict struct {
	rep   reply
	drop  bool
	gone  bool
	fault string
}

func (s *Simulator) serve(w http.ResponseWriter, r *http.Request, rt route, now time.Time) verdict {
	switch {
	case r.Header.Get("User-Agent") == "":
		return verdict{rep: plain(http.StatusForbidden)}
	case rt.ep == epNone:
		return verdict{rep: plain(http.StatusNotFound)}
	case r.Method != rt.ep.method():
		w.Header().Set("Allow", rt.ep.method())
		return verdict{rep: plain(http.StatusMethodNotAllowed)}
	}
	f := s.pickFault(rt.ep)
	if f.delay > 0 {
		if !s.wait(r, f.delay) {
			return verdict{gone: true, fault: "latency"}
		}
		now = s.cfg.Now()
	}
	name := f.kind.String()
	switch f.kind {
	case fError:
		return verdict{rep: errorFault(rt.ep, f.status), fault: name}
	case fRateLimit:
		w.Header().Set("Retry-After", strconv.Itoa(f.retryAfter))
		return verdict{rep: plain(http.StatusTooManyRequests), fault: name}
	case fDrop:
		return verdict{drop: true, fault: name}
	case fRevoke:
		if !s.revokeBearer(r) {
			name = ""
		}
	}
	rep := s.handle(w, r, rt, now)
	switch {
	case f.kind == fDropAfter && rep.ok():
		return verdict{rep: rep, drop: true, fault: name}
	case f.kind == fMalformed && rep.ok():
		release(rep)
		return verdict{rep: s.malformed(), fault: name}
	case f.kind == fDropAfter || f.kind == fMalformed:
		return verdict{rep: rep}
	}
	return verdict{rep: rep, fault: name}
}

func (s *Simulator) handle(w http.ResponseWriter, r *http.Request, rt route, now time.Time) reply {
	switch rt.ep {
	case epToken:
		return s.handleToken(w, r, now)
	case epOrchestrations:
		return s.handleOrchestrations(w, r, now)
	case epTransactions:
		return s.handleTransactions(w, r, now)
	case epSequencer:
		return s.handleSequencer(w, r, now)
	case epJMCancel, epJMQuery:
		return s.handleJM(w, r, rt.ep, now)
	}
	return s.handleAction(w, r, rt, now)
}

// write sends rep.
func (s *Simulator) write(w http.ResponseWriter, rep reply) {
	h := w.Header()
	ct := rep.ctype
	if ct == "" {
		ct = "application/json"
	}
	h.Set("Content-Type", ct)
	h.Set("Content-Length", strconv.Itoa(len(rep.body)))
	w.WriteHeader(rep.status)
	if _, err := w.Write(rep.body); err != nil {
		s.logger.Debug("write answer", zap.Error(err))
	}
	release(rep)
}

func release(rep reply) {
	if rep.buf != nil {
		putBuf(rep.buf)
	}
}

// plain is a JSON answer naming only the HTTP status (no platform code).
func plain(status int) reply {
	return reply{status: status, body: []byte(`{"message":"` + http.StatusText(status) + `"}`)}
}

// drop closes the connection without an answer.
func drop(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// wait sleeps d unless the request or the simulator ends first; it reports whether d passed.
func (s *Simulator) wait(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
	case <-s.done:
	}
	return false
}
