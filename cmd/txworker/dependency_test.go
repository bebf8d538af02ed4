package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/txworker/txworker/platform/platformtest"
	"github.com/txworker/txworker/queue"
)

// dependencyWait bounds how long the watch loop (a check every 5s) may take
// to notice a change.
const dependencyWait = 30 * time.Second

// waitMetrics scrapes /metrics, never /readyz, until every series has its
// value.
func waitMetrics(t *testing.T, addr string, want map[string]float64) {
	t.Helper()
	deadline := time.Now().Add(dependencyWait)
	for {
		got := scrape(t, addr)
		var off []string
		for series, v := range want {
			if got[series] != v {
				off = append(off, fmt.Sprintf("%s = %v, want %v", series, got[series], v))
			}
		}
		if len(off) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", dependencyWait, strings.Join(off, "; "))
		}
		time.Sleep(50 * time.Millisecond) // polling an HTTP endpoint
	}
}

// readyz returns the status and body of /readyz.
func readyz(t *testing.T, addr string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// dependencyGauges returns txworker_dependency_ready of every resource, all
// at v but the ones in except.
func dependencyGauges(v float64, except map[queue.Resource]float64) map[string]float64 {
	out := map[string]float64{}
	for _, r := range queue.Resources() {
		x, ok := except[r]
		if !ok {
			x = v
		}
		out[fmt.Sprintf(`txworker_dependency_ready{resource=%q}`, r)] = x
	}
	return out
}

// cancelTxnEndsOnce publishes a cancel-txn command and checks it ends in exactly
// one terminal event.
func (e *testEnv) cancelTxnEndsOnce(id string) {
	e.t.Helper()
	e.publish("cancel-txn", fmt.Sprintf(`{"commandId":%q,"params":{"submitKey":"15d071280b92c867f86975b9cd2e8765"}}`, id), "")
	e.terminal(id, waitLong)
	// A second terminal event would come from a redelivery: give the
	// stream time to store it by waiting for a later command's end.
	e.publish("cancel-txn", fmt.Sprintf(`{"commandId":%q,"params":{"submitKey":"15d071280b92c867f86975b9cd2e8765"}}`, id+"-later"), "")
	e.terminal(id+"-later", waitLong)
	if n := e.terminalCount(id); n != 1 {
		e.t.Errorf("%s: %d terminal events, want 1", id, n)
	}
}

// With provisioning off, a deleted commands stream turns the replica not
// ready, by its own loop: txworker_ready and
// txworker_dependency_ready{resource="commands_stream"} go to 0 with no
// probe asking, and /readyz names the stream. Once an operator re-creates
// it, the replica is ready again and consumes from it.
func TestDeletedStreamWithProvisioningOff(t *testing.T) {
	e := newTestEnv(t, platformtest.Config{})
	admin, err := queue.Connect(t.Context(), queue.Config{URL: e.natsURL, Provision: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Drain() })
	if err := admin.Provision(t.Context()); err != nil {
		t.Fatal(err)
	}
	addr, logs, _ := e.startWorker(map[string]string{"TXWORKER_PROVISION": "false"})
	e.watch()
	waitMetrics(t, addr, dependencyGauges(1, nil))

	if err := e.js.DeleteStream(context.Background(), "TXWORKER_COMMANDS"); err != nil {
		t.Fatal(err)
	}
	want := dependencyGauges(1, map[queue.Resource]float64{queue.ResourceCommandsStream: 0, queue.ResourceCommandsConsumer: 0})
	want["txworker_ready"] = 0
	waitMetrics(t, addr, want)
	status, body := readyz(t, addr)
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "missing stream TXWORKER_COMMANDS") ||
		!strings.Contains(body, "provisioning is off") {
		t.Errorf("/readyz = %d %q, want 503 naming the stream", status, body)
	}
	if !strings.Contains(logs.String(), `"msg":"jetstream resource missing"`) {
		t.Error("no warning logged for the missing stream")
	}
	if _, err := e.js.Stream(context.Background(), "TXWORKER_COMMANDS"); err == nil {
		t.Error("the stream was re-created with provisioning off")
	}

	if err := admin.Provision(t.Context()); err != nil { // the operator's fix
		t.Fatal(err)
	}
	want = dependencyGauges(1, nil)
	want["txworker_ready"] = 1
	waitMetrics(t, addr, want)
	if status, body := readyz(t, addr); status != http.StatusOK {
		t.Fatalf("/readyz after the fix = %d %q", status, body)
	}
	e.cancelTxnEndsOnce("dep-off-1")
}

// With provisioning on, the watch loop re-creates whatever an operator
// deletes; the replica is ready again and a command published afterwards
// ends in exactly one terminal event.
func TestDeletedResourcesRecreatedWithProvisioningOn(t *testing.T) {
	e := newTestEnv(t, platformtest.Config{})
	addr, logs, _ := e.startWorker(nil)
	e.watch()
	tests := []struct {
		name     string
		resource queue.Resource
		remove   func(context.Context, jetstream.JetStream) error
	}{
		{"commands stream", queue.ResourceCommandsStream, func(ctx context.Context, js jetstream.JetStream) error {
			return js.DeleteStream(ctx, "TXWORKER_COMMANDS")
		}},
		{"tracking consumer", queue.ResourceTrackingConsumer, func(ctx context.Context, js jetstream.JetStream) error {
			return js.DeleteConsumer(ctx, "TXWORKER_TRACKING", "poller")
		}},
		{"state bucket", queue.ResourceStateBucket, func(ctx context.Context, js jetstream.JetStream) error {
			return js.DeleteKeyValue(ctx, "TXWORKER_STATE")
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := fmt.Sprintf(`"msg":"jetstream resource re-created","resource":%q`, tt.resource)
			before := strings.Count(logs.String(), line)
			if err := tt.remove(context.Background(), e.js); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(dependencyWait)
			for strings.Count(logs.String(), line) == before {
				if time.Now().After(deadline) {
					t.Fatalf("%s not re-created within %s", tt.resource, dependencyWait)
				}
				time.Sleep(50 * time.Millisecond) // polling the log
			}
			want := dependencyGauges(1, nil)
			want["txworker_ready"] = 1
			waitMetrics(t, addr, want)
			if status, body := readyz(t, addr); status != http.StatusOK {
				t.Fatalf("/readyz after re-creation = %d %q", status, body)
			}
			e.cancelTxnEndsOnce(fmt.Sprintf("dep-on-%d", i))
		})
	}
	// The tracking consumer serves the poller again: a Corastone action
	// goes through accepted → polled → succeeded.
	c := corastoneCases()[0]
	c.seed(e.sim, "USDEP00TRACK")
	e.publish(c.action, fmt.Sprintf(`{"commandId":"dep-track","params":%s}`, fmt.Sprintf(c.params, "USDEP00TRACK")), "")
	if ev := e.terminal("dep-track", waitLong); ev.Data.Outcome != "succeeded" {
		t.Errorf("tracked command after re-creation: %s (%+v)", ev.Data.Outcome, ev.Data.Error)
	}
}
