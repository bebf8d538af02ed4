package chaos

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/txworker/txworker/internal/rig"
	"github.com/txworker/txworker/queue"
)

// chaosReport is what a chaos run found: the figures RELIABILITY.md quotes
// and every violation of SPEC §8.
type chaosReport struct {
	o              Options
	dir            string
	elapsed        time.Duration
	intake         time.Duration // publishing plus the damage
	sent           int           // commands (unique commandIds)
	byKind         map[chaosKind]int
	messages       int // messages the stream acknowledged (copies, duplicates, retries included)
	dupAcks        int // of which dropped by the stream's Nats-Msg-Id dedupe
	sameID, copies int // deliberate duplicates: same Nats-Msg-Id, other Nats-Msg-Id
	pubRetries     int
	terminal       int // commands with a terminal event
	twice          int // commands with more than one
	outcomes       map[string]int
	gaveUp         int // fresh or refused commands whose retries ran out under the faults
	authFailed     int // fresh or refused commands whose new token was revoked too
	accepted       int // Corastone actions the simulator accepted
	maxAccepted    int // most accepted actions for one processId
	jmCancels      int // Journey Manager cancels that took effect
	dupCommand     float64
	dupEvent       float64
	longest        time.Duration
	longestID      string
	p50, p99       time.Duration
	kills          int
	restarts       int
	phases         int
	violations     []string
	notes          []string
	waitedOn       string // what the longest-waiting command waited on
	takeover       takeover
	ackWait        string // the tracking ack wait the replicas ran with
	// A cluster's run.
	nodes         int
	nodeLog       []nodeRestart
	lost          int
	startAttempts int // extra starts the replicas needed at the first rollout
}

// addCluster adds what the pollers, the kills and the cluster's nodes
// showed: the takeover gap, what the longest wait waited on, the node
// restarts and the loss.
func (rep *chaosReport) addCluster(r *rig.Rig, col *rig.Collector, m *monkey, polls *pollLog) {
	m.mu.Lock()
	kills := append([]kill(nil), m.killLog...)
	ds := append([]disruption(nil), m.disrupted...)
	rep.nodeLog = append([]nodeRestart(nil), m.nodeLog...)
	rep.lost = len(m.lost)
	m.mu.Unlock()
	rep.takeover = takeoverGaps(polls, kills, col)
	rep.ackWait = queue.DefaultTrackingAckWait.String() + " (the worker's default)"
	if v := chaosEnv["TXWORKER_TRACKING_ACK_WAIT"]; v != "" {
		rep.ackWait = v
	}
	if rec, ok := col.Record(rep.longestID); ok {
		rep.waitedOn = waitedOn(rec, polls, ds)
	}
	if r.Cluster == nil {
		return
	}
	rep.nodes = r.Cluster.Size()
	rep.startAttempts = r.StartAttempts
	if rep.o.natsLose && rep.lost == 0 {
		rep.violate("no NATS node was lost (-nats-lose)")
	}
	for _, n := range rep.nodeLog {
		if n.err != "" {
			rep.violate("NATS node %s (%s): %s", n.name, n.why, n.err)
		}
	}
}

// platformCode is a platform's business code (a refusal): a second send of
// an action whose first one took effect would show as one.
var platformCode = regexp.MustCompile(`^([A-Z]{2}[0-9]{4}|txn[A-Za-z]+)$`)

// retryCodes are the codes of a command that gave up on transient faults.
func gaveUpCode(code string) bool {
	return code == "RETRIES_EXHAUSTED" || code == "MALFORMED_RESPONSE" || strings.HasPrefix(code, "HTTP_5") || code == "HTTP_429"
}

// authCode is the code of a command whose token was refused twice in a
// row (Corastone AU0001, Journey Manager 401).
func authCode(code string) bool {
	return code == "AU0001" || code == "unauthorized" || code == "HTTP_401"
}

// faultTolerated reports whether a failed command's code is one the injected
// faults may cause (retries ran out, or a new token was revoked too: SPEC §5
// says failed), and counts it.
func (rep *chaosReport) faultTolerated(code string) bool {
	switch {
	case gaveUpCode(code):
		rep.gaveUp++
	case authCode(code):
		rep.authFailed++
	default:
		return false
	}
	return true
}

