package queue_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/txworker/txworker/internal/natstest"
	"github.com/txworker/txworker/queue"
)

// List reads every claim of the bucket, skips what is not a claim, filters
// by state, action and age, and sorts oldest first.
func TestListFiltersAndOrder(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	b := provisioned(t, url, nil)
	ctx := testCtx(t)
	now := time.Now()
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	claims := []*queue.Claim{
		{CommandID: "calling-1h", Action: "cancel-offering", State: queue.StateCalling, ReceivedAt: ago(time.Hour), Attempts: 3},
		{CommandID: "accepted-2h", Action: "reject-asset", State: queue.StateAccepted, ReceivedAt: ago(2 * time.Hour), OrchestrationID: "0xabc", Polls: 7},
		{CommandID: "received-1m", Action: "cancel-offering", State: queue.StateReceived, ReceivedAt: ago(time.Minute)},
		{CommandID: "terminal-3h", Action: "cancel-offering", State: queue.StateTerminal, Outcome: "succeeded", ReceivedAt: ago(3 * time.Hour), Published: true, RawCommand: `{"signer":{"email":"a@b.c"}}`},
		{CommandID: "unknown-10m", Action: queue.ActionUnknown, State: queue.StateTerminal, Outcome: "rejected", ReceivedAt: ago(10 * time.Minute)},
		{CommandID: "accepted-5h b", Action: "cancel-offering", State: queue.StateAccepted, ReceivedAt: ago(5 * time.Hour)},
		{CommandID: "accepted-5h a", Action: "cancel-offering", State: queue.StateAccepted, ReceivedAt: ago(5 * time.Hour)},
		{CommandID: "deleted", Action: "cancel-offering", State: queue.StateCalling, ReceivedAt: ago(time.Hour)},
	}
	for _, cl := range claims {
		if _, _, err := b.Claims().Create(ctx, cl); err != nil {
			t.Fatal(err)
		}
	}
	// Not claims: a processId reservation, a deleted claim, and an update
	// after creation (listed once, at its last revision).
	if _, err := b.Claims().ReserveProcessID(ctx, "0d9a2f7e-3c1b-4e8a-9f6d-2b7c5e1a4d3f", "calling-1h"); err != nil {
		t.Fatal(err)
	}
	_, js := natstest.Connect(t, url)
	kv, err := js.KeyValue(ctx, b.StateBucket())
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(ctx, base64.RawURLEncoding.EncodeToString([]byte("deleted"))); err != nil {
		t.Fatal(err)
	}
	claims[0].Attempts = 4
	if err := b.Claims().Update(ctx, claims[0]); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		f    queue.ListFilter
		want []string
	}{
		{"default: not terminal", queue.ListFilter{}, []string{"accepted-5h a", "accepted-5h b", "accepted-2h", "calling-1h", "received-1m"}},
		{"terminal", queue.ListFilter{States: []queue.State{queue.StateTerminal}}, []string{"terminal-3h", "unknown-10m"}},
		{"two states", queue.ListFilter{States: []queue.State{queue.StateReceived, queue.StateCalling}}, []string{"calling-1h", "received-1m"}},
		{"action", queue.ListFilter{Action: "reject-asset"}, []string{"accepted-2h"}},
		{"action unknown, every state", queue.ListFilter{Action: queue.ActionUnknown, States: queue.States()}, []string{"unknown-10m"}},
		{"older than 90m", queue.ListFilter{OlderThan: 90 * time.Minute}, []string{"accepted-5h a", "accepted-5h b", "accepted-2h"}},
		{"all filters", queue.ListFilter{States: []queue.State{queue.StateAccepted}, Action: "cancel-offering", OlderThan: 4 * time.Hour}, []string{"accepted-5h a", "accepted-5h b"}},
		{"none match", queue.ListFilter{Action: "cancel-txn"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.f.Now = now
			got, err := b.Claims().List(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, cl := range got {
				ids = append(ids, cl.CommandID)
				if cl.RawCommand != "" || cl.Revision == 0 {
					t.Errorf("%s: raw command %q kept, revision %d", cl.CommandID, cl.RawCommand, cl.Revision)
				}
				if cl.CommandID == "calling-1h" && (cl.Attempts != 4 || cl.Revision != claims[0].Revision) {
					t.Errorf("calling-1h listed at attempts %d revision %d, want the update's 4 at %d", cl.Attempts, cl.Revision, claims[0].Revision)
				}
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("listed %q, want %q", ids, tc.want)
			}
		})
	}
}

