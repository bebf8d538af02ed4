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

// TestRetryAfterHoldsEveryCaller: a 429 with Retry-After on the orchestrations endpoint holds the
// whole Transactions API for every caller of the client: while polls (Orchestrations) and
// look-ups of a processId (FindProcess: transactions, then orchestrations) are due, no request
// reaches either endpoint inside the window; they go out once it has passed and succeed. Requests
// to another API (the actions) are not held. A look-up whose deadline falls inside the window
// ends at once, not sent, with a Transient ErrHeld error naming the 429.
func TestRetryAfterHoldsEveryCaller(t *testing.T) {
	const window = 3 * time.Second
	sim := startSim(t, platformtest.Config{Seed: 1})
	c := simCorastone(t, simCorastoneConfig(sim))
	ctx := context.Background()
	pid := uuid.NewString()
	if _, err := c.Execute(ctx, parse(t, "cancel-offering", `{"securityId":"USS3JKS02I00"}`), pid); err != nil {
		t.Fatal(err)
	}

	sim.SetFaults(platformtest.Faults{RateLimitRate: 1, RetryAfter: window, Only: "orchestrations"})
	_, err := c.Orchestrations(ctx, []string{pid})
	var e *platform.Error
	if !errors.As(err, &e) || e.HTTPStatus != 429 || e.RetryAfter != window {
		t.Fatalf("the 429: got %v", err)
	}
	sim.SetFaults(platformtest.Faults{})
	var t429 time.Time
	for _, r := range sim.Requests() {
		if r.Endpoint == "orchestrations" && r.Status == 429 {
			t429 = r.Time
		}
	}
	if t429.IsZero() {
		t.Fatal("the simulator logged no 429")
	}
	windowEnd := t429.Add(window)
	if d, cause := c.Held(platform.APITransactions); d <= 0 || cause == nil || cause.HTTPStatus != 429 {
		t.Errorf("Held(transactions) = %s, %v; want the 429's hold", d, cause)
	}
	if d, _ := c.Held(platform.APIActions); d != 0 {
		t.Errorf("Held(actions) = %s, want 0", d)
	}

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		problems []string
	)
	report := func(s string) {
		mu.Lock()
		problems = append(problems, s)
		mu.Unlock()
	}
	long := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 30*time.Second) }
	for range 4 {
		wg.Go(func() { // the poller's batches
			lctx, cancel := long()
			defer cancel()
			if orchs, err := c.Orchestrations(lctx, []string{pid}); err != nil || len(orchs) != 1 {
				report("poll after the window: " + errText(err))
			}
		})
		wg.Go(func() { // the worker's look-ups (crash recovery, after a timed-out action)
			lctx, cancel := long()
			defer cancel()
			if orch, found, err := c.FindProcess(lctx, pid); err != nil || !found || orch != pid {
				report("look-up after the window: " + errText(err))
			}
		})
		wg.Go(func() { // the failing-step look-ups
			lctx, cancel := long()
			defer cancel()
			if _, err := c.Transactions(lctx, platform.TransactionFilter{OrchestrationIDs: []string{pid}}); err != nil {
				report("transactions after the window: " + errText(err))
			}
		})
	}
	wg.Go(func() { // another API: not held
		for range 2 {
			if _, err := c.Execute(ctx, parse(t, "cancel-offering", `{"securityId":"USS3JKS02I00"}`), uuid.NewString()); err != nil {
				report("action during the window: " + errText(err))
			}
		}
	})
	wg.Go(func() { // a deadline inside the window ends the look-up at once, nothing sent
		sctx, cancel := context.WithTimeout(ctx, window/10)
		defer cancel()
		_, _, err := c.FindProcess(sctx, pid)
		var e *platform.Error
		switch {
		case !errors.As(err, &e) || !errors.Is(err, platform.ErrHeld):
			report("short deadline: want ErrHeld, got " + errText(err))
		case e.Verdict != platform.Transient || e.HTTPStatus != 429 || e.RetryAfter <= 0 || e.RetryAfter > window+window/4:
			report("short deadline: " + e.Error())
		case !time.Now().Before(windowEnd):
			report("short deadline: it waited for the window's end")
		}
	})
	wg.Wait()
	for _, p := range problems {
		t.Error(p)
	}

	inWindow, after := 0, 0
	actions, actionsInWindow := 0, 0
	for _, r := range sim.Requests() {
		if r.Time.Before(t429) || r.Status == 429 {
			continue
		}
		switch r.Endpoint {
		case "orchestrations", "transactions":
			if r.Time.Before(windowEnd) {
				inWindow++
			} else {
				after++
			}
		case "cancel-offering":
			actions++
			if r.Time.Before(windowEnd) {
				actionsInWindow++
			}
		}
	}
	if inWindow != 0 {
		t.Errorf("%d Transactions API requests inside the Retry-After window, want none", inWindow)
	}
	if want := 4 + 4 + 4; after < want { // a look-up that finds the transaction asks once
		t.Errorf("%d Transactions API requests after the window, want at least %d", after, want)
	}
	if actions != 2 {
		t.Errorf("%d action requests, want 2", actions)
	}
	if actionsInWindow == 0 {
		t.Error("no action request inside the window: the actions API was held too")
	}
}

func errText(err error) string {
	if err == nil {
		return "no error but a wrong answer"
	}
	return err.Error()
}