func buildChaosReport(o Options, r *rig.Rig, f *feeder, col *rig.Collector, m *monkey, live map[string]float64,
	start time.Time, intake time.Duration) *chaosReport {
	rep := &chaosReport{o: o, elapsed: time.Since(start), intake: intake, byKind: map[chaosKind]int{}, outcomes: map[string]int{}}
	f.mu.Lock()
	ids := append([]string(nil), f.ids...)
	cmds := f.cmds
	rep.messages, rep.dupAcks, rep.sameID, rep.copies, rep.pubRetries = f.messages, f.dupAcks, f.sameID, f.copies, f.retries
	f.mu.Unlock()
	rep.sent = len(ids)
	if rep.sent < o.count {
		rep.violate("only %d of %d commands were published", rep.sent, o.count)
	}
	missing, twice, undecoded := col.Check(ids)
	rep.twice = len(twice)
	if len(missing) > 0 {
		rep.violate("%d commands without a terminal event (e.g. %s)", len(missing), strings.Join(first(missing, 5), ", "))
	}
	if len(twice) > 0 {
		rep.violate("%d commands with more than one terminal event (e.g. %s)", len(twice), strings.Join(first(twice, 5), ", "))
	}
	if undecoded > 0 {
		rep.violate("%d events could not be read", undecoded)
	}
	known := map[string]bool{}
	for _, id := range ids {
		known[id] = true
	}
	var stray []string
	col.Each(func(id string, rec rig.Record) {
		if !known[id] {
			stray = append(stray, id)
		}
	})
	sort.Strings(stray)
	if len(stray) > 0 {
		rep.violate("%d events name commands nobody published (e.g. %s)", len(stray), strings.Join(first(stray, 5), ", "))
	}

	var waits []time.Duration
	var wrong []string
	for _, id := range ids {
		c := cmds[id]
		rep.byKind[c.kind]++
		rec, ok := col.Record(id)
		if !ok || rec.Terminals == 0 {
			continue
		}
		rep.terminal++
		rep.outcomes[rec.Outcome]++
		if w := rec.TerminalAt.Sub(rec.SentAt); !rec.SentAt.IsZero() {
			waits = append(waits, w)
			if w > rep.longest {
				rep.longest, rep.longestID = w, id
			}
		}
		if rec.Accepted > 1 {
			rep.notes = append(rep.notes, fmt.Sprintf("%s: %d accepted events", id, rec.Accepted))
		}
		if msg := rep.judge(r, c, rec); msg != "" {
			wrong = append(wrong, id+": "+msg)
		}
	}
	if len(wrong) > 0 {
		rep.violate("%d commands ended otherwise than their kind calls for: %s", len(wrong), strings.Join(first(wrong, 8), "; "))
	}
	if len(waits) > 0 {
		rep.p50, rep.p99 = rig.Percentile(waits, 50), rig.Percentile(waits, 99)
	}
	rep.accepted, rep.maxAccepted = r.Sim.AcceptedTotal(), r.Sim.MaxAcceptedPerProcess()
	rep.jmCancels = r.Sim.CancelledTotal()
	if rep.maxAccepted > 1 {
		rep.violate("a processId was accepted %d times by the platform: an action was sent twice", rep.maxAccepted)
	}
	rep.dupCommand = m.total(chaosCounters[0], live)
	rep.dupEvent = m.total(chaosCounters[1], live)
	rep.kills, rep.restarts, rep.phases = m.counts()
	if rep.kills < o.minKills || rep.restarts < o.minRestarts {
		rep.violate("only %d kills and %d NATS restarts (wanted %d and %d)", rep.kills, rep.restarts, o.minKills, o.minRestarts)
	}
	m.mu.Lock()
	rep.notes = append(rep.notes, m.notes...)
	m.mu.Unlock()
	return rep
}

// judge says what is wrong with how a command ended, or "".
func (rep *chaosReport) judge(r *rig.Rig, c chaosCommand, rec rig.Record) string {
	code := rec.ErrorCode
	switch c.kind {
	case kindRejected:
		if rec.Outcome != "rejected" {
			return fmt.Sprintf("invalid command ended %s %s", rec.Outcome, code)
		}
		return ""
	case kindRefused:
		switch {
		case rec.Outcome == "failed" && code == c.wantCode:
			return ""
		case rec.Outcome == "failed" && rep.faultTolerated(code):
			return ""
		}
		return fmt.Sprintf("want failed %s, got %s %s", c.wantCode, rec.Outcome, code)
	}
	switch {
	case rec.Outcome == "succeeded":
		if c.Action == "cancel-txn" {
			if n := r.Sim.Cancelled(c.Resource); n != 1 {
				return fmt.Sprintf("succeeded, but the transaction was cancelled %d times", n)
			}
		} else if rec.OrchestrationID == "" || r.Sim.Accepted(rec.OrchestrationID) != 1 {
			return fmt.Sprintf("succeeded, but the platform accepted its processId %d times", r.Sim.Accepted(rec.OrchestrationID))
		}
		return ""
	case rec.Outcome == "failed" && rep.faultTolerated(code):
		return ""
	case rec.Outcome == "failed" && platformCode.MatchString(code):
		return "fresh command refused with " + code + ": was the action sent twice?"
	}
	return fmt.Sprintf("fresh command ended %s %s", rec.Outcome, code)
}

