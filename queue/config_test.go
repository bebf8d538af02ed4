package queue_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/txworker/txworker/queue"
)

func TestConfigValidate(t *testing.T) {
	file := filepath.Join(t.TempDir(), "user.creds")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  queue.Config
		want []string // substrings of the error; none: valid
	}{
		{name: "zero value is valid", cfg: queue.Config{}},
		{name: "full", cfg: queue.Config{URL: "tls://a:4222, nats://b:4222", CredsFile: file, TLSCA: file,
			TLSCert: file, TLSKey: file, Prefix: "acme.tx-worker", Replicas: 3,
			DuplicateWindow: time.Hour, AckWait: 5 * time.Minute, TrackingAckWait: 10 * time.Second, StateTTL: 48 * time.Hour}},
		{name: "tracking ack wait of 1s", cfg: queue.Config{TrackingAckWait: time.Second}},
		{name: "tracking ack wait under 1s", cfg: queue.Config{TrackingAckWait: 500 * time.Millisecond},
			want: []string{"tracking ack wait must be at least 1s, not 500ms"}},
		{name: "negative tracking ack wait", cfg: queue.Config{TrackingAckWait: -time.Second},
			want: []string{"tracking ack wait must be at least 1s, not -1s"}},
		{name: "host only url", cfg: queue.Config{URL: "localhost:4222"}},
		{name: "everything wrong at once", cfg: queue.Config{
			URL: "http://user:hunter2@x", CredsFile: "/nonexistent/creds", Token: "hunter2", TLSCert: file,
			Prefix: "a..b", Replicas: 7, DuplicateWindow: 8 * 24 * time.Hour, AckWait: time.Millisecond,
			StateTTL: time.Hour,
		}, want: []string{
			`nats url #1: scheme "http"`, "mutually exclusive", "tls cert and tls key", "creds file: cannot be read",
			"subject prefix: has an empty token", "replicas must be 1 to 5, not 7", "duplicate window",
			"ack wait must be at least 1s", "state ttl",
		}},
		{name: "wildcard prefix", cfg: queue.Config{Prefix: "tx.*"}, want: []string{"wildcard"}},
		{name: "directory as file", cfg: queue.Config{TLSCA: t.TempDir()}, want: []string{"tls ca: is a directory"}},
		{name: "url without host", cfg: queue.Config{URL: "nats://:4222"}, want: []string{"has no host"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate: nil error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q shows a secret", err)
			}
		})
	}
}
