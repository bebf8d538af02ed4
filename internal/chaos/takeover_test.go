package chaos

import (
	"strings"
	"testing"
	"time"

	"github.com/txworker/txworker/internal/rig"
)

// The takeover gap counts only the orchestrations the killed replica was
// tracking (its poll the latest before the kill, recent, the command still
// open), from the kill to the next poll by anyone.
func TestGapsAfterKills(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	l := newPollLog()
	l.polls = map[string][]poll{
		"held":     {{at(1), "w1"}, {at(4), "w1"}, {at(20), "w2"}},  // w1's, in flight: back after 15s
		"put-back": {{at(2), "w1"}, {at(5.5), "w3"}},                // w1's, put back: 0.5s
		"other":    {{at(4.5), "w2"}, {at(6), "w2"}},                // w2's: not the dead one's
		"stale":    {{at(-20), "w1"}, {at(30), "w2"}},               // w1 last polled it 25s before: not tracking it
		"done":     {{at(4.8), "w1"}},                               // ended before the kill
		"lost":     {{at(4.9), "w1"}},                               // w1's, ended without another poll
		"later":    {{at(1), "w2"}, {at(4.9), "w1"}, {at(9), "w2"}}, // w1's latest: 4s
	}
	orchs := []ended{{"held", at(25)}, {"put-back", at(25)}, {"other", at(25)}, {"stale", at(31)},
		{"done", at(4.95)}, {"lost", at(8)}, {"later", at(10)}}
	tk := gapsAfterKills(l, []kill{{"w1", at(5)}, {"w3", at(50)}}, orchs)
	got := map[time.Duration]bool{}
	for _, g := range tk.gaps {
		got[g] = true
	}
	want := []time.Duration{15 * time.Second, 500 * time.Millisecond, 4 * time.Second}
	if len(tk.gaps) != len(want) {
		t.Fatalf("gaps %v, want %v", tk.gaps, want)
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("gaps %v: no %s", tk.gaps, w)
		}
	}
	if tk.kills != 1 || tk.unpolled != 1 || tk.held != 2 || tk.worst != 15*time.Second || tk.p50 != 4*time.Second {
		t.Errorf("kills %d unpolled %d held %d worst %s p50 %s; want 1 1 2 15s 4s", tk.kills, tk.unpolled, tk.held, tk.worst, tk.p50)
	}
}

// What the longest wait waited on names the polls' longest silence and
// only the disruptions over it.
func TestWaitedOn(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	l := newPollLog()
	l.polls = map[string][]poll{"o": {{at(1), "w1"}, {at(2), "w1"}, {at(18), "w2"}}}
	rec := rig.Record{SentAt: t0, AcceptedAt: at(0.5), TerminalAt: at(18.2), OrchestrationID: "o"}
	ds := []disruption{
		{"faults: 5xx", at(-3), at(1.5)},            // before the silence
		{"kill -9 w1", at(2.5), at(3.5)},            // over it
		{"NATS node n-1 lost", at(10), time.Time{}}, // for good
		{"kill -9 w3", at(30), at(31)},              // after the command
	}
	got := waitedOn(rec, l, ds)
	for _, want := range []string{"accepted at +0.5s", "3 polls by w1+w2", "longest silence 16.0s from +2.0s",
		"kill -9 w1 +2.5s to +3.5s", "NATS node n-1 lost +10.0s for good"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q does not say %q", got, want)
		}
	}
	for _, not := range []string{"5xx", "w3"} {
		if strings.Contains(got, not) {
			t.Errorf("%q names %q", got, not)
		}
	}
}

func TestPlanSteps(t *testing.T) {
	for _, tc := range []struct {
		name            string
		nodes, restarts int
		rolling, lose   bool
		want            string
	}{
		{"short run: one leader", 3, 1, false, false, "leader:commands"},
		{"no restarts asked: still one leader", 3, 0, false, true, "leader:commands lose:commands"},
		{"rolling with one leader", 3, 2, true, false, "leader:commands rolling"},
		{"long run", 3, 8, true, true,
			"leader:commands leader:tracking leader:state bucket rolling leader:commands leader:tracking lose:commands"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, s := range planSteps(tc.nodes, tc.restarts, tc.rolling, tc.lose) {
				got = append(got, strings.TrimSuffix(s.kind+":"+s.stream, ":"))
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("plan %q, want %q", g, tc.want)
			}
		})
	}
}

func TestValidateCluster(t *testing.T) {
	base := Options{count: 1, rate: 1, replicas: 1, faultEvery: time.Second, timeout: time.Minute, natsEvery: time.Second}
	for _, tc := range []struct {
		nodes int
		every time.Duration
		want  string // "" → valid
	}{
		{0, time.Second, ""}, {3, time.Second, ""}, {5, time.Second, ""},
		{2, time.Second, "-nats-cluster must be"}, {6, time.Second, "-nats-cluster must be"},
		{3, 0, "-nats-cluster needs -nats-every"},
	} {
		o := base
		o.natsCluster, o.natsEvery = tc.nodes, tc.every
		err := o.Validate()
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%d nodes, every %s: %v, want %q", tc.nodes, tc.every, err, tc.want)
		}
	}
}
