package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestTrackingHintsSetting(t *testing.T) {
	base := map[string]string{"TXWORKER_PLATFORM_URL": "https://platform.example", "TXWORKER_CLIENT_ID": "id", "TXWORKER_CLIENT_SECRET": "s"}
	for _, tc := range []struct {
		name string
		env  string
		args []string
		want string
		bad  bool
	}{
		{"default: off", "", nil, "", false},
		{"environment", "sequencer", nil, "sequencer", false},
		{"flag", "", []string{"-tracking-hints", "sequencer"}, "sequencer", false},
		{"unknown value", "webhooks", nil, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			if tc.env != "" {
				env["TXWORKER_TRACKING_HINTS"] = tc.env
			}
			fs := newFlagSet("t", &bytes.Buffer{})
			v := register(fs, envOf(env))
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			sc, err := resolve(v)
			if tc.bad {
				if err == nil || !strings.Contains(err.Error(), "TXWORKER_TRACKING_HINTS") {
					t.Fatalf("resolve: %v, want a TXWORKER_TRACKING_HINTS problem", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sc.TrackingHints != tc.want {
				t.Errorf("TrackingHints %q, want %q", sc.TrackingHints, tc.want)
			}
		})
	}
}
