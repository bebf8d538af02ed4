package platform_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/platform/platformtest"
)

func TestSimTimestampForms(t *testing.T) {
	clock := newSimClock()
	cfg := clock.config()
	var forms sync.Map // processId → form
	cfg.Plan = func(_, processID, _ string) *platformtest.Plan {
		form, _ := forms.Load(processID)
		return &platformtest.Plan{Steps: []time.Duration{time.Second, 2 * time.Second}, TimestampForm: form.(string)}
	}
	cfg.AutoCreate = true
	sim := startSim(t, cfg)
	c := simCorastone(t, simCorastoneConfig(sim))
	ctx := context.Background()
	units := map[string]time.Duration{
		platformtest.FormRFC3339:       time.Millisecond,
		platformtest.FormDate:          24 * time.Hour,
		platformtest.FormEpochMillis:   time.Millisecond,
		platformtest.FormEpochMillisSt: time.Millisecond,
	}
	byPID := map[string]string{}
	for form := range units {
		pid := uuid.NewString()
		forms.Store(pid, form)
		byPID[pid] = form
		if _, err := c.Execute(ctx, parse(t, "cancel-offering", `{"securityId":"USTS`+form+`"}`), pid); err != nil {
			t.Fatal(err)
		}
	}
	clock.advance(time.Minute)
	var ids []string
	for pid := range byPID {
		ids = append(ids, pid)
	}
	orchs, err := c.Orchestrations(ctx, ids)
	if err != nil || len(orchs) != 4 {
		t.Fatalf("%d orchestrations: %v", len(orchs), err)
	}
	for _, o := range orchs {
		form, unit := byPID[o.OrchestrationID], units[byPID[o.OrchestrationID]]
		view, _ := sim.Orchestration(o.OrchestrationID)
		if view.Form != form || !o.Terminal() || len(o.ProcessIDs) != 2 {
			t.Errorf("%s: view %+v, got %+v", form, view, o)
		}
		if !o.Timestamp.Equal(view.EndedAt.UTC().Truncate(unit)) || !o.CreatedDate.Equal(view.CreatedAt.UTC().Truncate(unit)) || o.StartDate.IsZero() {
			t.Errorf("%s: timestamp %v (want %v), created %v (want %v), start %v", form, o.Timestamp, view.EndedAt, o.CreatedDate, view.CreatedAt, o.StartDate)
		}
	}
	txs, err := c.Transactions(ctx, platform.TransactionFilter{OrchestrationIDs: ids})
	if err != nil || len(txs) != 8 {
		t.Fatalf("%d transactions: %v", len(txs), err)
	}
	for _, tx := range txs {
		if tx.Status != "success" || tx.Timestamp.IsZero() || tx.OrgID == "" {
			t.Errorf("transaction %+v", tx)
		}
	}
}

func TestSimOrchestrationProgress(t *testing.T) {
	clock := newSimClock()
	cfg := clock.config()
	cfg.Plan = func(_, _, _ string) *platformtest.Plan {
		return &platformtest.Plan{Queued: time.Second, Steps: []time.Duration{time.Second, time.Second}, Outcome: platformtest.OutcomeFailed, FailStep: 1}
	}
	sim := startSim(t, cfg)
	c := simCorastone(t, simCorastoneConfig(sim))
	ctx := context.Background()
	pid := uuid.NewString()
	if _, err := c.Execute(ctx, parse(t, "cancel-offering", `{"securityId":"USS3JKS02I00"}`), pid); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"queued", "in_progress", "in_progress", "failed"} {
		orchs, err := c.Orchestrations(ctx, []string{pid})
		if err != nil || len(orchs) != 1 || orchs[0].Status != want || orchs[0].Terminal() != (want == "failed") || orchs[0].Timestamp.IsZero() != (want != "failed") {
			t.Errorf("want %s: %+v %v", want, orchs, err)
		}
		clock.advance(time.Second)
	}
	txs, err := c.Transactions(ctx, platform.TransactionFilter{OrchestrationIDs: []string{pid}})
	if err != nil || len(txs) != 2 || txs[0].ProcessID != pid || txs[0].Status != "success" || txs[1].Status != "failed" {
		t.Errorf("steps %+v %v", txs, err)
	}
}

