package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestTrackingAckWaitSetting: TXWORKER_TRACKING_ACK_WAIT / -tracking-ack-wait
// reaches queue.Config.TrackingAckWait (default 15s), a flag wins over the
// environment, and a value under 1s or not a duration is refused, naming it.
func TestTrackingAckWaitSetting(t *testing.T) {
	base := map[string]string{
		"TXWORKER_PLATFORM_URL": "https://platform.example", "TXWORKER_CLIENT_ID": "id", "TXWORKER_CLIENT_SECRET": "s",
	}
	tests := []struct {
		name    string
		env     string // TXWORKER_TRACKING_ACK_WAIT; "" unset
		args    []string
		want    time.Duration
		wantErr string
	}{
		{name: "default", want: 15 * time.Second},
		{name: "environment", env: "5s", want: 5 * time.Second},
		{name: "flag wins", env: "5s", args: []string{"-tracking-ack-wait", "3s"}, want: 3 * time.Second},
		{name: "the floor", env: "1s", want: time.Second},
		{name: "under 1s", env: "500ms", wantErr: "tracking ack wait must be at least 1s, not 500ms"},
		{name: "not a duration", env: "soon", wantErr: "TXWORKER_TRACKING_ACK_WAIT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			if tt.env != "" {
				env["TXWORKER_TRACKING_ACK_WAIT"] = tt.env
			}
			fs := newFlagSet("t", &bytes.Buffer{})
			v := register(fs, envOf(env))
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			sc, err := resolve(v)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("resolve: %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sc.Queue.TrackingAckWait != tt.want {
				t.Errorf("tracking ack wait %s, want %s", sc.Queue.TrackingAckWait, tt.want)
			}
			if sc.Queue.AckWait != 30*time.Second {
				t.Errorf("command ack wait %s changed with it, want 30s", sc.Queue.AckWait)
			}
		})
	}
}
