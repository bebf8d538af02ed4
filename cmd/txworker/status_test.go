package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/txworker/txworker/internal/sandbox"
	"github.com/txworker/txworker/platform/platformtest"
	"github.com/txworker/txworker/queue"
)

// statusPlatform runs `status ID -platform` and decodes what it prints.
func statusPlatform(t *testing.T, env func(string) string, id string) (platformStatusView, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, []string{"status", id, "-platform"}, env, &out); err != nil {
		t.Fatalf("status -platform %s: %v\n%s", id, err, out.String())
	}
	var v platformStatusView
	if err := json.Unmarshal(out.Bytes(), &v); err != nil {
		t.Fatalf("status -platform printed %s: %v", out.String(), err)
	}
	if lines := strings.Split(out.String(), "\n"); !strings.HasPrefix(strings.TrimSpace(lines[1]), `"waiting": "`) {
		t.Errorf("the waiting line is not the first member:\n%s", out.String())
	}
	for _, secret := range []string{"example.com", "jdoe@", sandbox.ClientSecret, sandbox.JMPassword} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("status -platform shows %q:\n%s", secret, out.String())
		}
	}
	return v, out.String()
}

func eventIDs(v platformStatusView) []string {
	var ids []string
	for _, ev := range v.Events {
		ids = append(ids, ev.ID)
	}
	return ids
}

// status -platform shows what the platform and the events stream hold of a
// command and says in one line what it waits for: a tracked command its
// orchestration (steps shown), a terminal one nothing (events listed).
func TestStatusPlatform(t *testing.T) {
	e := newTestEnv(t, platformtest.Config{Plan: func(action, processID, resource string) *platformtest.Plan {
		if resource == "USS3JKS01I00" { // stays in its second step
			return &platformtest.Plan{Steps: []time.Duration{time.Millisecond, time.Hour, time.Hour}}
		}
		return &platformtest.Plan{Steps: []time.Duration{time.Millisecond, time.Millisecond}}
	}})
	e.startWorker(nil)
	e.watch()
	env := e.env(nil)
	signer := `"signer":{"email":"jdoe@example.com","name":"John Doe"}`

	e.publish("revert-to-active", `{"commandId":"st-tracked","params":{"securityId":"USS3JKS01I00",`+signer+`}}`, "")
	e.waitFor(time.Minute, "st-tracked accepted", func() bool { return len(e.events["st-tracked:accepted"]) > 0 })
	orch := e.eventsOf("st-tracked:accepted")[0].Data.OrchestrationID
	e.await(time.Minute, func() bool {
		o, ok := e.sim.Orchestration(orch)
		return ok && o.Steps[0].Status == "success"
	})
	v, out := statusPlatform(t, env, "st-tracked")
	if want := "waiting for: the orchestration " + orch + " to end (status in_progress, 1 of 3 steps done)"; v.Waiting != want {
		t.Errorf("waiting %q, want %q", v.Waiting, want)
	}
	if p := v.Platform; p == nil || !p.Found || p.Orchestration == nil || p.Orchestration.OrchestrationID != orch || len(p.Steps) != 3 ||
		p.Steps[0].Status != "success" || p.Steps[1].Status != "in_progress" || p.Steps[2].ProcessID == "" {
		t.Errorf("platform view:\n%s", out)
	}
	if ids := eventIDs(v); len(ids) != 1 || ids[0] != "st-tracked:accepted" || v.State != "accepted" {
		t.Errorf("events %q, state %s", ids, v.State)
	}

	terminal := []struct {
		id, action, body, outcome, platformStatus string
	}{
		{"st-done", "cancel-offering", `{"commandId":"st-done","params":{"securityId":"USS3JKS02I00"}}`, "succeeded", "success"},
		{"st-failed", "revert-to-active", `{"commandId":"st-failed","params":{"securityId":"USS3JKS06I00",` + signer + `}}`, "failed", ""},
		{"st-jm", "cancel-txn", `{"commandId":"st-jm","params":{"submitKey":"15d071280b92c867f86975b9cd2e8765","reason":"test"}}`, "succeeded", "abandoned"},
	}
	for _, tc := range terminal {
		t.Run(tc.id, func(t *testing.T) {
			e.publish(tc.action, tc.body, "")
			e.terminal(tc.id, time.Minute)
			v, out := statusPlatform(t, env, tc.id)
			if want := "nothing: terminal (" + tc.outcome + "), event published"; v.Waiting != want {
				t.Errorf("waiting %q, want %q", v.Waiting, want)
			}
			ids := eventIDs(v)
			if len(ids) == 0 || ids[len(ids)-1] != tc.id+":"+tc.outcome {
				t.Errorf("events %q", ids)
			}
			p := v.Platform
			switch {
			case p == nil:
				t.Errorf("platform not asked:\n%s", out)
			case tc.platformStatus == "success" && (p.Orchestration == nil || p.Orchestration.Status != "success" || len(p.Steps) != 2):
				t.Errorf("orchestration not shown as ended:\n%s", out)
			case tc.action == "cancel-txn" && (!p.Found || !strings.EqualFold(p.FormStatus, tc.platformStatus)):
				t.Errorf("transaction not shown:\n%s", out)
			}
		})
	}
}

