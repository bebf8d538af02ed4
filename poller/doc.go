// Package poller follows accepted Corastone orchestrations until they end
// and publishes exactly one terminal event per command (SPEC §4, §8).
//
// What is being tracked lives in JetStream, not in memory: the worker
// publishes one queue.Track message per accepted orchestration on the
// tracking work-queue stream, and every replica's [Poller] fetches from the
// same durable pull consumer. A replica killed at any instant loses nothing:
// its unacknowledged messages are redelivered to another one.
//
// One cycle of [Poller.Run]:
//
//  1. fetch up to Config.FetchMax due tracking messages (waiting at most
//     Config.FetchWait, which is also the window in which due messages are
//     gathered into one cycle);
//  2. group their orchestrationIds into as few Transactions API requests as
//     possible (at most Config.BatchSize ids each, at most Config.Parallel in
//     flight) and poll;
//  3. per message: a terminal orchestration ("success" → succeeded,
//     "failed"/"dlq" → failed, with the failing step found through
//     GET /external/v1/transactions) is settled through queue.Bus.Settle,
//     which records the outcome first-writer-wins and publishes the event
//     once, and the message is acknowledged; a running one is re-scheduled
//     with NakWithDelay (Config.Interval while the orchestration is younger
//     than Config.BackoffAfter, then doubling with its age up to
//     Config.MaxInterval; 80–100 % jitter; due times rounded to 100 ms;
//     never past the deadline); once
//     the deadline has passed, that poll was the last one and the command
//     ends "timed_out"; an orchestration the platform still does not know
//     after Config.UnknownLimit polls ends "failed" with code
//     ORCHESTRATION_UNKNOWN; an element of the answer that cannot be read
//     (platform.Orchestration.Unreadable) is polled again Config.Interval
//     later while the message stays in hand, and after three such answers
//     in a row the command ends "failed" with code MALFORMED_RESPONSE and
//     the element's first bytes.
//
// A tracking message whose orchestrationId the Transactions API cannot be
// asked about (platform.ValidID: empty, over 128 characters,
// invalid UTF-8, a control character, white space or ",") never enters a
// request: its command ends "failed" with code INVALID_ORCHESTRATION_ID.
//
// A transient fault or 429 on the Transactions API pauses the whole poller:
// no request goes out and nothing is fetched before its Retry-After (or
// back-off) has passed, and after the pause one request probes the platform
// before the others follow. A Retry-After (or the back-off after a 429 or
// 503) is the client's: platform.Corastone holds every request of the
// replica to the Transactions API until it has passed, whoever met it (a
// poll, a failing-step look-up, the worker's look-up of a processId), and
// the poller's pause is that hold (Platform.Held); its own pause covers the
// other faults. The messages of the failed request stay in hand
// (kept alive with InProgress) and are polled again after the pause, so a
// short pause does not count as a delivery against their back-off or
// unknown limit. A pause that would keep them in hand longer than
// Config.MaxInterval re-schedules them with NakWithDelay past the pause
// instead, and the replica then fetches one message at a time until the
// platform answers again, so that a replica that cannot reach the platform
// does not hoard work. A permanent fault (e.g. 403 AU0002) is logged as an
// error and retried every Config.MaxInterval: tracking is never dropped.
//
// No pause outlasts Config.MaxPause (a Retry-After: the client's
// MaxRetryAfter, the same TXWORKER_MAX_RETRY_AFTER), and none holds
// back a deadline: waits with messages in hand end at their nearest
// deadline, no message is re-scheduled past its deadline, and while paused
// the poller keeps fetching (one message at a time) so that a message whose
// deadline has passed ends "timed_out" at once, without a request, with
// the last platform fault (code, message, httpStatus) in the event's error.
//
// The poller holds no goroutine, timer or map entry per tracked
// orchestration beyond the batch in hand. On shutdown it stops fetching,
// finishes the requests in flight if they answer within a short grace, and
// hands every other message back with a 100 ms NakWithDelay so another
// replica takes it at once.
package poller
