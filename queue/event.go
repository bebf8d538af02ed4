package queue

import (
	"fmt"
	"slices"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// Outcomes of a command (the last token of an event subject). Accepted is the
// only non-terminal one.
const (
	OutcomeAccepted  = "accepted"
	OutcomeSucceeded = "succeeded"
	OutcomeFailed    = "failed"
	OutcomeRejected  = "rejected"
	OutcomeTimedOut  = "timed_out"
)

// ActionTokens are the five action tokens of SPEC §2, the only ones besides
// ActionUnknown that an event subject may carry. (The platform package
// holds the actions themselves; a worker test holds the two lists equal,
// since queue imports no other package of the module.)
var ActionTokens = []string{"cancel-offering", "revert-to-active", "remove-service-provider", "reject-asset", "cancel-txn"}

// ActionUnknown is the action token of a command whose subject names none of
// the actions (SPEC §4): its events go to {prefix}.evt.unknown.{outcome}, and
// the command's own subject travels in EventData.CommandSubject.
const ActionUnknown = "unknown"

// CheckEventTokens reports an action or outcome that may not stand in an
// event subject or type (SPEC §4): the action must be one of the action
// tokens or ActionUnknown, the outcome one of the known outcomes. Event
// subjects are built only from these, never from unchecked input.
func CheckEventTokens(action, outcome string) error {
	if !slices.Contains(ActionTokens, action) && action != ActionUnknown {
		return fmt.Errorf("%w: action token %.64q is neither an action nor %q", ErrUnencodable, action, ActionUnknown)
	}
	switch outcome {
	case OutcomeAccepted, OutcomeSucceeded, OutcomeFailed, OutcomeRejected, OutcomeTimedOut,
		"duplicate": // SPEC §4's non-terminal duplicate event
	default:
		return fmt.Errorf("%w: outcome token %.64q is not a known outcome", ErrUnencodable, outcome)
	}
	return nil
}

// Terminal reports whether outcome ends a command.
func Terminal(outcome string) bool {
	switch outcome {
	case OutcomeSucceeded, OutcomeFailed, OutcomeRejected, OutcomeTimedOut:
		return true
	}
	return false
}

// CloudEvents constants of every event (SPEC §4).
const (
	SpecVersion     = "1.0"
	DataContentType = "application/json"
	// ContentType is the header of an event message (structured mode).
	ContentType = "application/cloudevents+json"
)

// Command is the body of a command message (SPEC §3): the envelope's members as given, each a
// verbatim JSON value (nil when absent), and in Unknown any member the envelope does not
// document. The worker decodes it with json v2 and validates every member.
type Command struct {
	CommandID jsontext.Value `json:"commandId,omitzero"`
	ProcessID jsontext.Value `json:"processId,omitzero"`
	Deadline  jsontext.Value `json:"deadline,omitzero"`
	Params    jsontext.Value `json:"params,omitzero"`
	Unknown   jsontext.Value `json:",embed"`
}

// ErrorInfo is the error of a failed or rejected command: the platform's code
// (IS0012, txnAlreadyFinished…) or the worker's own, a message, and the HTTP
// status when there was an answer.
type ErrorInfo struct {
	Code       string `json:"code"`
	Message    string `json:"message"`
	HTTPStatus int    `json:"httpStatus,omitzero"`
}

// EventData is the data of an event (SPEC §4).
type EventData struct {
	CommandID        string     `json:"commandId"`
	Action           string     `json:"action"`
	CommandSubject   string     `json:"commandSubject,omitempty"` // action "unknown": the command's subject
	ProcessID        string     `json:"processId,omitempty"`
	OrchestrationID  string     `json:"orchestrationId,omitempty"`
	Outcome          string     `json:"outcome"`
	PlatformStatus   string     `json:"platformStatus,omitempty"`
	Error            *ErrorInfo `json:"error,omitempty"`
	FailedProcessID  string     `json:"failedProcessId,omitempty"`
	FailedStatus     string     `json:"failedStatus,omitempty"`
	Attempts         int        `json:"attempts"`
	Polls            int        `json:"polls"`
	ReceivedAt       *time.Time `json:"receivedAt,omitempty"`
	AcceptedAt       *time.Time `json:"acceptedAt,omitempty"`
	SettledAt        *time.Time `json:"settledAt,omitempty"`
	Problems         []string   `json:"problems,omitempty"`         // rejected: every problem
	RawCommand       string     `json:"rawCommand,omitempty"`       // rejected: first 4 KiB if valid UTF-8
	RawCommandBase64 string     `json:"rawCommandBase64,omitempty"` // rejected: otherwise
}

// Event is a CloudEvents 1.0 event in JSON structured mode.
type Event struct {
	SpecVersion     string    `json:"specversion"`
	ID              string    `json:"id"`
	Source          string    `json:"source"`
	Type            string    `json:"type"`
	Subject         string    `json:"subject,omitempty"`
	Time            time.Time `json:"time"`
	DataContentType string    `json:"datacontenttype"`
	Data            EventData `json:"data"`
}

// NewEvent builds the event of d: id "{commandId}:{outcome}", type
// "txworker.{action}.{outcome}", subject the resource (securityId, assetId or
// submitKey; may be empty), time now in UTC.
func NewEvent(source, subject string, d EventData, now time.Time) Event {
	return Event{
		SpecVersion:     SpecVersion,
		ID:              d.CommandID + ":" + d.Outcome,
		Source:          source,
		Type:            "txworker." + d.Action + "." + d.Outcome,
		Subject:         subject,
		Time:            now.UTC(),
		DataContentType: DataContentType,
		Data:            d,
	}
}

// EventFromClaim builds the event a claim stands for: its terminal Outcome,
// or "accepted" when the claim has no outcome yet. Every field comes from the
// claim, the event time included (SettledAt for a terminal event, AcceptedAt
// for accepted, falling back to ReceivedAt), so building it twice gives the
// same event; only a claim without any of these times gets the current time.
// The subject is cl.Resource.
func EventFromClaim(source string, cl *Claim) Event {
	outcome, at := cl.Outcome, cl.SettledAt
	if outcome == "" {
		outcome, at = OutcomeAccepted, cl.AcceptedAt
	}
	if at.IsZero() {
		at = cl.ReceivedAt
	}
	if at.IsZero() {
		at = time.Now()
	}
	d := EventData{
		CommandID:        cl.CommandID,
		Action:           cl.Action,
		CommandSubject:   cl.CommandSubject,
		ProcessID:        cl.ProcessID,
		OrchestrationID:  cl.OrchestrationID,
		Outcome:          outcome,
		PlatformStatus:   cl.PlatformStatus,
		Error:            cl.Error,
		FailedProcessID:  cl.FailedProcessID,
		FailedStatus:     cl.FailedStatus,
		Attempts:         cl.Attempts,
		Polls:            cl.Polls,
		ReceivedAt:       utcPtr(cl.ReceivedAt),
		AcceptedAt:       utcPtr(cl.AcceptedAt),
		Problems:         cl.Problems,
		RawCommand:       cl.RawCommand,
		RawCommandBase64: cl.RawCommandBase64,
	}
	if Terminal(outcome) {
		d.SettledAt = utcPtr(cl.SettledAt)
	}
	return NewEvent(source, cl.Resource, d, at)
}

// utcPtr returns t in UTC, or nil for the zero time.
func utcPtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
