package queue_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/txworker/txworker/internal/natstest"
	"github.com/txworker/txworker/queue"
)

// CommandEvents finds one command's events among others of the same action
// and of other actions, in the order stored, from the command's receipt on.
func TestCommandEvents(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	b := provisioned(t, url, nil)
	ctx := testCtx(t)
	publish := func(action, id, outcome string) {
		t.Helper()
		ev := queue.NewEvent("test", "sec", queue.EventData{CommandID: id, Action: action, Outcome: outcome}, time.Now())
		if _, err := b.PublishEvent(ctx, ev, queue.Trace{}); err != nil {
			t.Fatal(err)
		}
	}
	before := time.Now()
	publish("cancel-offering", "cmd-1", "accepted")
	publish("cancel-offering", "cmd-1x", "accepted") // its id holds cmd-1's
	publish("reject-asset", "cmd-r", "accepted")     // another action's
	publish("cancel-offering", "cmd-2", "succeeded")
	publish("cancel-offering", "cmd-1", "succeeded")
	publish(queue.ActionUnknown, "cmd-u", "rejected")
	ids := func(evs []queue.Event) []string {
		var out []string
		for _, ev := range evs {
			out = append(out, ev.ID)
		}
		return out
	}
	tests := []struct {
		name, action, id string
		since            time.Time
		want             []string
	}{
		{"whole stream", "cancel-offering", "cmd-1", time.Time{}, []string{"cmd-1:accepted", "cmd-1:succeeded"}},
		{"since receipt", "cancel-offering", "cmd-1", before, []string{"cmd-1:accepted", "cmd-1:succeeded"}},
		{"other action", "reject-asset", "cmd-r", before, []string{"cmd-r:accepted"}},
		{"not of this action", "cancel-offering", "cmd-r", before, nil},
		{"unknown", queue.ActionUnknown, "cmd-u", before, []string{"cmd-u:rejected"}},
		{"none", "cancel-offering", "cmd-3", before, nil},
		{"received after the events (beyond the skew)", "cancel-offering", "cmd-1", time.Now().Add(2 * time.Minute), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := b.CommandEvents(ctx, tc.action, tc.id, tc.since)
			if err != nil || !slices.Equal(ids(got), tc.want) {
				t.Errorf("got %q (%v), want %q", ids(got), err, tc.want)
			}
		})
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := b.CommandEvents(done, "cancel-offering", "cmd-1", time.Time{}); err == nil {
		t.Error("no error from an ended context")
	}
}
