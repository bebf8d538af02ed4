package queue_test

import (
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/txworker/txworker/internal/natstest"
	"github.com/txworker/txworker/queue"
)

// acceptedClaim stores and returns a claim of a command accepted by the platform.
func acceptedClaim(t *testing.T, b *queue.Bus, id string) *queue.Claim {
	t.Helper()
	cl := failedClaim()
	cl.CommandID, cl.State, cl.Outcome, cl.SettledAt, cl.Error = id, queue.StateAccepted, "", settled.AddDate(-1, 0, 0), nil
	cl.PlatformStatus, cl.FailedProcessID, cl.FailedStatus = "", "", ""
	got, created, err := b.Claims().Create(testCtx(t), cl)
	if err != nil || !created {
		t.Fatalf("Create: created %v err %v", created, err)
	}
	return got
}

// events returns the events stored for a command.
func events(t *testing.T, b *queue.Bus) []queue.Event {
	t.Helper()
	var out []queue.Event
	for _, m := range streamMsgs(t, b, "TXWORKER_EVENTS", "") {
		var ev queue.Event
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Fatal(err)
		}
		if m.Header.Get("Nats-Msg-Id") != ev.ID {
			t.Errorf("event %s has Nats-Msg-Id %q", ev.ID, m.Header.Get("Nats-Msg-Id"))
		}
		out = append(out, ev)
	}
	return out
}

func TestSettleFirstWriterWins(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	b := provisioned(t, url, nil)
	ctx := testCtx(t)
	cl := acceptedClaim(t, b, "c-1")

	got, published, err := b.Settle(ctx, "txworker", cl, queue.Result{Outcome: queue.OutcomeSucceeded, PlatformStatus: "success", SettledAt: settled, Polls: 7})
	if err != nil {
		t.Fatalf("Settle: %v", err)
	}
	if got.State != queue.StateTerminal || got.Outcome != "succeeded" || !got.Published || got.Polls != 7 || !got.SettledAt.Equal(settled) {
		t.Errorf("settled claim %+v", got)
	}
	if cl.State != queue.StateAccepted {
		t.Error("Settle modified its argument")
	}
	// A late writer (the poller's deadline, say) with the stale claim loses.
	late, latePublished, err := b.Settle(ctx, "txworker", cl, queue.Result{Outcome: queue.OutcomeTimedOut})
	if err != nil {
		t.Fatalf("late Settle: %v", err)
	}
	if late.Outcome != "succeeded" || late.Revision != got.Revision {
		t.Errorf("late Settle changed the claim: %+v", late)
	}
	if !published || latePublished {
		t.Errorf("published: first %v, late %v; want true, false", published, latePublished)
	}
	evs := events(t, b)
	if len(evs) != 1 || evs[0].ID != "c-1:succeeded" || evs[0].Data.Polls != 7 || !evs[0].Time.Equal(settled) {
		t.Fatalf("events %+v", evs)
	}
}

// TestSettleConcurrent: replicas settling one command with different
// outcomes at once produce one terminal event, the one stored.
func TestSettleConcurrent(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	buses := []*queue.Bus{provisioned(t, url, nil), provisioned(t, url, nil), provisioned(t, url, nil)}
	ctx := testCtx(t)
	cl := acceptedClaim(t, buses[0], "c-race")
	outcomes := []string{queue.OutcomeSucceeded, queue.OutcomeFailed, queue.OutcomeTimedOut}
	results := make([]*queue.Claim, 12)
	var wg sync.WaitGroup
	var publishers atomic.Int32
	for i := range results {
		wg.Go(func() {
			got, published, err := buses[i%3].Settle(ctx, "txworker", cl, queue.Result{Outcome: outcomes[i%3]})
			if err != nil {
				t.Errorf("Settle #%d: %v", i, err)
				return
			}
			if published {
				publishers.Add(1)
			}
			results[i] = got
		})
	}
	wg.Wait()
	if n := publishers.Load(); n != 1 {
		t.Errorf("%d of the settles report that they stored the event, want 1", n)
	}
	stored, err := buses[0].Claims().Get(ctx, "c-race")
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range results {
		if r != nil && r.Outcome != stored.Outcome {
			t.Errorf("Settle #%d returned outcome %s, stored %s", i, r.Outcome, stored.Outcome)
		}
	}
	evs := events(t, buses[0])
	if len(evs) != 1 || evs[0].Data.Outcome != stored.Outcome || !stored.Published {
		t.Fatalf("events %+v, stored %+v", evs, stored)
	}
}

