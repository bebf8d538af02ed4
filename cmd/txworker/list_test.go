package main

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/txworker/txworker/internal/natstest"
	"github.com/txworker/txworker/queue"
)

// provisionedBus provisions the streams and bucket on url, as a worker
// does at start, and returns the Bus.
func provisionedBus(t *testing.T, url string) *queue.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := queue.Connect(ctx, queue.Config{URL: url, Provision: true, Name: t.Name()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Drain() })
	if err := b.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	return b
}

// storeClaims creates the claims on b.
func storeClaims(t *testing.T, b *queue.Bus, claims ...*queue.Claim) {
	t.Helper()
	for _, cl := range claims {
		if _, _, err := b.Claims().Create(context.Background(), cl); err != nil {
			t.Fatal(err)
		}
	}
}

// list prints the commands by state, action and age, oldest first, as an
// aligned table or a JSON array of status views.
func TestListCommand(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	b := provisionedBus(t, url)
	now := time.Now()
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	storeClaims(t, b,
		&queue.Claim{CommandID: "cmd-calling", Action: "cancel-offering", State: queue.StateCalling, ReceivedAt: ago(time.Hour), Attempts: 3},
		&queue.Claim{CommandID: "cmd-accepted-long-id-0001", Action: "reject-asset", State: queue.StateAccepted, ReceivedAt: ago(2 * time.Hour), OrchestrationID: "0xfeed", Polls: 12, Attempts: 1},
		&queue.Claim{CommandID: "cmd-received", Action: "cancel-txn", State: queue.StateReceived, ReceivedAt: ago(time.Minute)},
		&queue.Claim{CommandID: "cmd-done", Action: "cancel-offering", State: queue.StateTerminal, Outcome: "succeeded", ReceivedAt: ago(3 * time.Hour), Published: true,
			RawCommand: `{"params":{"signer":{"email":"jdoe@example.com"}}}`},
		&queue.Claim{CommandID: "with space\tand tab", Action: queue.ActionUnknown, State: queue.StateTerminal, Outcome: "rejected", ReceivedAt: ago(4 * time.Hour)},
	)
	if _, err := b.Claims().ReserveProcessID(context.Background(), "5f0c7a2e-8b1d-4c3e-9a6f-1d2e3f4a5b6c", "cmd-calling"); err != nil {
		t.Fatal(err)
	}
	env := envOf(map[string]string{"TXWORKER_NATS_URL": url})
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"default", nil, []string{"cmd-accepted-long-id-0001", "cmd-calling", "cmd-received"}},
		{"terminal", []string{"-state", "terminal"}, []string{`"with space\tand tab"`, "cmd-done"}},
		{"states", []string{"-state", "received,accepted"}, []string{"cmd-accepted-long-id-0001", "cmd-received"}},
		{"action", []string{"-action", "cancel-offering", "-state", "calling,terminal"}, []string{"cmd-done", "cmd-calling"}},
		{"older than", []string{"-older-than", "30m"}, []string{"cmd-accepted-long-id-0001", "cmd-calling"}},
		{"none", []string{"-action", "revert-to-active"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name+" table", func(t *testing.T) {
			var out bytes.Buffer
			if err := run(context.Background(), append([]string{"list"}, tc.args...), env, &out); err != nil {
				t.Fatalf("list: %v\n%s", err, out.String())
			}
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			header := lines[0]
			if !strings.HasPrefix(header, "COMMAND ") {
				t.Fatalf("header %q", header)
			}
			var ids []string
			for _, l := range lines[1:] {
				// Aligned: every column starts where its heading does.
				for _, col := range []string{"ACTION", "STATE", "AGE", "ORCHESTRATION"} {
					if i := strings.Index(header, col); l[i-2:i] != "  " || l[i] == ' ' {
						t.Errorf("column %s not aligned in\n%s\n%s", col, header, l)
					}
				}
				ids = append(ids, strings.TrimSpace(l[:strings.Index(header, "ACTION")]))
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("listed %q, want %q\n%s", ids, tc.want, out.String())
			}
			if strings.Contains(out.String(), "example.com") {
				t.Errorf("a signer's address is shown:\n%s", out.String())
			}
		})
		t.Run(tc.name+" json", func(t *testing.T) {
			var out bytes.Buffer
			if err := run(context.Background(), append([]string{"list", "-o", "json"}, tc.args...), env, &out); err != nil {
				t.Fatalf("list: %v\n%s", err, out.String())
			}
			var views []queue.View
			if err := json.Unmarshal(out.Bytes(), &views); err != nil || views == nil {
				t.Fatalf("not a JSON array (%v):\n%s", err, out.String())
			}
			var ids []string
			for _, v := range views {
				ids = append(ids, v.CommandID)
			}
			want := slices.Clone(tc.want)
			for i, w := range want {
				if w[0] == '"' {
					want[i] = "with space\tand tab"
				}
			}
			if !slices.Equal(ids, want) {
				t.Errorf("listed %q, want %q", ids, want)
			}
		})
	}
	// The row of a tracked command shows its numbers.
	var out bytes.Buffer
	if err := run(context.Background(), []string{"list", "-state", "accepted"}, env, &out); err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(strings.Split(out.String(), "\n")[1]); len(f) != 8 || f[1] != "reject-asset" || f[2] != "accepted" || f[3] != "-" ||
		!strings.HasPrefix(f[4], "2h0m") || f[5] != "1" || f[6] != "12" || f[7] != "0xfeed" {
		t.Errorf("row %q", f)
	}
}

// Invalid flags are one usage error naming every problem.
func TestListUsage(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"list", "-state", "pending,calling,gone", "-action", "nuke", "-older-than", "-1s", "-o", "yaml"},
		envOf(nil), &out)
	if exitCode(err) != 2 {
		t.Fatalf("exit %d (%v), want 2", exitCode(err), err)
	}
	for _, w := range []string{`"pending"`, `"gone"`, `-action: "nuke"`, "-older-than", `-o: "yaml"`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q does not name %s", err, w)
		}
	}
	if err := run(context.Background(), []string{"list", "extra"}, envOf(nil), &out); exitCode(err) != 2 {
		t.Errorf("an argument: %v", err)
	}
}
