package worker

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/queue"
)

// memIndex records IndexOrchestration calls; err fails them.
type memIndex struct {
	mu    sync.Mutex
	index map[string]string
	err   error
}

func (m *memIndex) IndexOrchestration(_ context.Context, orchestrationID, commandID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	m.index[orchestrationID] = commandID
	return nil
}

// TestHintsIndexBeforeTracking: in hints mode the accepted command's
// orchestration is indexed before the tracking message is published; a
// failing index loses only the hint (the command is still tracked); with
// hints off nothing is indexed.
func TestHintsIndexBeforeTracking(t *testing.T) {
	for _, tc := range []struct {
		name    string
		on      bool
		err     error
		indexed bool
	}{
		{"hints on: indexed", true, nil, true},
		{"hints on, index fails: still tracked", true, errors.New("bucket unavailable"), false},
		{"hints off: not indexed", false, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, Config{MaxAttempts: 3, RetryBase: 10 * time.Millisecond, RetryMax: 100 * time.Millisecond})
			r.cs.answer = func(_ int, pid string) (platform.Accepted, error) {
				return platform.Accepted{OrchestrationID: "orch-" + pid}, nil
			}
			ix := &memIndex{index: map[string]string{}, err: tc.err}
			indexedFirst := false
			r.bus.trackErr = func(tr queue.Track) error {
				ix.mu.Lock()
				defer ix.mu.Unlock()
				indexedFirst = ix.index[tr.OrchestrationID] == tr.CommandID
				return nil
			}
			if tc.on {
				r.w.IndexOrchestrations(ix)
			}
			m := r.msg("cancel-offering", offering("cmd-1", ""))
			if got, _ := r.run(m, 1); got != "ack" {
				t.Fatalf("disposition %s, want ack (handed to tracking)", got)
			}
			if len(r.bus.tracks) != 1 {
				t.Fatalf("%d tracking messages, want 1", len(r.bus.tracks))
			}
			orch := r.bus.tracks[0].OrchestrationID
			if got := ix.index[orch] == "cmd-1"; got != tc.indexed {
				t.Errorf("indexed %v (%v), want %v", got, ix.index, tc.indexed)
			}
			if tc.indexed && !indexedFirst {
				t.Error("the tracking message was published before the index entry was written")
			}
		})
	}
}
