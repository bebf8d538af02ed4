package platformtest

import (
	"math"
	"net/http"
	"strings"
	"time"
)

type faultKind uint8

const (
	fNone faultKind = iota
	fError
	fRateLimit
	fDrop
	fDropAfter
	fMalformed
	fRevoke
)

// String is the fault's name in Request.Fault.
func (k faultKind) String() string {
	switch k {
	case fError:
		return "error"
	case fRateLimit:
		return "rate-limit"
	case fDrop:
		return "drop"
	case fDropAfter:
		return "drop-after-accept"
	case fMalformed:
		return "malformed"
	case fRevoke:
		return "revoke"
	}
	return ""
}

// faultSet is Faults compiled for the hot path.
type faultSet struct {
	Faults
	mask   uint32 // endpoints the faults apply to
	active bool   // any rate or latency set
}

func compileFaults(f Faults) *faultSet {
	fs := &faultSet{Faults: f}
	fs.active = f.Latency > 0 || f.LatencyJitter > 0 || f.ErrorRate > 0 || f.RateLimitRate > 0 ||
		f.DropRate > 0 || f.DropAfterAcceptRate > 0 || f.MalformedRate > 0 || f.RevokeRate > 0
	if strings.TrimSpace(f.Only) == "" {
		fs.mask = math.MaxUint32
		return fs
	}
	for name := range strings.SplitSeq(f.Only, ",") {
		name = strings.TrimSpace(name)
		for e := epToken; e < numEndpoints; e++ {
			var in bool
			switch name {
			case "actions":
				in = e.isAction()
			case "transactions":
				in = e == epOrchestrations || e == epTransactions
			case "jm":
				in = e.isJM()
			default:
				in = name == e.String()
			}
			if in {
				fs.mask |= 1 << e
			}
		}
	}
	return fs
}

// fault is what happens to one request.
type fault struct {
	kind       faultKind
	delay      time.Duration
	status     int // fError
	retryAfter int // fRateLimit, seconds
}

// pickFault draws the fault for one request of ep: one draw over the exclusive rates.
func (s *Simulator) pickFault(ep endpoint) fault {
	fs := s.faults.Load()
	if !fs.active || fs.mask&(1<<ep) == 0 {
		return fault{}
	}
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	f := fault{delay: fs.Latency}
	if fs.LatencyJitter > 0 {
		f.delay += time.Duration(s.faultRng.Int64N(int64(fs.LatencyJitter) + 1))
	}
	r := s.faultRng.Float64()
	rates := [...]struct {
		rate float64
		kind faultKind
	}{
		{fs.ErrorRate, fError}, {fs.RateLimitRate, fRateLimit}, {fs.DropRate, fDrop},
		{fs.DropAfterAcceptRate, fDropAfter}, {fs.MalformedRate, fMalformed}, {fs.RevokeRate, fRevoke},
	}
	for _, c := range rates {
		if r < c.rate {
			f.kind = c.kind
			break
		}
		r -= c.rate
	}
	switch f.kind {
	case fError:
		f.status = [...]int{500, 502, 503, 504}[s.faultRng.IntN(4)]
	case fRateLimit:
		ra := fs.RetryAfter
		if ra <= 0 {
			ra = time.Second
		}
		f.retryAfter = max(1, int((ra+time.Second-1)/time.Second))
	}
	return f
}

// errorFault is the answer of an injected 5xx: Journey Manager's internalError for a JM 500,
// otherwise a gateway-style body without a platform code.
func errorFault(ep endpoint, status int) reply {
	if ep.isJM() && status == http.StatusInternalServerError {
		return jmError(status, "internalError", "Please see Error Log ID 4711")
	}
	return plain(status)
}

// malformed is a 200 answer that is not the documented JSON: a truncated JSON object, an HTML
// page or an empty body, at random.
func (s *Simulator) malformed() reply {
	s.faultMu.Lock()
	n := s.faultRng.IntN(3)
	s.faultMu.Unlock()
	switch n {
	case 0:
		return reply{status: http.StatusOK, body: []byte(`{"processId":"2159457f-0167-4e93`)}
	case 1:
		return reply{status: http.StatusOK, ctype: "text/html",
			body: []byte("<html><head><title>Maintenance</title></head><body>Back soon</body></html>")}
	}
	return reply{status: http.StatusOK}
}
