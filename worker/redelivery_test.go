package worker

import "testing"

// A command whose acknowledgement was lost (a consumer leader election,
// a connection that dropped after the worker acked) is delivered again,
// possibly more than once. Whatever the first delivery did, the
// redeliveries act on nothing: no second platform or Journey Manager
// call, no second event or tracking message, nothing counted twice; they
// are acknowledged.
func TestRedeliveryAfterALostAck(t *testing.T) {
	for _, tt := range []struct {
		name, action, body string
		outcome            string // of the first delivery's event
	}{
		{"accepted and handed to tracking", "cancel-offering", offering("cmd-1", ""), "accepted"},
		{"rejected", "cancel-offering", `{"commandId":"cmd-1","params":{}}`, "rejected"},
		{"settled by Journey Manager", "cancel-txn", `{"commandId":"cmd-1","params":{"submitKey":"k1"}}`, "succeeded"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, Config{})
			m := r.msg(tt.action, tt.body)
			if what, _ := r.run(m, 3); what != "ack" && what != "term" {
				t.Fatalf("first delivery: %s", what)
			}
			evs := r.bus.eventsOf("cmd-1")
			if len(evs) != 1 || evs[0].Data.Outcome != tt.outcome {
				t.Fatalf("events after the first delivery: %+v, want one %s", evs, tt.outcome)
			}
			first, _ := m.disposition()
			calls, jm, tracks := r.cs.executed(), r.jm.calls, len(r.bus.tracks)
			published := r.counter("txworker_events_published_total", `outcome="`+tt.outcome+`"`)
			for range 2 { // the ack was lost: delivered again, and again
				if what, _ := r.deliver(m); what != first {
					t.Errorf("redelivery: %s, want %s as the first", what, first)
				}
			}
			if r.cs.executed() != calls || r.jm.calls != jm {
				t.Errorf("platform calls %d → %d, Journey Manager calls %d → %d after redeliveries",
					calls, r.cs.executed(), jm, r.jm.calls)
			}
			if n := len(r.bus.eventsOf("cmd-1")); n != 1 {
				t.Errorf("%d events after redeliveries, want 1", n)
			}
			if n := len(r.bus.tracks); n != tracks {
				t.Errorf("%d tracking messages after redeliveries, want %d", n, tracks)
			}
			if got := r.counter("txworker_events_published_total", `outcome="`+tt.outcome+`"`); got != published {
				t.Errorf("events_published_total{outcome=%s} %v → %v after redeliveries", tt.outcome, published, got)
			}
		})
	}
}
