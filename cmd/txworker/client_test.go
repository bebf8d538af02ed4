package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/txworker/txworker/platform/platformtest"
	"github.com/txworker/txworker/queue"
)

func writeCommand(t *testing.T, body string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "command.json")
	if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// submit -wait prints the terminal event and its exit status tells the
// outcome; status shows what the worker knows.
func TestSubmitWaitAndStatus(t *testing.T) {
	e := newTestEnv(t, platformtest.Config{})
	e.startWorker(nil)
	env := envOf(map[string]string{"TXWORKER_NATS_URL": e.natsURL})
	tests := []struct {
		name, action, body string
		exit               int
		outcome            string
	}{
		{"succeeded", "cancel-offering", `{"commandId":"sub-ok","params":{"securityId":"USS3JKS02I00"}}`, 0, "succeeded"},
		{"failed", "revert-to-active", `{"commandId":"sub-failed","params":{"securityId":"USS3JKS06I00","signer":{"email":"a@b.c","name":"A"}}}`, 1, "failed"},
		{"rejected", "cancel-offering", `{"commandId":"sub-rejected","params":{"nope":1}}`, 3, "rejected"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var out bytes.Buffer
			err := run(ctx, []string{"submit", "-wait", tc.action, writeCommand(t, tc.body)}, env, &out)
			if code := exitCode(err); (err == nil && tc.exit != 0) || (err != nil && code != tc.exit) {
				t.Fatalf("exit %d (%v), want %d\n%s", code, err, tc.exit, out.String())
			}
			text := out.String()
			ev := text[strings.Index(text, "{"):]
			var got struct {
				Data struct{ Outcome, CommandID string }
			}
			if err := json.Unmarshal([]byte(ev), &got); err != nil || got.Data.Outcome != tc.outcome {
				t.Fatalf("printed event %q (%v), want outcome %s", ev, err, tc.outcome)
			}
			// A second submission of the same command prints the recorded
			// outcome without a second platform call.
			out.Reset()
			err = run(ctx, []string{"submit", tc.action, "-wait", writeCommand(t, tc.body)}, env, &out)
			if code := exitCode(err); (err == nil) != (tc.exit == 0) || (err != nil && code != tc.exit) {
				t.Fatalf("resubmission exit %d (%v)\n%s", code, err, out.String())
			}
			out.Reset()
			if err := run(ctx, []string{"status", got.Data.CommandID}, env, &out); err != nil {
				t.Fatalf("status: %v", err)
			}
			var st queue.View
			if err := json.Unmarshal(out.Bytes(), &st); err != nil || st.Outcome != tc.outcome || st.State != "terminal" || !st.EventPublished {
				t.Errorf("status %s (%v)", out.String(), err)
			}
		})
	}
	if n := e.sim.Count("PUT", "/external/v1/security-admin/cancel"); n != 1 {
		t.Errorf("%d cancel calls for one command submitted twice, want 1", n)
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"status", "never-seen"}, env, &out); exitCode(err) != 1 {
		t.Errorf("status of an unknown command: %v", err)
	}
}

// submit -wait follows the events a command really gets: an unknown action's
// rejection comes on {prefix}.evt.unknown.rejected, and a different command
// under a used commandId is answered by its duplicate event (exit 6).
func TestSubmitWaitUnknownActionAndDuplicate(t *testing.T) {
	e := newTestEnv(t, platformtest.Config{})
	e.startWorker(nil)
	env := envOf(map[string]string{"TXWORKER_NATS_URL": e.natsURL})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	outcome := func(out *bytes.Buffer) string {
		t.Helper()
		text := out.String()
		i := strings.Index(text, "{")
		if i < 0 {
			t.Fatalf("no event printed:\n%s", text)
		}
		var got struct{ Data struct{ Outcome string } }
		if err := json.Unmarshal([]byte(text[i:]), &got); err != nil {
			t.Fatalf("printed event %q: %v", text[i:], err)
		}
		return got.Data.Outcome
	}
	var out bytes.Buffer
	err := run(ctx, []string{"submit", "-wait", "-timeout", "30s", "delete-everything", writeCommand(t, `{"commandId":"sub-unknown","params":{}}`)}, env, &out)
	if exitCode(err) != 3 || outcome(&out) != "rejected" {
		t.Fatalf("unknown action: exit %d (%v), want 3 rejected\n%s", exitCode(err), err, out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"submit", "-wait", "cancel-offering", writeCommand(t, `{"commandId":"sub-dup","params":{"securityId":"USS3JKS02I00"}}`)}, env, &out); err != nil {
		t.Fatalf("first command: %v\n%s", err, out.String())
	}
	out.Reset()
	err = run(ctx, []string{"submit", "-wait", "-timeout", "30s", "cancel-offering", writeCommand(t, `{"commandId":"sub-dup","params":{"securityId":"USS3JKS03I00"}}`)}, env, &out)
	if exitCode(err) != 6 || outcome(&out) != "duplicate" {
		t.Fatalf("different command under a used id: exit %d (%v), want 6 duplicate\n%s", exitCode(err), err, out.String())
	}
	if n := e.sim.Count("PUT", "/external/v1/security-admin/cancel"); n != 1 {
		t.Errorf("%d cancel calls, want 1: the duplicate must not be sent", n)
	}
}
