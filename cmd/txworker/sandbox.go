package main

import (
	"context"
	"io"

	"github.com/txworker/txworker/internal/app"
	"github.com/txworker/txworker/internal/sandbox"
)

// cmdSandbox is `txworker sandbox`: an embedded NATS with JetStream, the
// platform simulator and the worker, all on loopback, with no set-up.
func cmdSandbox(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlagSet("sandbox", stdout)
	var o sandbox.Options
	o.RegisterFlags(fs)
	if done, err := parseCommand(fs, args); done {
		return err
	}
	return sandbox.Run(ctx, o, resolveEnv, getenv, stdout)
}

// resolveEnv resolves the settings of an environment alone (no flags).
func resolveEnv(getenv func(string) string) (app.Config, error) {
	return resolve(register(newFlagSet("settings", io.Discard), getenv))
}
