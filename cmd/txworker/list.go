package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/queue"
)

// cmdList is `txworker list`: the commands not yet terminal (or in the
// given states), oldest first, from the state bucket.
func cmdList(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlagSet("list", stdout)
	states := fs.String("state", "", "list only these states, comma-separated: received, calling, accepted, terminal (default: all but terminal)")
	action := fs.String("action", "", "list only this action's commands (an action or unknown)")
	olderThan := fs.Duration("older-than", 0, "list only commands received longer ago than this")
	format := fs.String("o", "table", "output: table or json (an array of status views)")
	timeout := fs.Duration("timeout", time.Minute, "how long the listing may take")
	v := register(fs, getenv, busFlags...)
	if done, err := parseCommand(fs, args); done {
		return err
	}
	var p problems
	f := queue.ListFilter{Action: *action, OlderThan: *olderThan}
	var err error
	if f.States, err = queue.ParseStates(*states); err != nil {
		p.add("-state: %v", err)
	}
	if _, known := platform.LookupAction(*action); *action != "" && !known && *action != queue.ActionUnknown {
		p.add("-action: %q is not an action nor %q", *action, queue.ActionUnknown)
	}
	if *olderThan < 0 {
		p.add("-older-than: %s is negative", *olderThan)
	}
	if *format != "table" && *format != "json" {
		p.add("-o: %q is not table or json", *format)
	}
	if *timeout <= 0 {
		p.add("-timeout: %s is not positive", *timeout)
	}
	if err := p.err(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	bus, err := connectClient(ctx, v)
	if err != nil {
		return err
	}
	defer bus.Drain()
	f.Now = time.Now()
	claims, err := bus.Claims().List(ctx, f)
	if err != nil {
		return fmt.Errorf("list: %w", err)
	}
	if *format == "json" {
		views := make([]queue.View, len(claims))
		for i, cl := range claims {
			views[i] = queue.ViewOf(cl)
		}
		out, _ := json.MarshalIndent(views, "", "  ")
		fmt.Fprintln(stdout, string(out))
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "COMMAND\tACTION\tSTATE\tOUTCOME\tAGE\tATTEMPTS\tPOLLS\tORCHESTRATION")
	for _, cl := range claims {
		age := "-"
		if !cl.ReceivedAt.IsZero() {
			age = f.Now.Sub(cl.ReceivedAt).Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", cell(cl.CommandID), cell(cl.Action), cell(string(cl.State)),
			cell(cl.Outcome), age, cl.Attempts, cl.Polls, cell(cl.OrchestrationID))
	}
	return tw.Flush()
}

// cell is a table cell: "-" when empty, quoted when it holds anything but
// printable characters (a tab or newline would break the table).
func cell(s string) string {
	if s == "" {
		return "-"
	}
	if q := strconv.Quote(s); q[1:len(q)-1] != s || strings.ContainsRune(s, ' ') {
		return q
	}
	return s
}
