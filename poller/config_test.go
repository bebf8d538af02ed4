package poller

import (
	"strings"
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	c := Config{}.withDefaults()
	want := Config{Source: "txworker", Interval: 2 * time.Second, BackoffAfter: 20 * time.Second, MaxInterval: 30 * time.Second,
		BatchSize: 50, FetchMax: 500, FetchWait: 250 * time.Millisecond, Parallel: 4, UnknownLimit: 10, MaxPause: 5 * time.Minute}
	if c != want {
		t.Fatalf("defaults = %+v, want %+v", c, want)
	}
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("zero config: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the error; nil: valid
	}{
		{"defaults", Config{}, nil},
		{"naive", Config{Naive: true, Interval: time.Second, MaxInterval: time.Second}, nil},
		{"negative durations", Config{Interval: -1}, []string{"negative"}},
		{"negative max pause", Config{MaxPause: -time.Second}, []string{"negative"}},
		{"max below interval", Config{Interval: time.Minute, MaxInterval: time.Second}, []string{"max interval"}},
		{"batch too large", Config{BatchSize: 51}, []string{"batch size 51"}},
		{"every problem at once", Config{BatchSize: -1, FetchMax: -2, Parallel: -3, UnknownLimit: -4},
			[]string{"batch size -1", "fetch max -2", "parallel -3", "unknown limit -4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate() = nil, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to mention %q", err, w)
				}
			}
		})
	}
}
