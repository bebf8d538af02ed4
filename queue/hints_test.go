package queue_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/txworker/txworker/internal/natstest"
	"github.com/txworker/txworker/queue"
)

func TestIsClaimKey(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want bool
	}{
		{"Y21kLTE", true},
		{queue.ProcessKey("2159457f-0167-4e93-9a3b-1c2d3e4f5a6b"), false},
		{queue.OrchestrationKey("2159457f-0167-4e93-9a3b-1c2d3e4f5a6b"), false},
		{queue.OrchestrationKey("odd id: with/chars"), false},
		{"hint.lease", false},
		{"hint.cursor", false},
		{"", false},
	} {
		if got := queue.IsClaimKey(tc.key); got != tc.want {
			t.Errorf("IsClaimKey(%q) = %v, want %v", tc.key, got, tc.want)
		}
	}
}

// TestHintKeysAreNotClaims walks the bucket's keys after every kind of key
// has been written: only the claims pass IsClaimKey.
func TestHintKeysAreNotClaims(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	b := provisioned(t, url, nil)
	ctx := testCtx(t)
	cl := &queue.Claim{CommandID: "cmd-1", Action: "cancel-offering", State: queue.StateAccepted}
	if _, _, err := b.Claims().Create(ctx, cl); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Claims().ReserveProcessID(ctx, "2159457f-0167-4e93-9a3b-1c2d3e4f5a6b", "cmd-1"); err != nil {
		t.Fatal(err)
	}
	h := b.Hints()
	if err := h.IndexOrchestration(ctx, "orch/1 odd", "cmd-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.AcquireLease(ctx, "r1", time.Second, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := h.SaveCursor(ctx, &queue.HintCursor{At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	kv, err := b.JetStream().KeyValue(ctx, b.StateBucket())
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var claims []string
	n := 0
	for k := range keys.Keys() {
		n++
		if queue.IsClaimKey(k) {
			claims = append(claims, k)
		}
	}
	if n != 5 || !slices.Equal(claims, []string{"Y21kLTE"}) {
		t.Errorf("%d keys, claims %v; want 5 keys and the one claim", n, claims)
	}
}

func TestHintLease(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	h := provisioned(t, url, nil).Hints()
	ctx := testCtx(t)
	t0 := time.Now()
	steps := []struct {
		owner string
		at    time.Duration
		want  bool
	}{
		{"r1", 0, true},                 // free: taken
		{"r2", time.Second, false},      // held by r1
		{"r1", 2 * time.Second, true},   // renewed by its holder (until t0+5s)
		{"r2", 4 * time.Second, false},  // still held
		{"r2", 5*time.Second + 1, true}, // expired: taken over
		{"r1", 6 * time.Second, false},  // r1 lost it
		{"r2", 7 * time.Second, true},   // renewed
	}
	for i, s := range steps {
		held, err := h.AcquireLease(ctx, s.owner, 3*time.Second, t0.Add(s.at))
		if err != nil {
			t.Fatal(err)
		}
		if held != s.want {
			t.Fatalf("step %d: %s at +%s held=%v, want %v", i, s.owner, s.at, held, s.want)
		}
	}
	if err := h.ReleaseLease(ctx, "r1"); err != nil { // not the holder: nothing happens
		t.Fatal(err)
	}
	if held, _ := h.AcquireLease(ctx, "r1", 3*time.Second, t0.Add(8*time.Second)); held {
		t.Fatal("released by a replica that does not hold it")
	}
	if err := h.ReleaseLease(ctx, "r2"); err != nil {
		t.Fatal(err)
	}
	if held, err := h.AcquireLease(ctx, "r1", 3*time.Second, t0.Add(8*time.Second)); err != nil || !held {
		t.Fatalf("after release: held=%v err=%v, want the lease", held, err)
	}
}

func TestHintCursorAndIndex(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	h := provisioned(t, url, nil).Hints()
	ctx := testCtx(t)
	c, err := h.Cursor(ctx)
	if err != nil || c.Revision != 0 || !c.At.IsZero() {
		t.Fatalf("empty bucket: cursor %+v, %v", c, err)
	}
	at := time.Date(2024, 9, 12, 10, 0, 0, 123456789, time.UTC)
	c = queue.HintCursor{At: at, Seen: []string{"a", "b"}}
	if err := h.SaveCursor(ctx, &c); err != nil {
		t.Fatal(err)
	}
	stale := queue.HintCursor{At: at.Add(time.Second)}
	if err := h.SaveCursor(ctx, &stale); !errors.Is(err, queue.ErrConflict) {
		t.Fatalf("create over a stored cursor: %v, want ErrConflict", err)
	}
	got, err := h.Cursor(ctx)
	if err != nil || !got.At.Equal(at) || !slices.Equal(got.Seen, c.Seen) || got.Revision != c.Revision {
		t.Fatalf("cursor read back %+v, %v; want %+v", got, err, c)
	}
	got.At = at.Add(time.Second)
	if err := h.SaveCursor(ctx, &got); err != nil {
		t.Fatal(err)
	}
	if err := h.SaveCursor(ctx, &c); !errors.Is(err, queue.ErrConflict) {
		t.Fatalf("update at an old revision: %v, want ErrConflict", err)
	}

	if _, err := h.LookupOrchestration(ctx, "o-1"); !errors.Is(err, queue.ErrNotFound) {
		t.Fatalf("lookup before index: %v", err)
	}
	if err := h.IndexOrchestration(ctx, "o-1", "cmd-1"); err != nil {
		t.Fatal(err)
	}
	if id, err := h.LookupOrchestration(ctx, "o-1"); err != nil || id != "cmd-1" {
		t.Fatalf("lookup: %q, %v", id, err)
	}
	if err := h.UnindexOrchestration(ctx, "o-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.LookupOrchestration(ctx, "o-1"); !errors.Is(err, queue.ErrNotFound) {
		t.Fatalf("lookup after unindex: %v", err)
	}
	if err := h.IndexOrchestration(ctx, "", "cmd"); !errors.Is(err, queue.ErrUnencodable) {
		t.Fatalf("empty id: %v", err)
	}
}
