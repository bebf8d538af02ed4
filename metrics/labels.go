package metrics

import "strconv"

// Label values shared with the callers. Every label of every family draws from
// a closed set; the sets are listed by the unexported functions below.
const (
	// ActionUnknown is the action label of a command whose action is not one
	// of the five known actions.
	ActionUnknown = "unknown"
	// Other is the fallback value of every closed label set except actions.
	Other = "other"

	// Rejection reasons (CommandRejected).
	ReasonMalformed       = "malformed"         // body is not one JSON object
	ReasonTooLarge        = "too_large"         // body larger than 64 KiB
	ReasonUnknownAction   = "unknown_action"    // subject names no known action
	ReasonInvalidParams   = "invalid_params"    // params fail the action's rules
	ReasonInvalidEnvelope = "invalid_envelope"  // commandId, processId or deadline invalid
	ReasonProcessIDInUse  = "process_id_in_use" // processId already used by another commandId

	// Duplicate kinds (DuplicateDropped).
	KindCommand = "command" // a command already claimed by an earlier delivery
	KindEvent   = "event"   // an event the stream's duplicate window dropped
	// KindDifferent is a different command under a commandId already used:
	// not executed, answered with a "duplicate" event.
	KindDifferent = "different"

	// Internal error kinds (InternalError).
	FaultPanic  = "panic"  // a panic recovered while handling a delivery
	FaultPoison = "poison" // a command ended failed INTERNAL_ERROR: the worker could not take it through

	// Retry stages (Retry).
	StageAction  = "action"  // the platform action call
	StageLookup  = "lookup"  // looking a processId up after a crash
	StagePoll    = "poll"    // the batched orchestrations poll
	StageDetail  = "detail"  // the transactions detail lookup of a failed orchestration
	StagePublish = "publish" // publishing an event or tracking message

	// JetStream resources a replica depends on (SetDependencyReady).
	ResourceCommandsStream   = "commands_stream"   // the commands stream
	ResourceEventsStream     = "events_stream"     // the events stream
	ResourceTrackingStream   = "tracking_stream"   // the tracking stream
	ResourceCommandsConsumer = "commands_consumer" // the "worker" consumer of the commands stream
	ResourceTrackingConsumer = "tracking_consumer" // the "poller" consumer of the tracking stream
	ResourceStateBucket      = "state_bucket"      // the key-value bucket of the claims

	// CodeError is the code label of a platform request that got no HTTP answer.
	CodeError = "error"
)

func actionValues() []string {
	return []string{"cancel-offering", "revert-to-active", "remove-service-provider", "reject-asset", "cancel-txn"}
}

// terminalOutcomes are the outcomes that end a command (SPEC §4).
func terminalOutcomes() []string {
	return []string{"succeeded", "failed", "rejected", "timed_out"}
}

// eventOutcomes are the outcomes an event can carry: accepted and duplicate plus the terminal ones;
// "duplicate" is the non-terminal answer to a different command under a used commandId.
func eventOutcomes() []string {
	return append([]string{"accepted", "duplicate"}, terminalOutcomes()...)
}

func reasonValues() []string {
	return []string{ReasonMalformed, ReasonTooLarge, ReasonUnknownAction, ReasonInvalidParams, ReasonInvalidEnvelope,
		ReasonProcessIDInUse}
}

func kindValues() []string { return []string{KindCommand, KindEvent, KindDifferent} }

func faultValues() []string { return []string{FaultPanic, FaultPoison} }

func stageValues() []string {
	return []string{StageAction, StageLookup, StagePoll, StageDetail, StagePublish}
}

func resourceValues() []string {
	return []string{ResourceCommandsStream, ResourceEventsStream, ResourceTrackingStream,
		ResourceCommandsConsumer, ResourceTrackingConsumer, ResourceStateBucket}
}

func platformValues() []string { return []string{"corastone", "jm"} }

// endpointsOf lists the endpoint label values each platform uses.
func endpointsOf(platform string) []string {
	switch platform {
	case "corastone":
		return []string{"cancel-offering", "revert-to-active", "remove-service-provider", "reject-asset",
			"orchestrations", "transactions", "sequencer", "token"}
	case "jm":
		return []string{"cancel-txn", "jm-query", "token"}
	}
	return nil
}

// apisOf lists the APIs of each platform that hold their requests after a Retry-After (the api
// label of txworker_platform_held; platform.APIsOf).
func apisOf(platform string) []string {
	switch platform {
	case "corastone":
		return []string{"actions", "transactions", "token", "sequencer"}
	case "jm":
		return []string{"txn", "token"}
	}
	return nil
}

func endpointValues() []string {
	return append(endpointsOf("corastone"), "cancel-txn", "jm-query")
}

// errorCodesOf lists the documented error codes of each platform
// (reference/platform-apis.md §4 and §6) plus the worker's MALFORMED_RESPONSE.
func errorCodesOf(platform string) []string {
	switch platform {
	case "corastone":
		return []string{"GN0002", "GN0004", "GN0005", "AU0001", "AU0002", "AU0003",
			"IS0002", "IS0009", "IS0010", "IS0012", "IS0013", "IS0031", "IS0062", "IS0099", "IS0117",
			"OG0001", "OG0004", "OG0005", "SP0004", "SP0005", "AS0005", "OG0013", "MALFORMED_RESPONSE"}
	case "jm":
		return []string{"internalError", "submitKeyNotSpecified", "txnAlreadyFinished", "txnNotFound",
			"unableToResolvePortal", "MALFORMED_RESPONSE"}
	}
	return nil
}

func errorCodeValues() []string { return append(errorCodesOf("corastone"), errorCodesOf("jm")...) }

// set is a closed label set; its zero value holds nothing.
type set map[string]struct{}

func newSet(values ...[]string) set {
	s := set{}
	for _, vs := range values {
		for _, v := range vs {
			s[v] = struct{}{}
		}
	}
	return s
}

// or returns v if it is in the set, else fallback.
func (s set) or(v, fallback string) string {
	if _, ok := s[v]; ok {
		return v
	}
	return fallback
}

// statusCode is the code label of a platform request: the HTTP status, or
// CodeError when there was no (valid) HTTP answer.
func statusCode(status int) string {
	if status < 100 || status > 599 {
		return CodeError
	}
	return strconv.Itoa(status)
}
