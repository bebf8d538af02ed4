package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/txworker/txworker/internal/app"
	"github.com/txworker/txworker/platform/platformtest"
	"github.com/txworker/txworker/queue"
)

// demoCommand is one of the documentation's example commands.
type demoCommand struct {
	action string
	body   string
	want   string // expected terminal outcome
	after  string // commandId that must have settled first ("" = at once)
	before func() // run just before publishing
}

// demoCommands are the documentation's examples. One security,
// USS3JKS01I00, serves them all, so they run in the order its states
// allow: Revert needs approved_revert_to_active; Reject Asset needs the
// security active (after the revert); Cancel Offering needs it restricted
// first (the simulator restricts it, as an issuer would through the
// Security Admin API).
func demoCommands(sim *platformtest.Simulator) []demoCommand {
	return []demoCommand{
		{action: "cancel-txn", want: "succeeded", body: `{"commandId":"demo-cancel-txn","params":{
			"milestones":"Application Status: Staff Cancelled","reason":"Job application will be completed in branch",
			"submitKey":"15d071280b92c867f86975b9cd2e8765"}}`},
		{action: "revert-to-active", want: "succeeded", body: `{"commandId":"demo-revert-to-active",
			"processId":"2159457f-0167-4e93-a969-9cf0db05e0bf","params":{
			"signer":{"email":"john.doe@example.com","name":"John Doe"},"securityId":"USS3JKS01I00"}}`},
		{action: "remove-service-provider", want: "succeeded", body: `{"commandId":"demo-remove-service-provider","params":{
			"transactionData":{"securityId":"USS3JKS01I00","signer":{"email":"john.doe@example.com","name":"John Doe"}},
			"orgId":"US9QIMA"}}`},
		{action: "reject-asset", want: "succeeded", after: "demo-revert-to-active", body: `{"commandId":"demo-reject-asset","params":{
			"assetId":"US9QIMAOAS1Q",
			"transactionData":{"securityId":"USS3JKS01I00","signer":{"email":"john.doe@example.com","name":"John Doe"}},
			"rejectReason":{"reason":[{"message":"reject reason","category":"EC006","documentWithIssues":[
				{"document":{"fileId":"FILE3JUS03I04"},"pages":[{"pageNumber":1,"description":"The first page has an invalid signature"}]}]}],
				"extraData":{"externalId":"123456789","some":"Custom Property"}}}}`},
		{action: "cancel-offering", want: "succeeded", after: "demo-reject-asset", body: `{"commandId":"demo-cancel-offering","params":{
			"securityId":"USS3JKS01I00"}}`,
			before: func() { sim.Restrict("USS3JKS01I00", true) }},
	}
}

// runDemo publishes the examples, prints every event as it arrives, and
// returns nil when each command ended with the expected outcome.
// It also returns each command's trace as its events carry it (the
// traceparent of its first event), in publishing order.
func runDemo(ctx context.Context, natsURL, prefix string, sim *platformtest.Simulator, s *app.Service, timeout time.Duration, out io.Writer) (traces []commandTrace, err error) {
	if err := s.WaitReady(ctx, 30*time.Second); err != nil {
		return traces, err
	}
	nc, err := nats.Connect(natsURL, nats.Name("txworker-demo"))
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return traces, err
	}
	events := make(chan *nats.Msg, 64)
	sub, err := nc.ChanSubscribe(prefix+".evt.>", events)
	if err != nil {
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	defer sub.Unsubscribe()

	cmds := demoCommands(sim)
	settled := map[string]string{}
	published := map[string]bool{}
	publish := func() error {
		for _, c := range cmds {
			id := demoID(c.body)
			if published[id] || (c.after != "" && settled[c.after] == "") {
				continue
			}
			if c.before != nil {
				c.before()
			}
			m := nats.NewMsg(prefix + ".cmd." + c.action)
			m.Data = []byte(c.body)
			m.Header.Set(nats.MsgIdHdr, id)
			if _, err := js.PublishMsg(ctx, m); err != nil {
				return fmt.Errorf("publish %s: %w", c.action, err)
			}
			published[id] = true
			fmt.Fprintf(out, "\n→ published %-24s %s\n", c.action, id)
		}
		return nil
	}
	if err := publish(); err != nil {
		return traces, err
	}
	deadline := time.After(timeout)
	for len(settled) < len(cmds) {
		select {
		case <-ctx.Done():
			return traces, ctx.Err()
		case <-deadline:
			return traces, fmt.Errorf("demo: only %d of %d commands ended within %s", len(settled), len(cmds), timeout)
		case m := <-events:
			var ev queue.Event
			if err := json.Unmarshal(m.Data, &ev); err != nil {
				return traces, fmt.Errorf("demo: undecodable event on %s: %w", m.Subject, err)
			}
			printEvent(out, ev, sim)
			traces = noteTrace(traces, ev.Data.CommandID, m.Header.Get(queue.TraceParentHeader))
			if ev.Data.Outcome != "accepted" {
				settled[ev.Data.CommandID] = ev.Data.Outcome
				if err := publish(); err != nil {
					return traces, err
				}
			}
		}
	}
	var wrong []string
	for _, c := range cmds {
		id := demoID(c.body)
		if settled[id] != c.want {
			wrong = append(wrong, fmt.Sprintf("%s ended %s, want %s", id, settled[id], c.want))
		}
	}
	if len(wrong) > 0 {
		return traces, fmt.Errorf("demo: %s", strings.Join(wrong, "; "))
	}
	fmt.Fprintf(out, "\ndemo: all %d example commands ended as expected\n", len(cmds))
	return traces, nil
}

func demoID(body string) string {
	var c struct {
		CommandID string `json:"commandId"`
	}
	_ = json.Unmarshal([]byte(body), &c)
	return c.CommandID
}

// printEvent shows one event, and for a settled orchestration the steps it
// went through on the simulator.
func printEvent(out io.Writer, ev queue.Event, sim *platformtest.Simulator) {
	d := ev.Data
	line := fmt.Sprintf("  %-10s %-24s %s", d.Outcome, d.Action, d.CommandID)
	if d.OrchestrationID != "" {
		line += "  orchestration " + d.OrchestrationID
	}
	if d.PlatformStatus != "" {
		line += "  status " + d.PlatformStatus
	}
	if d.Polls > 0 {
		line += fmt.Sprintf("  polls %d", d.Polls)
	}
	if d.Error != nil {
		line += fmt.Sprintf("  error %s %q", d.Error.Code, d.Error.Message)
	}
	fmt.Fprintln(out, line)
	if d.Outcome == "accepted" || d.OrchestrationID == "" {
		return
	}
	if view, ok := sim.Orchestration(d.OrchestrationID); ok {
		for i, st := range view.Steps {
			fmt.Fprintf(out, "      step %d  %s  %s\n", i+1, st.ProcessID, st.Status)
		}
	}
}
