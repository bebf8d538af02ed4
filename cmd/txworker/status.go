package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/txworker/txworker/internal/app"
	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/queue"
)

// platformStatusView is what `txworker status -platform` prints: the
// status view with, first, the one line of what the command waits for, and
// what the platform and the events stream hold of it. Events are shown
// without their data's raw command (it may hold e-mail addresses); the
// platform's answer is shown as its typed fields, which hold none.
type platformStatusView struct {
	Waiting string `json:"waiting"`
	queue.View
	Platform *platform.Report  `json:"platform,omitempty"`
	Events   []queue.EventView `json:"events"`
}

// platformFlags are the settings `status -platform` asks the platform with.
var platformFlags = []string{"platform-url", "token-url", "client-id", "client-secret", "jm-url", "jm-username", "jm-password",
	"jm-token-url", "jm-client-id", "jm-client-secret", "user-agent", "allow-insecure-http", "request-timeout"}

// cmdStatus is `txworker status COMMAND_ID [-platform]`.
func cmdStatus(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlagSet("status", stdout)
	ask := fs.Bool("platform", false, "also ask the platform (settings as for run) and read the command's events; print what it waits for")
	timeout := fs.Duration("timeout", 30*time.Second, "how long -platform's look-ups may take")
	v := register(fs, getenv, append(slices.Clone(busFlags), platformFlags...)...)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if len(pos) != 1 {
		return &usageError{msg: "usage: txworker status COMMAND_ID [-platform]"}
	}
	var sc app.Config
	if *ask {
		full := register(flag.NewFlagSet("", flag.ContinueOnError), getenv) // the other settings, as run reads them
		maps.Copy(full, v)
		if sc, err = resolve(full); err != nil {
			return &usageError{msg: "status -platform asks the platform with the settings of txworker run; " + err.Error()}
		}
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
	var out []byte
	if !*ask {
		out, _ = json.MarshalIndent(queue.ViewOf(cl), "", "  ")
	} else {
		lctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		view := platformStatusView{View: queue.ViewOf(cl), Events: []queue.EventView{}}
		events, err := bus.CommandEvents(lctx, eventAction(cl.Action), cl.CommandID, cl.ReceivedAt)
		if err != nil {
			return err
		}
		for _, ev := range events {
			view.Events = append(view.Events, queue.EventViewOf(ev))
		}
		r := platform.Inspect(lctx, sc.Corastone, sc.JM, cl.Action, cl.OrchestrationID, cl.ProcessID, cl.Resource)
		var pv queue.PlatformView
		if view.Platform = r; r != nil && r.Asked {
			pv = queue.PlatformView{Asked: true, Err: r.Error, Found: r.Found, Status: r.FormStatus, StepsDone: r.StepsDone, Steps: len(r.Steps)}
			if o := r.Orchestration; o != nil {
				pv.ID, pv.Status, pv.Terminal = o.OrchestrationID, o.Status, o.Terminal()
			}
		}
		view.Waiting = queue.Waiting(cl, events, pv, time.Now())
		out, _ = json.MarshalIndent(view, "", "  ")
	}
	fmt.Fprintln(stdout, string(out))
	return nil
}