// An empty bucket lists nothing at once, a value that is not a claim is
// listed by its key, and Scan stops when fn says so.
func TestScanEmptyGarbageAndStop(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	b := provisioned(t, url, nil)
	ctx := testCtx(t)
	got, err := b.Claims().List(ctx, queue.ListFilter{})
	if err != nil || len(got) != 0 {
		t.Fatalf("empty bucket: %v, %v", got, err)
	}
	_, js := natstest.Connect(t, url)
	kv, err := js.KeyValue(ctx, b.StateBucket())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, base64.RawURLEncoding.EncodeToString([]byte("garbled")), []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, _, err := b.Claims().Create(ctx, &queue.Claim{CommandID: fmt.Sprint("c", i), State: queue.StateCalling}); err != nil {
			t.Fatal(err)
		}
	}
	got, err = b.Claims().List(ctx, queue.ListFilter{})
	if err != nil || len(got) != 4 || got[0].CommandID != "c0" || !slices.ContainsFunc(got, func(c *queue.Claim) bool { return c.CommandID == "garbled" && c.State == "" }) {
		t.Fatalf("list: %v %v", got, err)
	}
	n := 0
	if err := b.Claims().Scan(ctx, func(*queue.Claim) bool { n++; return n < 2 }); err != nil || n != 2 {
		t.Fatalf("Scan stopped after %d (%v), want 2", n, err)
	}
}

// ParseStates names every unknown state.
func TestParseStates(t *testing.T) {
	got, err := queue.ParseStates(" received, terminal ,")
	if err != nil || !slices.Equal(got, []queue.State{queue.StateReceived, queue.StateTerminal}) {
		t.Fatalf("got %v %v", got, err)
	}
	if _, err := queue.ParseStates("pending,calling,done"); err == nil || !strings.Contains(err.Error(), `"pending"`) || !strings.Contains(err.Error(), `"done"`) {
		t.Fatalf("err %v, want both names", err)
	}
}

// writeClaims stores n claims straight on the bucket's subjects with async
// publishes: every tenth terminal, the others spread over the other states,
// received one second apart, newest first in the stream.
func writeClaims(tb testing.TB, js jetstream.JetStream, bucket string, n int, now time.Time) {
	tb.Helper()
	states := []queue.State{queue.StateReceived, queue.StateCalling, queue.StateAccepted}
	for i := range n {
		cl := queue.Claim{CommandID: fmt.Sprintf("bulk-%06d", i), Action: "cancel-offering", State: states[i%3],
			ReceivedAt: now.Add(-time.Duration(i+1) * time.Second), Attempts: 1, Polls: i % 50, OrchestrationID: fmt.Sprintf("0x%064x", i)}
		if i%10 == 0 {
			cl.State, cl.Outcome, cl.Published = queue.StateTerminal, "succeeded", true
		}
		data, err := json.Marshal(&cl)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := js.PublishAsync("$KV."+bucket+"."+base64.RawURLEncoding.EncodeToString([]byte(cl.CommandID)), data); err != nil {
			tb.Fatal(err)
		}
		if i%2000 == 1999 || i == n-1 { // a window of acknowledgements, below the client's stall limit
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(2 * time.Minute):
				tb.Fatal("bulk publishes not acknowledged")
			}
		}
	}
}

// List answers for 100,000 tracked claims (the time is logged, not asserted).
func TestList100k(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 claims")
	}
	const n = 100_000
	url := natstest.Start(t, natstest.Options{}).URL()
	b := provisioned(t, url, nil)
	_, js := natstest.Connect(t, url)
	now := time.Now()
	start := time.Now()
	writeClaims(t, js, b.StateBucket(), n, now)
	t.Logf("wrote %d claims in %s", n, time.Since(start))
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	start = time.Now()
	got, err := b.Claims().List(ctx, queue.ListFilter{Now: now})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("listed %d of %d claims in %s", len(got), n, took)
	if len(got) != n-n/10 {
		t.Fatalf("listed %d, want %d", len(got), n-n/10)
	}
	// Oldest first: the highest index is the oldest; terminal ones are out.
	for i, cl := range got {
		if cl.State == queue.StateTerminal {
			t.Fatalf("terminal %s listed", cl.CommandID)
		}
		if i > 0 && !got[i-1].ReceivedAt.Before(cl.ReceivedAt) {
			t.Fatalf("%s listed before %s", got[i-1].CommandID, cl.CommandID)
		}
	}
	if got[0].CommandID != fmt.Sprintf("bulk-%06d", n-1) {
		t.Errorf("oldest %s", got[0].CommandID)
	}
	old, err := b.Claims().List(ctx, queue.ListFilter{Now: now, OlderThan: time.Duration(n-100) * time.Second, States: []queue.State{queue.StateAccepted}})
	if err != nil || len(old) != 30 {
		t.Fatalf("older than %d s, accepted: %d claims (%v), want 30", n-100, len(old), err)
	}
}

// BenchmarkList100k lists 100,000 claims (every tenth terminal).
func BenchmarkList100k(b *testing.B) {
	url := natstest.Start(b, natstest.Options{}).URL()
	bus, err := queue.Connect(b.Context(), queue.Config{URL: url, Provision: true, Name: b.Name()}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = bus.Drain() })
	if err := bus.Provision(b.Context()); err != nil {
		b.Fatal(err)
	}
	_, js := natstest.Connect(b, url)
	writeClaims(b, js, bus.StateBucket(), 100_000, time.Now())
	b.ResetTimer()
	for b.Loop() {
		got, err := bus.Claims().List(b.Context(), queue.ListFilter{})
		if err != nil || len(got) != 90_000 {
			b.Fatalf("%d claims, %v", len(got), err)
		}
	}
}
