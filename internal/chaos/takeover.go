package chaos

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/txworker/txworker/internal/rig"
)

// orchestrationsPath is the Transactions API endpoint the poller asks for
// the status of the orchestrations it tracks (orchestrationIdsFilter).
const orchestrationsPath = "/external/v1/transactions/orchestrations"

// poll is one status request that named an orchestration.
type poll struct {
	at     time.Time
	caller string // the replica (rig.SimCaller)
}

// pollLog records, per orchestration, when which replica asked for its
// status: the simulator sits behind its middleware. Safe for concurrent
// use.
type pollLog struct {
	mu    sync.Mutex
	r     *rig.Rig
	polls map[string][]poll // orchestrationId → polls in arrival order
}

func newPollLog() *pollLog { return &pollLog{polls: map[string][]poll{}} }

// setRig tells the log whose replicas call (rig.Start returns after the
// middleware is in place).
func (l *pollLog) setRig(r *rig.Rig) {
	l.mu.Lock()
	l.r = r
	l.mu.Unlock()
}

// middleware is rig.Config.SimMiddleware.
func (l *pollLog) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodGet && req.URL.Path == orchestrationsPath {
			now := time.Now()
			l.mu.Lock()
			caller := ""
			if l.r != nil {
				caller = l.r.SimCaller(req)
			}
			for _, id := range strings.Split(req.URL.Query().Get("orchestrationIdsFilter"), ",") {
				if id != "" {
					l.polls[id] = append(l.polls[id], poll{at: now, caller: caller})
				}
			}
			l.mu.Unlock()
		}
		next.ServeHTTP(w, req)
	})
}

// of returns a copy of one orchestration's polls.
func (l *pollLog) of(id string) []poll {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]poll(nil), l.polls[id]...)
}

// kill is one SIGKILL of a replica.
type kill struct {
	name string
	at   time.Time
}

// disruption is a stretch of trouble (a replica down, a node down, a fault
// phase); to is zero while it lasts or for good.
type disruption struct {
	what     string
	from, to time.Time
}

// takeover is the tracking takeover gaps of a run: after a replica was
// killed, how long until the orchestrations it was tracking were polled
// again (by whichever replica the tracking messages went to).
type takeover struct {
	gaps       []time.Duration // one per (kill, orchestration the dead replica tracked)
	kills      int             // kills whose replica was tracking something
	unpolled   int             // the dead one's orchestrations that ended without another poll
	held       int             // gaps longer than the pollers' longest interval: messages in flight at the kill, back after the ack wait
	p50, p90   time.Duration
	p99, worst time.Duration
}

// trackedWindow is how recent a replica's last poll of an orchestration
// must be for it to count as tracking it when it was killed: the pollers'
// longest interval is a few seconds.
const trackedWindow = 10 * time.Second

// pollMaxInterval is the pollers' longest interval (chaosEnv's
// TXWORKER_POLL_MAX_INTERVAL): an orchestration the dead replica had put
// back (NakWithDelay) comes back within it; one whose message it held comes
// back only when the tracking ack wait runs out.
var pollMaxInterval = func() time.Duration {
	d, err := time.ParseDuration(chaosEnv["TXWORKER_POLL_MAX_INTERVAL"])
	if err != nil {
		return 3 * time.Second
	}
	return d
}()

// takeoverGaps measures the takeover after every kill: the orchestrations
// whose latest poll before the kill came from the killed replica (within
// trackedWindow) and whose command ended after it were the dead replica's;
// each gap is from the kill to the next poll of that orchestration.
func takeoverGaps(l *pollLog, kills []kill, col *rig.Collector) takeover {
	var orchs []ended
	col.Each(func(_ string, rec rig.Record) {
		if rec.OrchestrationID != "" && rec.Terminals > 0 {
			orchs = append(orchs, ended{rec.OrchestrationID, rec.TerminalAt})
		}
	})
	return gapsAfterKills(l, kills, orchs)
}

// ended is an orchestration and when its command's terminal event came.
type ended struct {
	id string
	at time.Time
}

// gapsAfterKills is takeoverGaps on the orchestrations that ended.
func gapsAfterKills(l *pollLog, kills []kill, orchs []ended) takeover {
	var t takeover
	for _, k := range kills {
		held := false
		for _, o := range orchs {
			if !o.at.After(k.at) {
				continue
			}
			ps := l.of(o.id)
			i := sort.Search(len(ps), func(i int) bool { return ps[i].at.After(k.at) })
			if i == 0 || ps[i-1].caller != k.name || k.at.Sub(ps[i-1].at) > trackedWindow {
				continue
			}
			held = true
			if i == len(ps) {
				t.unpolled++
				continue
			}
			gap := ps[i].at.Sub(k.at)
			t.gaps = append(t.gaps, gap)
			if gap > pollMaxInterval {
				t.held++
			}
		}
		if held {
			t.kills++
		}
	}
	if len(t.gaps) > 0 {
		g := append([]time.Duration(nil), t.gaps...)
		t.p50, t.p90, t.p99 = rig.Percentile(g, 50), rig.Percentile(g, 90), rig.Percentile(g, 99)
		t.worst = g[len(g)-1]
	}
	return t
}

// waitedOn says what the command whose record is rec waited on: when it
// was accepted, its polls and their longest silence, and the disruptions
// that overlapped its wait.
func waitedOn(rec rig.Record, l *pollLog, ds []disruption) string {
	var parts []string
	rel := func(t time.Time) string {
		d := t.Sub(rec.SentAt)
		if d < 0 {
			return "-" + rig.Secs(-d)
		}
		return "+" + rig.Secs(d)
	}
	// The disruptions that matter are those over the longest silence
	// between polls, if there was one, else those over the whole wait.
	winFrom, winTo := rec.SentAt, rec.TerminalAt
	if !rec.AcceptedAt.IsZero() {
		parts = append(parts, "accepted at "+rel(rec.AcceptedAt))
	}
	if rec.OrchestrationID != "" {
		ps := l.of(rec.OrchestrationID)
		if len(ps) > 0 {
			from := rec.AcceptedAt
			if from.IsZero() {
				from = ps[0].at
			}
			var silence time.Duration
			var silenceAt time.Time
			callers := map[string]bool{}
			for _, p := range ps {
				callers[p.caller] = true
				if d := p.at.Sub(from); d > silence {
					silence, silenceAt = d, from
				}
				from = p.at
			}
			names := make([]string, 0, len(callers))
			for c := range callers {
				names = append(names, c)
			}
			sort.Strings(names)
			parts = append(parts, fmt.Sprintf("%d polls by %s, longest silence %s from %s", len(ps),
				strings.Join(names, "+"), rig.Secs(silence), rel(silenceAt)))
			if silence > 0 {
				winFrom, winTo = silenceAt, silenceAt.Add(silence)
			}
		}
	}
	var during []string
	for _, d := range ds {
		if d.from.Before(winTo) && (d.to.IsZero() || d.to.After(winFrom)) {
			to := "for good"
			if !d.to.IsZero() {
				to = "to " + rel(d.to)
			}
			during = append(during, fmt.Sprintf("%s %s %s", d.what, rel(d.from), to))
		}
	}
	if len(during) > 0 {
		parts = append(parts, "meanwhile: "+strings.Join(first(during, 6), "; "))
		if len(during) > 6 {
			parts = append(parts, fmt.Sprintf("… %d more", len(during)-6))
		}
	}
	if len(parts) == 0 {
		return "no accepted event, no polls, no disruption"
	}
	return strings.Join(parts, "; ")
}
