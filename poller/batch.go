package poller

import (
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/txworker/txworker/queue"
)

// item is one tracking message of the batch in hand.
type item struct {
	msg   jetstream.Msg
	track queue.Track
	polls int // deliveries so far, this one included: the polls made for the command
	// detailFaults counts transient faults while looking up the failing step.
	detailFaults int
	// unreadable counts the answers in a row, in this delivery, whose
	// element for the orchestration could not be read.
	unreadable int
	// lastFault is the platform error of the last request about the item
	// when that request failed (nil once one is answered): it goes into a
	// timed_out event.
	lastFault error
	// polled reports that a request about the item was answered in this
	// delivery.
	polled bool
	// done is set once the message is acknowledged, re-scheduled, handed
	// back or terminated; the keep-alive skips it from then on.
	done atomic.Bool
}

// fields are the correlation fields of every log line about the item.
func (it *item) fields(more ...zap.Field) []zap.Field {
	return append([]zap.Field{
		zap.String("command_id", it.track.CommandID),
		zap.String("process_id", it.track.ProcessID),
		zap.String("orchestration_id", it.track.OrchestrationID),
		zap.String("action", it.track.Action),
	}, more...)
}

// request is one Transactions API call: up to BatchSize distinct
// orchestrationIds and the messages waiting for their answer.
type request struct {
	ids   []string
	items []*item
}

// assemble groups items into as few requests as possible of at most size
// distinct orchestrationIds each, in the items' order. Messages that share an
// orchestrationId share its slot.
func assemble(items []*item, size int) []request {
	reqs := make([]request, 0, (len(items)+size-1)/size)
	at := make(map[string]int, len(items)) // orchestrationId → request index
	for _, it := range items {
		id := it.track.OrchestrationID
		if i, ok := at[id]; ok {
			reqs[i].items = append(reqs[i].items, it)
			continue
		}
		if len(reqs) == 0 || len(reqs[len(reqs)-1].ids) == size {
			n := min(size, len(items)) // ids of the request at most
			reqs = append(reqs, request{ids: make([]string, 0, n), items: make([]*item, 0, n)})
		}
		last := len(reqs) - 1
		reqs[last].ids = append(reqs[last].ids, id)
		reqs[last].items = append(reqs[last].items, it)
		at[id] = last
	}
	return reqs
}

// chunks splits ids into slices of at most n.
func chunks(ids []string, n int) [][]string {
	out := make([][]string, 0, (len(ids)+n-1)/n)
	for len(ids) > n {
		out = append(out, ids[:n:n])
		ids = ids[n:]
	}
	if len(ids) > 0 {
		out = append(out, ids)
	}
	return out
}