func (rep *chaosReport) violate(format string, a ...any) {
	rep.violations = append(rep.violations, fmt.Sprintf(format, a...))
}

func first(s []string, n int) []string { return s[:min(n, len(s))] }

// print writes the report.
func (rep *chaosReport) print(w io.Writer) {
	o := rep.o
	fmt.Fprintf(w, "\nchaos report (seed %d)\n", o.seed)
	fmt.Fprintf(w, "  run                   %s (damage during the first %s): %d replicas, %d SIGKILLs, %d NATS restarts, %d fault phases\n",
		rep.elapsed.Round(time.Second), rep.intake.Round(time.Second), o.replicas, rep.kills, rep.restarts, rep.phases)
	fmt.Fprintf(w, "  commands sent         %d (fresh %d, refused by the platform %d, invalid %d) of every action\n",
		rep.sent, rep.byKind[kindFresh], rep.byKind[kindRefused], rep.byKind[kindRejected])
	fmt.Fprintf(w, "  messages published    %d (deliberate duplicates: %d same Nats-Msg-Id, %d same commandId under another; %d publish retries)\n",
		rep.messages, rep.sameID, rep.copies, rep.pubRetries)
	fmt.Fprintf(w, "  terminal events       %d commands of %d ended, %d more than once\n", rep.terminal, rep.sent, rep.twice)
	var outs []string
	for _, k := range []string{"succeeded", "failed", "rejected", "timed_out"} {
		outs = append(outs, fmt.Sprintf("%s %d", k, rep.outcomes[k]))
	}
	fmt.Fprintf(w, "  outcomes              %s (of the failed: %d gave up on transient faults, %d had a second token revoked)\n",
		strings.Join(outs, ", "), rep.gaveUp, rep.authFailed)
	fmt.Fprintf(w, "  accepted per processId max %d (Corastone actions accepted %d; Journey Manager cancels %d); platform does not de-duplicate\n",
		rep.maxAccepted, rep.accepted, rep.jmCancels)
	fmt.Fprintf(w, "  duplicates dropped    stream (Nats-Msg-Id) %d; worker: %.0f commands (same commandId), %.0f events (Nats-Msg-Id)\n",
		rep.dupAcks, rep.dupCommand, rep.dupEvent)
	fmt.Fprintf(w, "  wait publish→terminal p50 %s, p99 %s, longest %s (%s)\n", rig.Secs(rep.p50), rig.Secs(rep.p99), rig.Secs(rep.longest), rep.longestID)
	if rep.waitedOn != "" {
		fmt.Fprintf(w, "  longest waited on     %s\n", rep.waitedOn)
	}
	tk := rep.takeover
	fmt.Fprintf(w, "  tracking takeover gap p50 %s, p90 %s, p99 %s, max %s: kill → next poll of the %d orchestrations %d killed replicas tracked (%d held in flight, over %s; %d ended unpolled); tracking ack wait %s\n",
		rig.Secs(tk.p50), rig.Secs(tk.p90), rig.Secs(tk.p99), rig.Secs(tk.worst), len(tk.gaps), tk.kills, tk.held, pollMaxInterval, tk.unpolled, rep.ackWait)
	if rep.nodes > 0 {
		leaders := 0
		for _, n := range rep.nodeLog {
			if len(n.led) > 0 && !strings.HasPrefix(n.why, "lost") {
				leaders++
			}
		}
		fmt.Fprintf(w, "  NATS cluster          %d nodes, streams and bucket R%d; %d node restarts (%d of a leader), %d node lost for good; replicas started at once needed %d extra starts\n",
			rep.nodes, min(rep.nodes, 5), rep.restarts, leaders, rep.lost, rep.startAttempts)
		for _, n := range rep.nodeLog {
			down := ""
			if n.down > 0 {
				down = ", down " + rig.Secs(n.down)
			}
			fmt.Fprintf(w, "    node %-14s %s; led %s%s\n", n.name, n.why, ledString(n.led), down)
		}
	}
	if rep.dir != "" {
		fmt.Fprintf(w, "  run directory         %s\n", rep.dir)
	}
	for _, n := range first(rep.notes, 20) {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	if len(rep.notes) > 20 {
		fmt.Fprintf(w, "  note: … %d more\n", len(rep.notes)-20)
	}
	if len(rep.violations) == 0 {
		fmt.Fprintln(w, "  VERDICT: every command ended exactly once; none reached a consumer twice; no action was taken twice")
		return
	}
	for _, v := range rep.violations {
		fmt.Fprintf(w, "  VIOLATION: %s\n", v)
	}
}
