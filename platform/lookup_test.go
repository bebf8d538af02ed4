package platform_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/platform/platformtest"
)

// Progress finds an orchestration by its id or by the processId of a call
// whose answer was lost, with its steps in execution order as they stand.
func TestProgress(t *testing.T) {
	clock := newSimClock()
	cfg := clock.config()
	cfg.Plan = func(action, processID, resource string) *platformtest.Plan {
		return &platformtest.Plan{Steps: []time.Duration{time.Second, time.Second, time.Second}}
	}
	sim := startSim(t, cfg)
	c := simCorastone(t, simCorastoneConfig(sim))
	ctx := context.Background()
	pid := uuid.NewString()
	acc, err := c.Execute(ctx, parse(t, "cancel-offering", `{"securityId":"USS3JKS02I00"}`), pid)
	if err != nil {
		t.Fatal(err)
	}
	clock.advance(1500 * time.Millisecond) // the second step is running
	tests := []struct {
		name, orch, pid string
		found           bool
		done, steps     int
		status          string
	}{
		{"by orchestration", acc.OrchestrationID, "", true, 1, 3, "in_progress"},
		{"by processId", "", pid, true, 1, 3, "in_progress"},
		{"unknown orchestration", uuid.NewString(), "", false, 0, 0, ""},
		{"unknown processId", "", uuid.NewString(), false, 0, 0, ""},
		{"nothing to look up", "", "", false, 0, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := c.Progress(ctx, tc.orch, tc.pid)
			done, steps := p.Done()
			if err != nil || p.Found != tc.found || done != tc.done || steps != tc.steps || p.Orchestration.Status != tc.status {
				t.Fatalf("%+v (%v): found %v, %d of %d done", p, err, p.Found, done, steps)
			}
			view, _ := sim.Orchestration(acc.OrchestrationID)
			for i, s := range p.Steps {
				if s.ProcessID != view.Steps[i].ProcessID || s.Status != view.Steps[i].Status {
					t.Errorf("step %d %+v, simulator has %+v", i, s, view.Steps[i])
				}
			}
		})
	}
	clock.advance(time.Hour)
	p, err := c.Progress(ctx, acc.OrchestrationID, pid)
	if done, steps := p.Done(); err != nil || !p.Orchestration.Terminal() || done != 3 || steps != 3 {
		t.Fatalf("after the end: %+v %v", p, err)
	}
	sim.SetFaults(platformtest.Faults{ErrorRate: 1, Only: "transactions"})
	if _, err := c.Progress(ctx, acc.OrchestrationID, ""); err == nil {
		t.Fatal("no error from a failing Transactions API")
	}
}

func TestRedactEmails(t *testing.T) {
	for in, want := range map[string]string{
		`signer jdoe@example.com refused`:    `signer [redacted] refused`,
		`{"email":"a.b+c@mail.example.org"}`: `{"email":"[redacted]"}`,
		`no address here @ all, x@y`:         `no address here @ all, x@y`,
		`<John.Doe@EXAMPLE.COM>, z@q.io`:     `<[redacted]>, [redacted]`,
	} {
		if got := platform.RedactEmails(in); got != want || strings.Contains(got, "example") {
			t.Errorf("RedactEmails(%q) = %q, want %q", in, got, want)
		}
	}
}

// Inspect asks the platform of the action, says when it cannot, and asks
// nothing when there is nothing to look up.
func TestInspect(t *testing.T) {
	sim := startSim(t, platformtest.Config{Seed: 1})
	cs := simCorastoneConfig(sim)
	jm := &platform.JMConfig{BaseURL: sim.URL(), Username: "jm-user", Password: "jm-pass", UserAgent: simUA}
	ctx := context.Background()
	c := simCorastone(t, cs)
	pid := uuid.NewString()
	if _, err := c.Execute(ctx, parse(t, "cancel-offering", `{"securityId":"USS3JKS02I00"}`), pid); err != nil {
		t.Fatal(err)
	}
	wrong := cs
	wrong.ClientSecret = "not-the-secret"
	tests := []struct {
		name                    string
		cs                      platform.CorastoneConfig
		jm                      *platform.JMConfig
		action, orch, pid, key  string
		nilReport, asked, found bool
		errHas, formStatus      string
	}{
		{"unknown action", cs, jm, "nuke", pid, "", "", true, false, false, "", ""},
		{"no ids", cs, jm, "cancel-offering", "", "", "", true, false, false, "", ""},
		{"orchestration", cs, jm, "cancel-offering", pid, "", "", false, true, true, "", ""},
		{"by processId", cs, jm, "cancel-offering", "", pid, "", false, true, true, "", ""},
		{"refused credentials", wrong, jm, "cancel-offering", pid, "", "", false, true, false, "token", ""},
		{"jm", cs, jm, "cancel-txn", "", "", "15d071280b92c867f86975b9cd2e8765", false, true, true, "", "Saved"},
		{"jm unknown key", cs, jm, "cancel-txn", "", "", "ffd071280b92c867f86975b9cd2e8765", false, true, false, "", ""},
		{"jm not configured", cs, nil, "cancel-txn", "", "", "15d071280b92c867f86975b9cd2e8765", false, false, false, "not asked", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := platform.Inspect(ctx, tc.cs, tc.jm, tc.action, tc.orch, tc.pid, tc.key)
			if (r == nil) != tc.nilReport {
				t.Fatalf("report %+v", r)
			}
			if r == nil {
				return
			}
			if r.Asked != tc.asked || r.Found != tc.found || !strings.Contains(r.Error, tc.errHas) || (tc.errHas == "") != (r.Error == "") ||
				!strings.EqualFold(r.FormStatus, tc.formStatus) || strings.Contains(r.Error, "not-the-secret") {
				t.Errorf("report %+v", r)
			}
			if tc.found && tc.action != "cancel-txn" && (r.Orchestration == nil || len(r.Steps) == 0) {
				t.Errorf("no orchestration or steps: %+v", r)
			}
		})
	}
}
