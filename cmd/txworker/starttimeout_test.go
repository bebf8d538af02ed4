package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/txworker/txworker/queue"
)

// TXWORKER_START_TIMEOUT (or -start-timeout) reaches the queue's start-up
// budget; it defaults to 2m, and a value that is not a positive duration
// (or below 1s) is a configuration problem named as such.
func TestStartTimeoutReachesTheQueue(t *testing.T) {
	base := map[string]string{
		"TXWORKER_PLATFORM_URL": "https://platform.example", "TXWORKER_CLIENT_ID": "id", "TXWORKER_CLIENT_SECRET": "s",
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{k: v}
		for k, v := range base {
			m[k] = v
		}
		return m
	}
	for _, tt := range []struct {
		name  string
		env   map[string]string
		flags []string
		want  time.Duration
		err   string
	}{
		{name: "default", env: base, want: queue.DefaultStartTimeout},
		{name: "environment", env: with("TXWORKER_START_TIMEOUT", "5m"), want: 5 * time.Minute},
		{name: "flag wins", env: with("TXWORKER_START_TIMEOUT", "5m"), flags: []string{"-start-timeout", "45s"}, want: 45 * time.Second},
		{name: "not a duration", env: with("TXWORKER_START_TIMEOUT", "soon"), err: "TXWORKER_START_TIMEOUT"},
		{name: "below 1s", env: with("TXWORKER_START_TIMEOUT", "10ms"), err: "start timeout must be at least 1s"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFlagSet("t", &bytes.Buffer{})
			v := register(fs, envOf(tt.env))
			if err := fs.Parse(tt.flags); err != nil {
				t.Fatal(err)
			}
			sc, err := resolve(v)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("resolve: %v, want an error naming %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := sc.Queue.StartTimeout
			if got == 0 {
				got = queue.DefaultStartTimeout
			}
			if got != tt.want {
				t.Errorf("start timeout %s, want %s", got, tt.want)
			}
		})
	}
}
