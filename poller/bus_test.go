package poller_test

import (
	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/poller"
	"github.com/txworker/txworker/queue"
)

// The service's bus, claim store and Corastone client are what the poller
// needs.
var (
	_ poller.Bus      = (*queue.Bus)(nil)
	_ poller.Claims   = (*queue.Claims)(nil)
	_ poller.Tracker  = (*queue.Bus)(nil)
	_ poller.Settler  = (*queue.Bus)(nil)
	_ poller.Claims   = (*queue.Claims)(nil)
	_ poller.Platform = (*platform.Corastone)(nil)
)
