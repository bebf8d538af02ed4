package poller

import (
	"fmt"
	"slices"
	"testing"

	"github.com/txworker/txworker/queue"
)

func itemsFor(ids ...string) []*item {
	items := make([]*item, len(ids))
	for i, id := range ids {
		items[i] = &item{track: queue.Track{CommandID: "c" + id, OrchestrationID: id}}
	}
	return items
}

func seqIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("o%04d", i)
	}
	return ids
}

func TestAssemble(t *testing.T) {
	tests := []struct {
		name      string
		ids       []string
		size      int
		wantReqs  int
		wantItems int
	}{
		{"empty", nil, 50, 0, 0},
		{"one", []string{"a"}, 50, 1, 1},
		{"exactly one request", seqIDs(50), 50, 1, 50},
		{"one more", seqIDs(51), 50, 2, 51},
		{"500", seqIDs(500), 50, 10, 500},
		{"naive", seqIDs(7), 1, 7, 7},
		{"shared ids share a slot", []string{"a", "b", "a", "c", "b"}, 2, 2, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reqs := assemble(itemsFor(tt.ids...), tt.size)
			if len(reqs) != tt.wantReqs {
				t.Fatalf("requests = %d, want %d", len(reqs), tt.wantReqs)
			}
			items, seen := 0, map[string]bool{}
			for _, r := range reqs {
				if len(r.ids) > tt.size || len(r.ids) == 0 {
					t.Errorf("request with %d ids, want 1..%d", len(r.ids), tt.size)
				}
				for _, id := range r.ids {
					if seen[id] {
						t.Errorf("id %s in two requests", id)
					}
					seen[id] = true
				}
				for _, it := range r.items {
					if !slices.Contains(r.ids, it.track.OrchestrationID) {
						t.Errorf("item %s in a request without its id", it.track.OrchestrationID)
					}
				}
				items += len(r.items)
			}
			if items != tt.wantItems {
				t.Errorf("items = %d, want %d", items, tt.wantItems)
			}
		})
	}
}

func TestChunks(t *testing.T) {
	for _, n := range []int{0, 1, 9, 10, 11, 25} {
		got := chunks(seqIDs(n), 10)
		total := 0
		for _, c := range got {
			if len(c) == 0 || len(c) > 10 {
				t.Errorf("n=%d: chunk of %d", n, len(c))
			}
			total += len(c)
		}
		if want := (n + 9) / 10; len(got) != want || total != n {
			t.Errorf("n=%d: %d chunks holding %d ids, want %d holding %d", n, len(got), total, want, n)
		}
	}
}

// BenchmarkBatchAssembly groups one full fetch (500 tracking messages) into
// Transactions API requests of 50 ids.
func BenchmarkBatchAssembly(b *testing.B) {
	items := itemsFor(seqIDs(500)...)
	b.ReportAllocs()
	for b.Loop() {
		if reqs := assemble(items, MaxBatchSize); len(reqs) != 10 {
			b.Fatalf("requests = %d", len(reqs))
		}
	}
}
