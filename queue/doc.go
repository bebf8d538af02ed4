// Package queue is txworker's side of NATS JetStream: it connects (reconnecting
// forever), provisions the streams, consumers and key-value bucket the service
// needs, defines the wire types that travel on the bus (Command, Event, Track),
// publishes events and tracking messages with Nats-Msg-Id dedupe, keeps the
// per-command state (Claim) in a key-value bucket with compare-and-set updates,
// settles each command's terminal outcome exactly once (Bus.Settle), and runs
// handlers over pull consumers with bounded concurrency (Consume).
//
// Names are derived from the subject prefix (default "txworker") and
// P = upper(prefix) with every character outside [A-Z0-9] replaced by '_':
//
//	stream {P}_COMMANDS   subjects {prefix}.cmd.>    work queue, max message 1 MiB, dedupe window,
//	                      at most 1,000,000 messages and 1 GiB, discard new
//	  consumer "worker"   explicit ack, AckWait (default 30s), no MaxDeliver, MaxAckPending 4096
//	stream {P}_EVENTS     subjects {prefix}.evt.>    limits, MaxAge 7d, at most 2 GiB, discard old,
//	                      dedupe window
//	stream {P}_TRACKING   subjects {prefix}.track.>  work queue, dedupe window,
//	                      at most 1,000,000 messages and 1 GiB, discard new
//	  consumer "poller"   explicit ack, TrackingAckWait (default 15s), no MaxDeliver, MaxAckPending 1,000,000
//	KV bucket {P}_STATE   history 1, TTL (default 7d); key base64url(commandId)
//
// Consumers inherit their stream's replicas (Config.Replicas). A message a
// replica holds comes back to another one its consumer's ack wait after the
// replica died (no ack, no InProgress); the worker and the poller keep the
// messages they work on alive with InProgress every third of it, so work
// that takes longer is not redelivered.
//
// Messages that a handler answers with NakWithDelay stay pending on their
// consumer until redelivered, so the tracking consumer's MaxAckPending bounds
// how many orchestrations can be tracked at once.
//
// A full work-queue stream refuses a publish (discard new) rather than drop
// the oldest unprocessed message: the producer of a command, or the worker
// publishing a tracking message, gets an error and no command is lost
// silently. The events stream is a log and drops its oldest events instead.
//
// Exactly one terminal event per command rests on three things together:
// the first terminal outcome written to the claim wins (Settle's CAS loop),
// the event is always built from the stored claim, and its Nats-Msg-Id is
// "{commandId}:{outcome}", so a re-publish after a crash inside the
// duplicate window is dropped by the server.
package queue
