// Package worker turns one command from the bus into at most one platform
// action and the events that report it.
//
// For each command message the [Worker]:
//
//  1. decodes and validates the envelope and the action's params (SPEC §3);
//     an invalid command ends in one "rejected" event and is never sent;
//  2. claims the command in the key-value state store, keyed by commandId,
//     before any platform call; the claim holds the processId (the command's
//     own or one generated with uuid.New) so every retry reuses it;
//  3. calls the platform. A claim found in state "calling" (a previous
//     attempt may have reached the platform) is first looked up through the
//     Transactions API; only if the platform never saw the processId is the
//     action sent again;
//  4. for Corastone, records the orchestrationId, publishes "accepted" and
//     hands the command to tracking through the bus (package poller follows
//     it to its end); for Journey Manager, settles at once.
//
// Transient platform faults are retried by redelivery (NakWithDelay with
// exponential back-off and full jitter, never a plain Nak) within a retry
// budget; permanent ones become "failed" with the platform's code.
package worker
