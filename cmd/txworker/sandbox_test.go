package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// The newcomer's first command: every documented example goes through.
func TestSandboxDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out := &syncBuffer{}
	err := run(ctx, []string{"sandbox", "-demo", "-nats-port", "-1", "-http-addr", "127.0.0.1:0",
		"-log-file", t.TempDir() + "/worker.log"}, envOf(nil), out)
	if err != nil {
		t.Fatalf("sandbox -demo: %v\n%s", err, out.String())
	}
	for _, action := range []string{"cancel-offering", "revert-to-active", "remove-service-provider", "reject-asset", "cancel-txn"} {
		if !strings.Contains(out.String(), "succeeded  "+action) {
			t.Errorf("no succeeded event printed for %s", action)
		}
	}
	if !strings.Contains(out.String(), "all 5 example commands ended as expected") {
		t.Errorf("no closing line:\n%s", out.String())
	}
}
