package main

import (
	"context"
	"regexp"
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

// plainPub is a `nats pub` of a subject without --jetstream.
var plainPub = regexp.MustCompile(`nats pub\s+[^\s-]\S*`)

// The banner's publishing examples wait for JetStream's acknowledgement; a
// plain `nats pub` (core NATS) says "Published" even when no stream stores
// the command.
func TestSandboxBannerSuggestsAcknowledgedPublishes(t *testing.T) {
	banner := sandboxBanner("nats://127.0.0.1:4222", "http://127.0.0.1:9000", "127.0.0.1:8080", "/tmp/w.log")
	if m := plainPub.FindString(banner); m != "" {
		t.Errorf("banner suggests a publish that nothing acknowledges: %q", m)
	}
	for _, want := range []string{"nats pub --jetstream -s nats://127.0.0.1:4222 txworker.cmd.cancel-txn", "nats req", "submit -nats-url nats://127.0.0.1:4222 -wait"} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
}
