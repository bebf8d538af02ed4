package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/txworker/txworker/queue"
)

// statusView is what `txworker status` prints: the claim without the raw
// command (which may hold signers' e-mail addresses).
type statusView struct {
	CommandID       string           `json:"commandId"`
	Action          string           `json:"action"`
	ProcessID       string           `json:"processId,omitempty"`
	OrchestrationID string           `json:"orchestrationId,omitempty"`
	Resource        string           `json:"subject,omitempty"`
	State           string           `json:"state"`
	Outcome         string           `json:"outcome,omitempty"`
	PlatformStatus  string           `json:"platformStatus,omitempty"`
	FailedProcessID string           `json:"failedProcessId,omitempty"`
	Error           *queue.ErrorInfo `json:"error,omitempty"`
	Problems        []string         `json:"problems,omitempty"`
	Attempts        int              `json:"attempts"`
	Lookups         int              `json:"lookups"`
	Polls           int              `json:"polls"`
	EventPublished  bool             `json:"eventPublished"`
	ReceivedAt      *time.Time       `json:"receivedAt,omitempty"`
	AcceptedAt      *time.Time       `json:"acceptedAt,omitempty"`
	SettledAt       *time.Time       `json:"settledAt,omitempty"`
	Deadline        *time.Time       `json:"deadline,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// cmdStatus is `txworker status COMMAND_ID`.
func cmdStatus(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlagSet("status", stdout)
	v := register(fs, getenv, busFlags...)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if len(pos) != 1 {
		return &usageError{msg: "usage: txworker status COMMAND_ID"}
	}
	bus, err := connectClient(ctx, v)
	if err != nil {
		return err
	}
	defer bus.Drain()
	cl, err := bus.Claims().Get(ctx, pos[0])
	if errors.Is(err, queue.ErrNotFound) {
		return &exitError{code: 1, msg: fmt.Sprintf("no command %q is known (never received, or older than the state TTL)", pos[0])}
	}
	if err != nil {
		return fmt.Errorf("read state: %w", err)
	}
	view := statusView{
		CommandID: cl.CommandID, Action: cl.Action, ProcessID: cl.ProcessID, OrchestrationID: cl.OrchestrationID,
		Resource: cl.Resource, State: string(cl.State), Outcome: cl.Outcome, PlatformStatus: cl.PlatformStatus,
		FailedProcessID: cl.FailedProcessID, Error: cl.Error, Problems: cl.Problems, Attempts: cl.Attempts,
		Lookups: cl.Lookups, Polls: cl.Polls, EventPublished: cl.Published,
		ReceivedAt: timePtr(cl.ReceivedAt), AcceptedAt: timePtr(cl.AcceptedAt), SettledAt: timePtr(cl.SettledAt),
		Deadline: timePtr(cl.Deadline),
	}
	out, _ := json.MarshalIndent(view, "", "  ")
	fmt.Fprintln(stdout, string(out))
	return nil
}
