package sandbox

import (
	"regexp"
	"strings"
	"testing"
)

// plainPub is a `nats pub` of a subject without --jetstream.
var plainPub = regexp.MustCompile(`nats pub\s+[^\s-]\S*`)

// The banner's publishing examples wait for JetStream's acknowledgement; a
// plain `nats pub` (core NATS) says "Published" even when no stream stores
// the command.
func TestSandboxBannerSuggestsAcknowledgedPublishes(t *testing.T) {
	banner := banner("nats://127.0.0.1:4222", "http://127.0.0.1:9000", "127.0.0.1:8080", "/tmp/w.log")
	if m := plainPub.FindString(banner); m != "" {
		t.Errorf("banner suggests a publish that nothing acknowledges: %q", m)
	}
	for _, want := range []string{"nats pub --jetstream -s nats://127.0.0.1:4222 txworker.cmd.cancel-txn", "nats req", "submit -nats-url nats://127.0.0.1:4222 -wait"} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
}
