package queue_test

import (
	"encoding/base64"
	"errors"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/txworker/txworker/internal/natstest"
	"github.com/txworker/txworker/queue"
)

func TestClaimsCreateGetUpdate(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	b := provisioned(t, url, nil)
	ctx := testCtx(t)
	claims := b.Claims()

	// Ids that are not valid keys as they stand.
	for _, id := range []string{"ord-7781-cancel", "a/b c?#%.*>", "ünïcode", "15d071280b92c867f86975b9cd2e8765"} {
		t.Run(id, func(t *testing.T) {
			if _, err := claims.Get(ctx, id); !errors.Is(err, queue.ErrNotFound) {
				t.Fatalf("Get before Create: %v, want ErrNotFound", err)
			}
			want := failedClaim()
			want.CommandID, want.Problems = id, []string{"p"}
			got, created, err := claims.Create(ctx, want)
			if err != nil || !created || got.Revision == 0 {
				t.Fatalf("Create: created %v err %v", created, err)
			}
			stored, err := claims.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !claimsEqual(stored, got) {
				t.Errorf("stored %+v\n  want %+v", stored, got)
			}
			// A second Create returns the stored claim untouched.
			other := &queue.Claim{CommandID: id, State: queue.StateReceived, ProcessID: "other"}
			again, created, err := claims.Create(ctx, other)
			if err != nil || created || again.ProcessID != want.ProcessID || again.Revision != got.Revision {
				t.Fatalf("second Create: created %v err %v claim %+v", created, err, again)
			}

			stale := *stored
			stored.Attempts++
			rev := stored.Revision
			if err := claims.Update(ctx, stored); err != nil || stored.Revision <= rev {
				t.Fatalf("Update: %v (revision %d → %d)", err, rev, stored.Revision)
			}
			stale.Attempts += 5
			if err := claims.Update(ctx, &stale); !errors.Is(err, queue.ErrConflict) {
				t.Fatalf("Update with a stale revision: %v, want ErrConflict", err)
			}
			if stale.Revision != rev {
				t.Error("a failed Update changed the revision")
			}
			if got, _ := claims.Get(ctx, id); got.Attempts != want.Attempts+1 {
				t.Errorf("attempts = %d, want %d", got.Attempts, want.Attempts+1)
			}
		})
	}
	if err := claims.Update(ctx, &queue.Claim{CommandID: "x"}); err == nil {
		t.Error("Update without a revision: nil error")
	}
}

