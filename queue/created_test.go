package queue_test

import (
	"strings"
	"testing"
	"time"

	"github.com/txworker/txworker/internal/natstest"
	"github.com/txworker/txworker/queue"
)

// Event subjects are built only from checked tokens (SPEC §4): one of the
// five action tokens or "unknown", and a known outcome. Anything that came
// from a command's subject unchecked is refused with a clear error.
func TestCheckEventTokens(t *testing.T) {
	tests := []struct {
		action, outcome string
		ok              bool
	}{
		{"cancel-offering", "rejected", true},
		{"revert-to-active", "accepted", true},
		{"remove-service-provider", "timed_out", true},
		{"reject-asset", "succeeded", true},
		{"cancel-txn", "failed", true},
		{"cancel-txn", "duplicate", true},
		{"unknown", "rejected", true},
		{"cancel-offering.succeeded", "rejected", false}, // more tokens
		{"*", "rejected", false},
		{">", "rejected", false},
		{"", "rejected", false},
		{"Cancel-Offering", "rejected", false}, // case variant
		{"cancel offering", "rejected", false},
		{"cancel-offering\x00", "rejected", false},
		{"delete-everything", "rejected", false},
		{"cancel-offering", "", false},
		{"cancel-offering", "succeeded.x", false},
		{"cancel-offering", "*", false},
		{"cancel-offering", "Rejected", false},
	}
	for _, tc := range tests {
		err := queue.CheckEventTokens(tc.action, tc.outcome)
		if (err == nil) != tc.ok {
			t.Errorf("CheckEventTokens(%q, %q) = %v, want ok %v", tc.action, tc.outcome, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "token") {
			t.Errorf("error %q does not say which token", err)
		}
	}
}

// PublishEvent refuses an event whose action or outcome is not a checked
// token, and publishes nothing; "unknown" is published on
// {prefix}.evt.unknown.{outcome} with the command's subject in the data.
func TestPublishEventCheckedTokens(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	b := provisioned(t, url, nil)
	ctx := testCtx(t)
	for _, action := range []string{"cancel-offering.succeeded", "Cancel-Offering", "x", "*", ">"} {
		ev := queue.NewEvent("s", "", queue.EventData{CommandID: "c-" + action, Action: action, Outcome: "rejected"}, time.Now())
		if _, err := b.PublishEvent(ctx, ev, queue.Trace{}); err == nil || !strings.Contains(err.Error(), "action token") {
			t.Errorf("PublishEvent(action %q) = %v, want an action token error", action, err)
		}
	}
	if msgs := streamMsgs(t, b, "TXWORKER_EVENTS", ""); len(msgs) != 0 {
		t.Fatalf("%d events stored from unchecked tokens", len(msgs))
	}
	ev := queue.NewEvent("s", "", queue.EventData{CommandID: "c", Action: queue.ActionUnknown,
		CommandSubject: "txworker.cmd.*", Outcome: "rejected"}, time.Now())
	if _, err := b.PublishEvent(ctx, ev, queue.Trace{}); err != nil {
		t.Fatal(err)
	}
	msgs := streamMsgs(t, b, "TXWORKER_EVENTS", "txworker.evt.unknown.rejected")
	if len(msgs) != 1 || !strings.Contains(string(msgs[0].Data), `"commandSubject":"txworker.cmd.*"`) {
		t.Fatalf("unknown event not stored as expected: %d messages", len(msgs))
	}
}

// CommandsCreated is the commands stream's creation time, recorded when
// the Bus binds; it survives a server restart unchanged, and after the
// stream is deleted and re-created, RefreshCommandsCreated and a new
// Provision both record the new, later time.
func TestCommandsCreated(t *testing.T) {
	ns := natstest.Start(t, natstest.Options{})
	url := ns.URL()
	b := provisioned(t, url, nil)
	ctx := testCtx(t)
	first := b.CommandsCreated()
	s, err := b.JetStream().Stream(ctx, "TXWORKER_COMMANDS")
	if err != nil {
		t.Fatal(err)
	}
	if first.IsZero() || !first.Equal(s.CachedInfo().Created) {
		t.Fatalf("CommandsCreated %v, stream created %v", first, s.CachedInfo().Created)
	}

	if err := ns.Restart(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "reconnected", b.Connected)
	var again time.Time
	eventually(t, "stream info after restart", func() bool {
		again, err = b.RefreshCommandsCreated(ctx)
		return err == nil
	})
	if !again.Equal(first) {
		t.Fatalf("creation time changed over a server restart: %v, then %v", first, again)
	}

	if err := b.JetStream().DeleteStream(ctx, "TXWORKER_COMMANDS"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.RefreshCommandsCreated(ctx); err == nil {
		t.Error("RefreshCommandsCreated with the stream deleted: nil error")
	}
	other := provisioned(t, url, nil) // another replica re-creates it
	recreated := other.CommandsCreated()
	if !recreated.After(first) {
		t.Fatalf("re-created stream's time %v is not after %v", recreated, first)
	}
	if got := b.CommandsCreated(); !got.Equal(first) {
		t.Fatalf("CommandsCreated changed without a refresh: %v", got)
	}
	if got, err := b.RefreshCommandsCreated(ctx); err != nil || !got.Equal(recreated) || !b.CommandsCreated().Equal(recreated) {
		t.Fatalf("RefreshCommandsCreated = %v, %v; want %v", got, err, recreated)
	}
	if err := b.Provision(ctx); err != nil || !b.CommandsCreated().Equal(recreated) {
		t.Fatalf("Provision: %v, CommandsCreated %v", err, b.CommandsCreated())
	}
}
