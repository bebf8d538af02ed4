package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/txworker/txworker/internal/chaos"
	"github.com/txworker/txworker/internal/load"
)

// cmdLoad is `txworker load`: the performance scenarios (internal/load).
func cmdLoad(ctx context.Context, args []string, _ func(string) string, stdout io.Writer) error {
	fs := newFlagSet("load", stdout)
	var o load.Options
	o.RegisterFlags(fs)
	if done, err := parseCommand(fs, args); done {
		return err
	}
	if err := o.Validate(); err != nil {
		return usageProblems(err)
	}
	return load.Run(ctx, o, stdout)
}

// cmdLoadReference is `txworker load-reference MODE`, which `txworker load
// -reference MODE` starts as the replica: the service with its
// configuration (TXWORKER_* or flags, as run), its ops server and its
// poller, and the reference consumer taking the commands.
func cmdLoadReference(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlagSet("load-reference", stdout)
	v := register(fs, getenv)
	if err := parseFlags(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	modes := load.ReferenceModes()
	if fs.NArg() != 1 || !slices.Contains(modes, fs.Arg(0)) {
		return &usageError{msg: fmt.Sprintf("load-reference takes one mode, %s; got %q", strings.Join(modes, " or "), fs.Args())}
	}
	return serveSettings(ctx, v, load.ReferenceIntake(fs.Arg(0)), getenv, stdout)
}

// cmdChaos is `txworker chaos`: the reliability soak (internal/chaos).
func cmdChaos(ctx context.Context, args []string, _ func(string) string, stdout io.Writer) error {
	fs := newFlagSet("chaos", stdout)
	var o chaos.Options
	o.RegisterFlags(fs)
	if done, err := parseCommand(fs, args); done {
		return err
	}
	if err := o.Validate(); err != nil {
		return usageProblems(err)
	}
	return chaos.Run(ctx, o, stdout)
}

// usageProblems turns a tool's Validate error (errors.Join of one error
// per problem) into the usage error that names each.
func usageProblems(err error) error {
	var p problems
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			p.add("%v", e)
		}
	} else {
		p.add("%v", err)
	}
	return p.err()
}