// TestClaimsCreateRace: of many concurrent creators exactly one creates and
// all see its claim.
func TestClaimsCreateRace(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	b := provisioned(t, url, nil)
	ctx := testCtx(t)
	var wins atomic.Int32
	var wg sync.WaitGroup
	pids := make([]string, 16)
	for i := range pids {
		wg.Go(func() {
			cl := &queue.Claim{CommandID: "race", State: queue.StateReceived, ProcessID: string(rune('a' + i))}
			got, created, err := b.Claims().Create(ctx, cl)
			if err != nil {
				t.Error(err)
				return
			}
			if created {
				wins.Add(1)
			}
			pids[i] = got.ProcessID
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d creators won, want 1", wins.Load())
	}
	for _, p := range pids {
		if p != pids[0] {
			t.Fatalf("creators saw different claims: %v", pids)
		}
	}
}

func TestClaimsBeforeProvision(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	b := connect(t, url, nil)
	if _, err := b.Claims().Get(testCtx(t), "x"); err == nil || errors.Is(err, queue.ErrNotFound) {
		t.Errorf("Get before Provision: %v", err)
	}
}

// claimsEqual compares claims by value, times by instant.
func claimsEqual(a, b *queue.Claim) bool {
	x, y := *a, *b
	if !x.ReceivedAt.Equal(y.ReceivedAt) || !x.AcceptedAt.Equal(y.AcceptedAt) || !x.SettledAt.Equal(y.SettledAt) ||
		!x.Deadline.Equal(y.Deadline) || !x.LeaseUntil.Equal(y.LeaseUntil) {
		return false
	}
	x.ReceivedAt, x.AcceptedAt, x.SettledAt, x.Deadline, x.LeaseUntil = y.ReceivedAt, y.AcceptedAt, y.SettledAt, y.Deadline, y.LeaseUntil
	return reflect.DeepEqual(x, y)
}

func TestReserveProcessID(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	b := provisioned(t, url, nil)
	ctx := testCtx(t)
	claims := b.Claims()
	const pid = "2159457f-0167-4e93-a969-9cf0db05e0bf"
	steps := []struct {
		commandID, want string
	}{
		{"first", "first"},  // new reservation
		{"first", "first"},  // a redelivery of the same command
		{"second", "first"}, // another command: the first owns it
		{"pid.x", "first"},  // a command id that looks like a key
		{"first", "first"},  // still the first's
	}
	for i, s := range steps {
		owner, err := claims.ReserveProcessID(ctx, pid, s.commandID)
		if err != nil || owner != s.want {
			t.Fatalf("step %d: ReserveProcessID(%q) = %q, %v; want %q", i, s.commandID, owner, err, s.want)
		}
	}
	// The index key never collides with a claim: a command whose id is the
	// key itself has its own claim.
	if _, err := claims.Get(ctx, queue.ProcessKey(pid)); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("Get(%q) = %v, want ErrNotFound", queue.ProcessKey(pid), err)
	}
	if !queue.IsProcessKey(queue.ProcessKey(pid)) || queue.IsProcessKey("cGlkLng") {
		t.Error("IsProcessKey")
	}
	if _, err := claims.ReserveProcessID(ctx, "a.b", "c"); !errors.Is(err, queue.ErrUnencodable) {
		t.Errorf("a processId that is no key: %v, want ErrUnencodable", err)
	}
}

func TestUnencodableClaimIsErrUnencodable(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	b := provisioned(t, url, nil)
	ctx := testCtx(t)
	bad := &queue.Claim{CommandID: "far", State: queue.StateReceived, Deadline: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	if _, _, err := b.Claims().Create(ctx, bad); !errors.Is(err, queue.ErrUnencodable) {
		t.Errorf("Create: %v, want ErrUnencodable", err)
	}
	ev := queue.NewEvent("src", "", queue.EventData{CommandID: "c", Action: "cancel-offering.*", Outcome: "rejected"}, time.Now())
	if _, err := b.PublishEvent(ctx, ev, queue.Trace{}); !errors.Is(err, queue.ErrUnencodable) {
		t.Errorf("PublishEvent on a wildcard token: %v, want ErrUnencodable", err)
	}
}

// TestClaimsCreateAfterDelete: a key whose last entry is a delete or purge
// marker (an operator's `nats kv del`) counts as absent, for claims and for
// processId reservations alike.
func TestClaimsCreateAfterDelete(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	b := provisioned(t, url, nil)
	ctx := testCtx(t)
	claims := b.Claims()
	kv, err := b.JetStream().KeyValue(ctx, "TXWORKER_STATE")
	if err != nil {
		t.Fatal(err)
	}
	for _, remove := range []struct {
		name, pid string
		f         func(key string) error
	}{
		{"deleted", "2159457f-0167-4e93-a969-9cf0db05e0bf", func(k string) error { return kv.Delete(ctx, k) }},
		{"purged", "3159457f-0167-4e93-a969-9cf0db05e0bf", func(k string) error { return kv.Purge(ctx, k) }},
	} {
		t.Run(remove.name, func(t *testing.T) {
			pid := remove.pid
			id := "c-" + remove.name
			if _, created, err := claims.Create(ctx, &queue.Claim{CommandID: id, State: queue.StateReceived}); err != nil || !created {
				t.Fatalf("Create: created %v, %v", created, err)
			}
			if err := remove.f(base64.RawURLEncoding.EncodeToString([]byte(id))); err != nil {
				t.Fatal(err)
			}
			again, created, err := claims.Create(ctx, &queue.Claim{CommandID: id, State: queue.StateCalling})
			if err != nil || !created || again.State != queue.StateCalling || again.Revision == 0 {
				t.Fatalf("Create after the key was %s: %+v, created %v, %v", remove.name, again, created, err)
			}

			if owner, err := claims.ReserveProcessID(ctx, pid, "old-"+remove.name); err != nil || owner != "old-"+remove.name {
				t.Fatalf("ReserveProcessID: %q, %v", owner, err)
			}
			if err := remove.f(queue.ProcessKey(pid)); err != nil {
				t.Fatal(err)
			}
			if owner, err := claims.ReserveProcessID(ctx, pid, "new-"+remove.name); err != nil || owner != "new-"+remove.name {
				t.Fatalf("ReserveProcessID after the key was %s: %q, %v; want the new command", remove.name, owner, err)
			}
		})
	}
}
