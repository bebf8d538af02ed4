package platform

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// answerOf is the *Error of a status answered with a Retry-After of ra (0: none).
func answerOf(status int, ra time.Duration) *Error {
	return &Error{Platform: PlatformCorastone, Endpoint: endpointOrchestrations, HTTPStatus: status, RetryAfter: ra, Verdict: Transient}
}

// TestGateHold checks how long a gate holds after a run of answers: a Retry-After as given
// (jitter on top, never past the cap), a later shorter one never shortening a longer hold, the
// back-off of consecutive 429/503 answers without one, and no hold from other answers.
func TestGateHold(t *testing.T) {
	type ans struct {
		status int
		ra     time.Duration
	}
	tests := []struct {
		name    string
		cap     time.Duration
		jitter  bool // at its top (a quarter), else none
		answers []ans
		want    time.Duration
	}{
		{"429 with Retry-After", 0, false, []ans{{429, 3 * time.Second}}, 3 * time.Second},
		{"429 with Retry-After and jitter", 0, true, []ans{{429, 4 * time.Second}}, 5 * time.Second},
		{"503 with Retry-After", 0, false, []ans{{503, 7 * time.Second}}, 7 * time.Second},
		{"a later shorter Retry-After does not shorten", 0, false, []ans{{429, 10 * time.Second}, {429, time.Second}}, 10 * time.Second},
		{"a later longer Retry-After extends", 0, false, []ans{{429, time.Second}, {429, 10 * time.Second}}, 10 * time.Second},
		{"Retry-After capped at MaxRetryAfter", 2 * time.Second, false, []ans{{429, time.Hour}}, 2 * time.Second},
		{"jitter never passes the cap", 2 * time.Second, true, []ans{{429, 1900 * time.Millisecond}}, 2 * time.Second},
		{"429 without Retry-After: back-off", 0, false, []ans{{429, 0}}, holdBase},
		{"consecutive 503s double it", 0, false, []ans{{503, 0}, {503, 0}, {503, 0}}, 4 * holdBase},
		{"the back-off is bounded", 0, false, []ans{{503, 0}, {503, 0}, {503, 0}, {503, 0}, {503, 0}, {503, 0}, {503, 0}, {503, 0}, {503, 0}}, holdMax},
		{"the back-off is capped too", 3 * time.Second, false, []ans{{503, 0}, {503, 0}, {503, 0}, {503, 0}}, 3 * time.Second},
		{"an answer in between restarts the back-off, not the hold", 0, false, []ans{{503, 0}, {503, 0}, {200, 0}, {503, 0}}, 2 * holdBase},
		{"a 2xx in flight does not end a hold", 0, false, []ans{{429, 5 * time.Second}, {200, 0}}, 5 * time.Second},
		{"502 does not hold", 0, false, []ans{{502, 0}}, 0},
		{"504 with Retry-After does not hold", 0, false, []ans{{504, 5 * time.Second}}, 0},
		{"500 does not hold", 0, false, []ans{{500, 0}}, 0},
	}
	t0 := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGate(PlatformCorastone, APITransactions, tt.cap, nil)
			g.now = func() time.Time { return t0 }
			g.rand = func(n int64) int64 {
				if tt.jitter {
					return n - 1
				}
				return 0
			}
			for _, a := range tt.answers {
				var e *Error
				if a.status >= 300 {
					e = answerOf(a.status, a.ra)
				}
				g.observe(a.status, e)
			}
			got, cause := g.remaining()
			if got != tt.want {
				t.Errorf("held %s, want %s", got, tt.want)
			}
			if (cause != nil) != (tt.want > 0) {
				t.Errorf("cause %v with hold %s", cause, got)
			}
		})
	}
}

// TestGateConcurrentCallers: while a gate holds, no caller gets through before the hold's end,
// whoever it is; callers whose deadline comes first fail at once with a Transient ErrHeld error
// carrying the cause and what is left of the hold; concurrent answers never shorten the hold.
func TestGateConcurrentCallers(t *testing.T) {
	obs := &holdRecorder{}
	g := newGate(PlatformCorastone, APITransactions, 0, obs)
	g.rand = func(int64) int64 { return 0 }
	const hold = 400 * time.Millisecond
	g.observe(429, answerOf(429, hold))
	d, _ := g.remaining()
	end := time.Now().Add(d)

	var wg sync.WaitGroup
	var mu sync.Mutex
	var early []string
	for i := range 24 {
		wg.Go(func() {
			switch i % 3 {
			case 0: // waits it out: its deadline allows
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				if err := g.admit(ctx, endpointOrchestrations, time.Second); err != nil {
					mu.Lock()
					early = append(early, "waiter failed: "+err.Error())
					mu.Unlock()
				} else if time.Now().Before(end) {
					mu.Lock()
					early = append(early, "a waiter got through before the hold's end")
					mu.Unlock()
				}
			case 1: // its deadline comes first: ends at once, nothing sent
				ctx, cancel := context.WithTimeout(context.Background(), hold/8)
				defer cancel()
				err := g.admit(ctx, endpointTransactions, time.Second)
				var e *Error
				if !errors.As(err, &e) || !errors.Is(err, ErrHeld) || e.Verdict != Transient || e.HTTPStatus != 429 ||
					e.RetryAfter <= 0 || e.RetryAfter > hold || e.Endpoint != endpointTransactions {
					mu.Lock()
					early = append(early, "short deadline: got "+errorText(err))
					mu.Unlock()
				}
			case 2: // answers arriving meanwhile (requests that were in flight): shorter ones
				g.observe(429, answerOf(429, time.Millisecond))
				g.observe(200, nil)
			}
		})
	}
	wg.Wait()
	for _, e := range early {
		t.Error(e)
	}
	if !time.Now().After(end) {
		t.Error("every caller returned before the hold's end")
	}
	// The hold's end is reported (txworker_platform_held back to 0).
	deadline := time.Now().Add(10 * time.Second)
	for !obs.ended() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := obs.events(); len(got) != 2 || !got[0] || got[1] {
		t.Errorf("ObserveHold calls %v, want [true false]", got)
	}
}

// TestGateContextCancelled: a caller cancelled while it waits is released at once (a held,
// Transient error wrapping context.Canceled).
func TestGateContextCancelled(t *testing.T) {
	g := newGate(JourneyManager, APITxn, 0, nil)
	g.observe(503, &Error{Platform: JourneyManager, Endpoint: "cancel-txn", HTTPStatus: 503, RetryAfter: time.Minute, Verdict: Transient})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.admit(ctx, endpointJMQuery, 2*time.Minute) }()
	cancel()
	err := <-done
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrHeld) || !errors.Is(err, context.Canceled) || e.Verdict != Transient || e.Code != "" {
		t.Errorf("got %v", err)
	}
}

func errorText(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

// holdRecorder is an Observer that records ObserveHold calls.
type holdRecorder struct {
	nopObserver
	mu   sync.Mutex
	held []bool
}

func (h *holdRecorder) ObserveHold(_, _ string, held bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.held = append(h.held, held)
}

func (h *holdRecorder) events() []bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]bool(nil), h.held...)
}

func (h *holdRecorder) ended() bool {
	e := h.events()
	return len(e) > 0 && !e[len(e)-1]
}
