package backoff

import (
	"context"
	"testing"
	"time"
)

func TestStep(t *testing.T) {
	tests := []struct {
		name      string
		base, max time.Duration
		attempt   int
		want      time.Duration
	}{
		{"first", time.Second, 10 * time.Second, 1, time.Second},
		{"attempt 0 counts as the first", time.Second, 10 * time.Second, 0, time.Second},
		{"doubled", time.Second, 10 * time.Second, 3, 4 * time.Second},
		{"capped", time.Second, 10 * time.Second, 5, 10 * time.Second},
		{"capped far out, no overflow", time.Second, 10 * time.Second, 1 << 30, 10 * time.Second},
		{"max below base caps the first", time.Second, 300 * time.Millisecond, 1, 300 * time.Millisecond},
		{"zero base", 0, time.Second, 7, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (Policy{Base: tt.base, Max: tt.max}).Step(tt.attempt); got != tt.want {
				t.Errorf("Step(%d) = %s, want %s", tt.attempt, got, tt.want)
			}
		})
	}
}

func TestDelayRange(t *testing.T) {
	bottom := func(int64) int64 { return 0 }
	top := func(n int64) int64 { return n - 1 }
	tests := []struct {
		name     string
		p        Policy
		attempt  int
		lo, high time.Duration
	}{
		{"equal jitter", Policy{Base: time.Second, Max: 10 * time.Second, Floor: 2}, 2, time.Second, 2 * time.Second},
		{"a tenth fixed", Policy{Base: 200 * time.Millisecond, Max: 10 * time.Second, Floor: 10}, 1, 20 * time.Millisecond, 200 * time.Millisecond},
		{"a third fixed, capped", Policy{Base: 150 * time.Millisecond, Max: 7500 * time.Millisecond, Floor: 3}, 20, 2500 * time.Millisecond, 7500 * time.Millisecond},
		{"no floor", Policy{Base: time.Second, Max: time.Second}, 1, 0, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.p
			p.Rand = bottom
			if got := p.Delay(tt.attempt); got != tt.lo {
				t.Errorf("lowest Delay(%d) = %s, want %s", tt.attempt, got, tt.lo)
			}
			p.Rand = top
			if got := p.Delay(tt.attempt); got != tt.high {
				t.Errorf("highest Delay(%d) = %s, want %s", tt.attempt, got, tt.high)
			}
			p.Rand = nil // math/rand/v2: always within the range
			for range 1000 {
				if got := p.Delay(tt.attempt); got < tt.lo || got > tt.high {
					t.Fatalf("Delay(%d) = %s, want within [%s, %s]", tt.attempt, got, tt.lo, tt.high)
				}
			}
		})
	}
}

func TestSleep(t *testing.T) {
	if !Sleep(context.Background(), time.Millisecond) {
		t.Error("Sleep with a live context reported its end")
	}
	if !Sleep(context.Background(), 0) {
		t.Error("Sleep(0) with a live context reported its end")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Error("Sleep with an ended context reported the wait passed")
	}
	if Sleep(ctx, 0) {
		t.Error("Sleep(0) with an ended context reported the wait passed")
	}
}
