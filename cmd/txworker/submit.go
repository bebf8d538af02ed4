package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/queue"
)

// Exit statuses of `submit -wait`, by terminal outcome.
var outcomeExit = map[string]int{"succeeded": 0, "failed": 1, "rejected": 3, "timed_out": 4, "duplicate": 6}

// exitNoEvent is submit -wait's status when no terminal event came in time.
const exitNoEvent = 5

// busFlags are the settings a client command needs to reach the bus.
var busFlags = []string{"nats-url", "nats-creds", "nats-token", "nats-tls-ca", "nats-tls-cert", "nats-tls-key", "subject-prefix", "event-source"}

// parseInterleaved parses flags that may stand before or after the
// positional arguments, returning the positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// connectClient opens the bus for a client command (no provisioning).
func connectClient(ctx context.Context, v values) (*queue.Bus, error) {
	var p problems
	cfg := queue.Config{
		URL: v.str("nats-url"), CredsFile: v.str("nats-creds"), Token: v.secret("nats-token", &p),
		TLSCA: v.str("nats-tls-ca"), TLSCert: v.str("nats-tls-cert"), TLSKey: v.str("nats-tls-key"),
		Prefix: v.str("subject-prefix"), Replicas: 1, Name: "txworker-cli",
	}
	if err := cfg.Validate(); err != nil {
		p.add("%v", err)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	bus, err := queue.Connect(ctx, cfg, zap.NewNop())
	if err != nil {
		return nil, err
	}
	if err := bus.Provision(ctx); err != nil { // Provision=false: check and bind only
		_ = bus.Drain()
		return nil, fmt.Errorf("is the worker provisioned? %w", err)
	}
	return bus, nil
}

// cmdSubmit is `txworker submit ACTION [FILE|-]`.
func cmdSubmit(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlagSet("submit", stdout)
	wait := fs.Bool("wait", false, "wait for the terminal event and print it; the exit status tells the outcome")
	timeout := fs.Duration("timeout", 5*time.Minute, "how long -wait waits")
	v := register(fs, getenv, busFlags...)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if len(pos) < 1 || len(pos) > 2 {
		return &usageError{msg: "usage: txworker submit [-wait] ACTION [FILE|-]"}
	}
	action := pos[0]
	var body []byte
	if len(pos) == 1 || pos[1] == "-" {
		body, err = io.ReadAll(io.LimitReader(os.Stdin, 1<<20+1))
	} else {
		body, err = os.ReadFile(pos[1])
	}
	if err != nil {
		return fmt.Errorf("read command: %w", err)
	}
	var probe struct {
		CommandID string `json:"commandId"`
	}
	_ = json.Unmarshal(body, &probe)
	commandID := probe.CommandID
	if commandID == "" {
		commandID = "submit-" + uuid.NewString()
	}
	bus, err := connectClient(ctx, v)
	if err != nil {
		return err
	}
	defer bus.Drain()
	got := make(chan queue.Event, 8)
	if *wait {
		stop, err := bus.WatchEvents(ctx, eventAction(action), func(ev queue.Event) {
			if ev.Data.CommandID == commandID {
				got <- ev
			}
		})
		if err != nil {
			return err
		}
		defer stop()
	}
	// The stream drops a message whose Nats-Msg-Id it has stored within its
	// duplicate window. Without a commandId in the body the header is the
	// command's id; with one, the header also names the body, so that only
	// the very same command is dropped by the stream and a different one
	// under a used commandId reaches the worker (which answers "duplicate").
	msgID := commandID
	if probe.CommandID != "" {
		sum := sha256.Sum256(body)
		msgID += ":" + hex.EncodeToString(sum[:8])
	}
	ack, err := bus.PublishCommand(ctx, action, body, msgID)
	if err != nil {
		return fmt.Errorf("%w (is the worker provisioned?)", err)
	}
	fmt.Fprintf(stdout, "published %s commandId=%s stream=%s seq=%d duplicate=%t\n", bus.CommandSubject(action), commandID, ack.Stream, ack.Sequence, ack.Duplicate)
	if !*wait {
		return nil
	}
	ev, err := awaitTerminal(ctx, bus, v.str("event-source"), commandID, got, *timeout)
	if err != nil {
		return err
	}
	out, _ := json.MarshalIndent(ev, "", "  ")
	fmt.Fprintln(stdout, string(out))
	if code := outcomeExit[ev.Data.Outcome]; code != 0 {
		return &exitError{code: code, msg: "command ended " + ev.Data.Outcome}
	}
	return nil
}

// exitError ends the program with a specific status.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// eventAction is the action token of the events of a command published for
// action: the action itself, or "unknown" for any other token (SPEC §4).
func eventAction(action string) string {
	if _, ok := platform.LookupAction(action); ok {
		return action
	}
	return queue.ActionUnknown
}

// awaitTerminal returns the command's terminal event: as it arrives, or —
// when the command had settled before this submission — rebuilt from the
// recorded claim.
func awaitTerminal(ctx context.Context, bus *queue.Bus, source, commandID string, got <-chan queue.Event, timeout time.Duration) (queue.Event, error) {
	deadline := time.After(timeout)
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return queue.Event{}, ctx.Err()
		case <-deadline:
			return queue.Event{}, &exitError{code: exitNoEvent, msg: fmt.Sprintf("no terminal event for %s within %s", commandID, timeout)}
		case ev := <-got:
			// duplicate is not terminal for the command, but it is the
			// answer to this submission: it will never be executed.
			if ev.Data.Outcome != queue.OutcomeAccepted {
				return ev, nil
			}
		case <-tick.C:
			cl, err := bus.Claims().Get(ctx, commandID)
			if err == nil && cl.State == queue.StateTerminal && cl.Published {
				select {
				case ev := <-got:
					if ev.Data.Outcome != "accepted" {
						return ev, nil
					}
				case <-time.After(time.Second):
				}
				return queue.EventFromClaim(source, cl), nil
			}
		}
	}
}
