// Command txworker runs the txworker service and its companion commands.
//
//	txworker run                      the service (configuration from TXWORKER_* or flags)
//	txworker sandbox [-demo]          NATS, the platform simulator and the worker on loopback
//	txworker submit ACTION [FILE|-]   publish one command; -wait prints its terminal event
//	txworker list [-state S]          the commands not yet terminal (or in state S), oldest first
//	txworker status COMMAND_ID        what the worker knows of one command (-platform: and the platform)
//
// main only wires signals to run; everything else is testable through run.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "txworker:", err)
		os.Exit(exitCode(err))
	}
}
