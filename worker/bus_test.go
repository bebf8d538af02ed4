package worker

import (
	"slices"
	"testing"

	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/queue"
)

// queue checks event subjects against its own list of action tokens (it
// imports no other package of the module); it must be platform's list.
func TestQueueActionTokensArePlatformActions(t *testing.T) {
	var names []string
	for _, a := range platform.Actions() {
		names = append(names, a.Name)
	}
	if !slices.Equal(slices.Sorted(slices.Values(names)), slices.Sorted(slices.Values(queue.ActionTokens))) {
		t.Errorf("queue.ActionTokens %v, platform actions %v", queue.ActionTokens, names)
	}
}
