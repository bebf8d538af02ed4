package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// `sandbox -demo -traces` prints each demo command's trace as a tree: the
// worker's consumer span with the platform request and the events under
// it, and the poll batches linked to the command's trace.
func TestSandboxDemoTraces(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out := &syncBuffer{}
	err := run(ctx, []string{"sandbox", "-demo", "-traces", "-nats-port", "-1", "-http-addr", "127.0.0.1:0",
		"-log-file", t.TempDir() + "/worker.log"}, envOf(nil), out)
	if err != nil {
		t.Fatalf("sandbox -demo -traces: %v\n%s", err, out.String())
	}
	text := out.String()
	_, trees, ok := strings.Cut(text, "\ntraces (5):\n")
	if !ok {
		t.Fatalf("no traces printed:\n%s", text)
	}
	for _, want := range []string{
		"command demo-cancel-offering trace ",
		"\n  process txworker.cmd.cancel-offering  [consumer ",
		"\n    PUT cancel-offering  [client ",
		"\n    send txworker.evt.cancel-offering.accepted  [producer ",
		"\n    send txworker.evt.cancel-offering.succeeded  [producer ",
		"\n  linked:\n    poll orchestrations  [consumer ",
		"\n      GET orchestrations  [client ",
		"\n    POST cancel-txn  [client ",
	} {
		if !strings.Contains(trees, want) {
			t.Errorf("trees lack %q:\n%s", want, trees)
		}
	}
	if strings.Contains(trees, "john.doe@example.com") {
		t.Error("a signer's e-mail address is in a span")
	}
}
