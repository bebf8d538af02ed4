package worker

import (
	"context"

	"go.uber.org/zap"

	"github.com/txworker/txworker/queue"
)

// OrchestrationIndex records which command tracks an orchestration, for
// the Sequencer hints (TXWORKER_TRACKING_HINTS); *queue.Hints is one.
type OrchestrationIndex interface {
	IndexOrchestration(ctx context.Context, orchestrationID, commandID string) error
}

// IndexOrchestrations makes the worker record every accepted command's
// orchestration in ix before handing it to tracking (hints mode). Call it
// before Run.
func (w *Worker) IndexOrchestrations(ix OrchestrationIndex) { w.index = ix }

// indexForHints records cl's orchestration in the index, in hints mode. A
// failure only loses the hint: the id poller still tracks the command.
func (h *handling) indexForHints(ctx context.Context, cl *queue.Claim) {
	ix := h.w.index
	if ix == nil || cl.OrchestrationID == "" {
		return
	}
	if err := ix.IndexOrchestration(ctx, cl.OrchestrationID, cl.CommandID); err != nil {
		h.log.Warn("orchestration not indexed for hints: the id poller tracks it", zap.Error(err))
	}
}