func simJM(t *testing.T, sim *platformtest.Simulator, bearer bool) *platform.JM {
	t.Helper()
	cfg := platform.JMConfig{BaseURL: sim.URL(), Username: "jm-user", Password: "jm-pass", UserAgent: simUA}
	if bearer {
		cfg = platform.JMConfig{BaseURL: sim.URL(), TokenURL: sim.URL() + "/oauth2/token", ClientID: "txworker", ClientSecret: "sandbox-secret", UserAgent: simUA}
	}
	j, err := platform.NewJM(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestSimJM(t *testing.T) {
	for _, mode := range []string{"basic", "bearer"} {
		t.Run(mode, func(t *testing.T) {
			sim := startSim(t, newSimClock().config())
			j := simJM(t, sim, mode == "bearer")
			ctx := context.Background()
			tests := []struct {
				key, status, code string
			}{
				{"15d071280b92c867f86975b9cd2e8765", "Abandoned", ""},
				{"15d071280b92c867f86975b9cd2e8765", "Abandoned", ""}, // txnAlreadyFinished, then Query: Abandoned
				{"45d071280b92c867f86975b9cd2e8765", "Abandoned", ""},
				{"25d071280b92c867f86975b9cd2e8765", "Completed", "txnAlreadyFinished"},
				{"35d071280b92c867f86975b9cd2e8765", "Abandoned", ""},
				{"f5d071280b92c867f86975b9cd2e8765", "", "txnNotFound"},
			}
			for _, tt := range tests {
				req := parse(t, "cancel-txn", `{"submitKey":"`+tt.key+`","reason":"Job application will be completed in branch","milestones":"Application Status: Staff Cancelled"}`)
				status, err := j.Cancel(ctx, req)
				var e *platform.Error
				if status != tt.status || (tt.code == "") != (err == nil) || err != nil && (!errors.As(err, &e) || e.Code != tt.code || e.Verdict != platform.Permanent) {
					t.Errorf("Cancel(%s) = %q, %v; want %q %q", tt.key, status, err, tt.status, tt.code)
				}
			}
			if sim.Cancelled("15d071280b92c867f86975b9cd2e8765") != 1 || sim.CancelledTotal() != 2 {
				t.Errorf("cancelled %d / %d", sim.Cancelled("15d071280b92c867f86975b9cd2e8765"), sim.CancelledTotal())
			}
			if txn, ok := sim.Txn("15d071280b92c867f86975b9cd2e8765"); !ok || txn.Reason != "Job application will be completed in branch" {
				t.Errorf("txn %+v", txn)
			}
			txn, err := j.Query(ctx, "55d071280b92c867f86975b9cd2e8765")
			if err != nil || txn.FormStatus != platformtest.FormAssigned {
				t.Errorf("query %+v %v", txn, err)
			}
			for _, r := range sim.Requests() {
				if r.UserAgent != simUA || r.Status == 401 || r.Status == 403 {
					t.Errorf("request %+v", r)
				}
			}
		})
	}
}

func TestSimJMReauth(t *testing.T) {
	sim := startSim(t, newSimClock().config())
	j := simJM(t, sim, true)
	ctx := context.Background()
	if _, err := j.Query(ctx, "15d071280b92c867f86975b9cd2e8765"); err != nil {
		t.Fatal(err)
	}
	sim.Reset() // tokens and sessions forgotten: 401, new token, new session, one retry
	if _, err := j.Query(ctx, "15d071280b92c867f86975b9cd2e8765"); err != nil {
		t.Fatalf("after reset: %v", err)
	}
	if n := sim.Count("POST", "/oauth2/token"); n != 1 {
		t.Errorf("%d token requests after reset, want 1", n)
	}

	// Wrong Basic credentials: one retry, then Permanent.
	bad, err := platform.NewJM(platform.JMConfig{BaseURL: sim.URL(), Username: "jm-user", Password: "wrong", UserAgent: simUA}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := sim.Count("POST", "/workspaces/")
	_, err = bad.Query(ctx, "15d071280b92c867f86975b9cd2e8765")
	var e *platform.Error
	if !errors.As(err, &e) || e.HTTPStatus != 401 || e.Verdict != platform.Permanent || sim.Count("POST", "/workspaces/")-before != 2 {
		t.Errorf("wrong password: %v", err)
	}

	sim.SetFaults(platformtest.Faults{ErrorRate: 1, Only: "jm"})
	_, err = j.Cancel(ctx, parse(t, "cancel-txn", `{"submitKey":"45d071280b92c867f86975b9cd2e8765"}`))
	if !errors.As(err, &e) || e.Verdict != platform.Transient || e.HTTPStatus < 500 {
		t.Errorf("5xx: %v", err)
	}
	if sim.Cancelled("45d071280b92c867f86975b9cd2e8765") != 0 {
		t.Error("an injected error had an effect")
	}
}

// BenchmarkOrchestrationsRoundTrip polls 50 orchestrations (one request) against the simulator.
func BenchmarkOrchestrationsRoundTrip(b *testing.B) {
	cfg := platformtest.Config{AutoCreate: true, Seed: 1, LogSize: -1}
	sim := startSim(b, cfg)
	c := simCorastone(b, simCorastoneConfig(sim))
	ctx := context.Background()
	var ids []string
	for range 50 {
		pid := uuid.NewString()
		if _, err := c.Execute(ctx, parse(b, "cancel-offering", `{"securityId":"USBENCH`+pid[:5]+`"}`), pid); err != nil {
			b.Fatal(err)
		}
		ids = append(ids, pid)
	}
	b.ReportAllocs()
	for b.Loop() {
		orchs, err := c.Orchestrations(ctx, ids)
		if err != nil || len(orchs) != 50 {
			b.Fatal(len(orchs), err)
		}
	}
}
