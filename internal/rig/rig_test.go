package rig

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/txworker/txworker/platform/platformtest"
)

// The rig runs real worker processes: every action's generated command
// ends succeeded exactly once, also across a SIGKILL and restart of the
// replica and a restart of NATS on the same port and store.
func TestRig(t *testing.T) {
	bin := TestBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r, err := Start(ctx, Config{
		Binary: bin,
		Sim: platformtest.Config{AutoCreate: true, LogSize: -1,
			StepDuration: [2]time.Duration{20 * time.Millisecond, 50 * time.Millisecond}},
		Env: map[string]string{"TXWORKER_POLL_INTERVAL": "100ms", "TXWORKER_POLL_MAX_INTERVAL": "300ms"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	w, err := r.StartReplica(ctx, "w1", nil)
	if err != nil {
		t.Fatal(err)
	}
	col, err := r.Collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(col.Stop)
	gen := NewCommandGen("T" + time.Now().Format("150405"))

	var ids []string
	publishAll := func() {
		t.Helper()
		for _, a := range AllActions() {
			c := gen.Next(a)
			col.Expect(c.ID, c.Action, time.Now())
			if err := r.Publish(ctx, c); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, c.ID)
		}
		if err := col.WaitEnded(ctx, len(ids)); err != nil {
			t.Fatalf("%v; worker log %s", err, w.LogPath)
		}
	}
	publishAll()

	before := w.PID()
	if err := w.Restart(ctx, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if w.PID() == before || !w.Running() {
		t.Fatalf("restart: pid %d → %d, running %v", before, w.PID(), w.Running())
	}
	publishAll()

	if err := r.NATS.Restart(); err != nil {
		t.Fatal(err)
	}
	publishAll()

	missing, twice, undecoded := col.Check(ids)
	if len(missing)+len(twice)+undecoded > 0 {
		t.Fatalf("missing %v, twice %v, undecoded %d", missing, twice, undecoded)
	}
	for _, id := range ids {
		rec, _ := col.Record(id)
		if rec.Outcome != "succeeded" {
			t.Errorf("%s (%s) ended %s %s", id, rec.Action, rec.Outcome, rec.ErrorCode)
		}
		if rec.Action != "cancel-txn" && (rec.Accepted != 1 || rec.OrchestrationID == "") {
			t.Errorf("%s: %d accepted events, orchestration %q", id, rec.Accepted, rec.OrchestrationID)
		}
	}
	u, err := w.Usage()
	if err != nil || u.PeakRSS == 0 {
		t.Fatalf("usage while running: %+v, %v", u, err)
	}
	if err := w.Term(ctx); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	if u, err = w.Usage(); err != nil || u.PeakRSS == 0 || u.CPU == 0 {
		t.Fatalf("usage after exit: %+v, %v", u, err)
	}
	if b, err := os.ReadFile(w.LogPath); err != nil || len(b) == 0 {
		t.Fatalf("log %s: %d bytes, %v", w.LogPath, len(b), err)
	}
}

func TestProcUsageOfSelf(t *testing.T) {
	u, err := ProcUsage(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if u.PeakRSS < 1<<20 {
		t.Errorf("peak RSS %d bytes, want at least 1 MiB", u.PeakRSS)
	}
}

func TestCommandGenFreshIDs(t *testing.T) {
	g := NewCommandGen("X")
	seen := map[string]bool{}
	for i := range 50 {
		c := g.Mixed(i, AllActions())
		if seen[c.ID] {
			t.Fatalf("id %s repeated", c.ID)
		}
		seen[c.ID] = true
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	RemoveTestBinary()
	os.Exit(code)
}