// A terminal command whose event is not on the stream, and one whose call
// may still be in flight, say what they wait for; no platform call is made
// for a claim that names nothing to look up.
func TestStatusPlatformMissingEventAndLease(t *testing.T) {
	e := newTestEnv(t, platformtest.Config{})
	b := provisionedBus(t, e.natsURL)
	now := time.Now()
	storeClaims(t, b,
		&queue.Claim{CommandID: "st-unpublished", Action: "cancel-offering", State: queue.StateTerminal, Outcome: "failed", ReceivedAt: now, SettledAt: now},
		&queue.Claim{CommandID: "st-gone", Action: "cancel-offering", State: queue.StateTerminal, Outcome: "succeeded", ReceivedAt: now, SettledAt: now, Published: true},
		&queue.Claim{CommandID: "st-leased", Action: "cancel-offering", State: queue.StateCalling, ProcessID: uuid.NewString(), Owner: "replica-7",
			LeaseUntil: now.Add(time.Minute), ReceivedAt: now, Attempts: 1},
		&queue.Claim{CommandID: "st-rejected", Action: queue.ActionUnknown, State: queue.StateTerminal, Outcome: "rejected", ReceivedAt: now, Published: true},
	)
	env := e.env(nil)
	tests := []struct{ id, want string }{
		{"st-unpublished", "waiting for: the failed event to be published"},
		{"st-gone", "nothing: terminal (succeeded), event published but no longer on the events stream"},
		{"st-leased", "waiting for: the claim's lease to expire (owner replica-7"},
		{"st-rejected", "nothing: terminal (rejected), event published but no longer"},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			v, out := statusPlatform(t, env, tc.id)
			if !strings.HasPrefix(v.Waiting, tc.want) || len(v.Events) != 0 {
				t.Errorf("waiting %q, want %q…\n%s", v.Waiting, tc.want, out)
			}
		})
	}
	v, _ := statusPlatform(t, env, "st-leased")
	if !strings.Contains(v.Waiting, "the platform has no trace of its processId") || v.Platform == nil || v.Platform.Found {
		t.Errorf("leased call not looked up by processId: %q %+v", v.Waiting, v.Platform)
	}
	if n := e.sim.Count("GET", "/external/v1/transactions"); n == 0 {
		t.Error("no look-up made for the leased call")
	}
}

// -platform without the platform settings is a usage error naming them,
// before anything is connected.
func TestStatusPlatformWithoutSettings(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"status", "-platform", "some-id"}, envOf(map[string]string{"TXWORKER_NATS_URL": "nats://127.0.0.1:1"}), &out)
	if exitCode(err) != 2 {
		t.Fatalf("exit %d (%v), want 2", exitCode(err), err)
	}
	for _, w := range []string{"status -platform", "TXWORKER_PLATFORM_URL is required", "TXWORKER_CLIENT_ID is required", "TXWORKER_CLIENT_SECRET"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q does not name %s", err, w)
		}
	}
}