// TestSettleCrashWindows replays what a replica finds after dying at each
// point of Settle.
func TestSettleCrashWindows(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	b := provisioned(t, url, nil)
	ctx := testCtx(t)
	claims := b.Claims()

	// terminal stores the outcome the dead replica had written.
	terminal := func(id string, published bool) *queue.Claim {
		cl := acceptedClaim(t, b, id)
		cl.State, cl.Outcome, cl.Error, cl.SettledAt, cl.Published = queue.StateTerminal, queue.OutcomeFailed,
			&queue.ErrorInfo{Code: "IS0012", Message: "m"}, settled, published
		if err := claims.Update(ctx, cl); err != nil {
			t.Fatal(err)
		}
		return cl
	}
	// settleAgain is the redelivered command settling with another outcome.
	settleAgain := func(id string) *queue.Claim {
		t.Helper()
		stale := &queue.Claim{CommandID: id}
		got, _, err := b.Settle(ctx, "txworker", stale, queue.Result{Outcome: queue.OutcomeTimedOut})
		if err != nil {
			t.Fatalf("Settle: %v", err)
		}
		if got.Outcome != queue.OutcomeFailed || !got.Published {
			t.Errorf("Settle returned %+v, want the stored failed outcome, published", got)
		}
		return got
	}
	count := func(id string) int {
		n := 0
		for _, ev := range events(t, b) {
			if ev.Data.CommandID == id {
				n++
				if ev.ID != id+":failed" || ev.Data.Error == nil || ev.Data.Error.Code != "IS0012" {
					t.Errorf("event %+v", ev)
				}
			}
		}
		return n
	}

	t.Run("after CAS before publish", func(t *testing.T) {
		terminal("c-cas", false)
		settleAgain("c-cas")
		if n := count("c-cas"); n != 1 {
			t.Errorf("%d events, want 1", n)
		}
	})
	t.Run("after publish before marking", func(t *testing.T) {
		cl := terminal("c-pub", false)
		if _, err := b.PublishEvent(ctx, queue.EventFromClaim("txworker", cl), cl.Trace); err != nil {
			t.Fatal(err)
		}
		settleAgain("c-pub")
		if n := count("c-pub"); n != 1 {
			t.Errorf("%d events, want 1 (the re-publish must be deduplicated)", n)
		}
	})
	t.Run("after marking", func(t *testing.T) {
		// Published already: nothing is published (the stream has no event
		// here only because this test never published one).
		terminal("c-done", true)
		settleAgain("c-done")
		if n := count("c-done"); n != 0 {
			t.Errorf("%d events, want 0", n)
		}
	})
	t.Run("publish fails", func(t *testing.T) {
		cl := acceptedClaim(t, b, "c-nostream")
		if err := b.JetStream().DeleteStream(ctx, "TXWORKER_EVENTS"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := b.Settle(ctx, "txworker", cl, queue.Result{Outcome: queue.OutcomeFailed, SettledAt: settled,
			Error: &queue.ErrorInfo{Code: "IS0012", Message: "m"}}); err == nil {
			t.Fatal("Settle without an events stream: nil error")
		}
		stored, err := claims.Get(ctx, "c-nostream")
		if err != nil || stored.Outcome != queue.OutcomeFailed || stored.Published {
			t.Fatalf("after a failed publish: %+v, %v", stored, err)
		}
		if err := b.Provision(ctx); err != nil {
			t.Fatal(err)
		}
		settleAgain("c-nostream")
		if n := count("c-nostream"); n != 1 {
			t.Errorf("%d events, want 1", n)
		}
	})
}

func TestSettleWithoutStoredClaim(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	b := provisioned(t, url, nil)
	ctx := testCtx(t)
	cl := &queue.Claim{CommandID: "c-new", Action: "cancel-txn", Resource: "15d0", State: queue.StateReceived}
	got, _, err := b.Settle(ctx, "txworker", cl, queue.Result{Outcome: queue.OutcomeRejected,
		Error: &queue.ErrorInfo{Code: "INVALID_PARAMS", Message: "params invalid"}, Problems: []string{"a", "b"}, RawCommand: "{}"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Revision == 0 || !got.Published || got.Outcome != "rejected" {
		t.Errorf("claim %+v", got)
	}
	evs := events(t, b)
	if len(evs) != 1 || evs[0].Subject != "15d0" || len(evs[0].Data.Problems) != 2 || evs[0].Data.RawCommand != "{}" {
		t.Fatalf("events %+v", evs)
	}
	if _, _, err := b.Settle(ctx, "txworker", cl, queue.Result{Outcome: queue.OutcomeAccepted}); err == nil {
		t.Error("Settle with a non-terminal outcome: nil error")
	}
}
