package queue

import "time"

// View is a claim as the tools show it (`txworker status`, `txworker
// list -o json`): without the raw command, which may hold signers' e-mail
// addresses.
type View struct {
	CommandID       string     `json:"commandId"`
	Action          string     `json:"action"`
	ProcessID       string     `json:"processId,omitempty"`
	OrchestrationID string     `json:"orchestrationId,omitempty"`
	Resource        string     `json:"subject,omitempty"`
	State           string     `json:"state"`
	Outcome         string     `json:"outcome,omitempty"`
	PlatformStatus  string     `json:"platformStatus,omitempty"`
	FailedProcessID string     `json:"failedProcessId,omitempty"`
	Error           *ErrorInfo `json:"error,omitempty"`
	Problems        []string   `json:"problems,omitempty"`
	Attempts        int        `json:"attempts"`
	Lookups         int        `json:"lookups"`
	Polls           int        `json:"polls"`
	EventPublished  bool       `json:"eventPublished"`
	ReceivedAt      *time.Time `json:"receivedAt,omitempty"`
	AcceptedAt      *time.Time `json:"acceptedAt,omitempty"`
	SettledAt       *time.Time `json:"settledAt,omitempty"`
	Deadline        *time.Time `json:"deadline,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// ViewOf is the view of a claim.
func ViewOf(cl *Claim) View {
	return View{
		CommandID: cl.CommandID, Action: cl.Action, ProcessID: cl.ProcessID, OrchestrationID: cl.OrchestrationID,
		Resource: cl.Resource, State: string(cl.State), Outcome: cl.Outcome, PlatformStatus: cl.PlatformStatus,
		FailedProcessID: cl.FailedProcessID, Error: cl.Error, Problems: cl.Problems, Attempts: cl.Attempts,
		Lookups: cl.Lookups, Polls: cl.Polls, EventPublished: cl.Published,
		ReceivedAt: timePtr(cl.ReceivedAt), AcceptedAt: timePtr(cl.AcceptedAt), SettledAt: timePtr(cl.SettledAt),
		Deadline: timePtr(cl.Deadline),
	}
}

// EventView is an event as the tools show it: without its data's raw
// command.
type EventView struct {
	ID             string    `json:"id"`
	Type           string    `json:"type"`
	Time           time.Time `json:"time"`
	Outcome        string    `json:"outcome"`
	PlatformStatus string    `json:"platformStatus,omitempty"`
	ErrorCode      string    `json:"errorCode,omitempty"`
}

// EventViewOf is the view of an event.
func EventViewOf(ev Event) EventView {
	e := EventView{ID: ev.ID, Type: ev.Type, Time: ev.Time, Outcome: ev.Data.Outcome, PlatformStatus: ev.Data.PlatformStatus}
	if ev.Data.Error != nil {
		e.ErrorCode = ev.Data.Error.Code
	}
	return e
}
