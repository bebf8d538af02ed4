package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/txworker/txworker/internal/app"
	"go.uber.org/zap"
)

// version is stamped at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `usage: txworker COMMAND [flags]

commands:
  run                       run the service (configuration: TXWORKER_* variables or flags; run -h)
  sandbox [-demo]           NATS, the platform simulator and the worker on loopback, no set-up
  submit ACTION [FILE|-]    publish one command; -wait prints its terminal event
  list [-state S …]         the commands not yet terminal (or in state S), oldest first
  status COMMAND_ID         what the worker knows of one command; -platform: and the platform, and what it waits for
  load [-scenario …]        load scenarios against the simulator with the worker as its own process
  chaos [-count N …]        reliability soak: replicas killed, NATS restarted, platform faults; checks SPEC §8
  version                   print the version
`

// usageError is a mistake in the command line or configuration: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func exitCode(err error) int {
	var ue *usageError
	var ee *exitError
	switch {
	case errors.As(err, &ue):
		return 2
	case errors.As(err, &ee):
		return ee.code
	}
	return 1
}

// run is the whole program behind main: args without the program name,
// the environment through getenv, and stdout for what a person reads.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stdout, usage)
		return &usageError{msg: "no command given"}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return cmdRun(ctx, rest, getenv, stdout)
	case "sandbox":
		return cmdSandbox(ctx, rest, getenv, stdout)
	case "submit":
		return cmdSubmit(ctx, rest, getenv, stdout)
	case "list":
		return cmdList(ctx, rest, getenv, stdout)
	case "status":
		return cmdStatus(ctx, rest, getenv, stdout)
	case "load":
		return cmdLoad(ctx, rest, getenv, stdout)
	case "chaos":
		return cmdChaos(ctx, rest, getenv, stdout)
	case "load-reference": // started by `load -reference`, not for people
		return cmdLoadReference(ctx, rest, getenv, stdout)
	case "version":
		fmt.Fprintln(stdout, "txworker", version)
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stdout, usage)
	return &usageError{msg: fmt.Sprintf("unknown command %q", cmd)}
}

func newFlagSet(name string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{msg: err.Error()}
	}
	return nil
}

// parseCommand parses the flags of a subcommand that takes no arguments.
// done is true when the command has nothing more to do: after -h (err nil)
// or a usage error.
func parseCommand(fs *flag.FlagSet, args []string) (done bool, err error) {
	if err := parseFlags(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return true, nil
		}
		return true, err
	}
	if fs.NArg() > 0 {
		return true, &usageError{msg: fmt.Sprintf("%s takes no arguments, got %q", fs.Name(), fs.Args())}
	}
	return false, nil
}

// cmdRun is `txworker run`: the service until SIGTERM.
func cmdRun(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlagSet("run", stdout)
	v := register(fs, getenv)
	if done, err := parseCommand(fs, args); done {
		return err
	}
	return serveSettings(ctx, v, nil, getenv, stdout)
}

// serveSettings resolves the settings and runs the service until ctx
// ends; intake, when set, takes the commands in the worker's place
// (`txworker load-reference`).
func serveSettings(ctx context.Context, v values, intake app.Intake, getenv func(string) string, stdout io.Writer) error {
	cfg, err := resolve(v)
	if err != nil {
		return err
	}
	logger, err := newLogger(cfg.LogLevel, stdout)
	if err != nil {
		return err
	}
	if gc := gcPercent(getenv); gc != 0 {
		logger.Info("garbage collector target", zap.Int("gogc", gc), zap.String("gomemlimit", getenv("GOMEMLIMIT")))
	}
	return app.Run(ctx, cfg, app.Options{Logger: logger, Intake: intake, Getenv: getenv})
}

// serviceGOGC is the service's garbage collector target when GOGC is not
// set: the heap may grow to five times the live data between collections.
// The worker allocates per command and keeps little, so this trades memory
// headroom for CPU (deploy/README.md gives the cost). GOMEMLIMIT (the
// deployment sets it to the container's limit) still bounds the heap: near
// it the collector runs as often as it must.
const serviceGOGC = 400

// gcPercent sets the collector's target to serviceGOGC unless GOGC is set
// in the environment, and returns what it set (0: left to GOGC).
func gcPercent(getenv func(string) string) int {
	if getenv("GOGC") != "" {
		return 0
	}
	debug.SetGCPercent(serviceGOGC)
	return serviceGOGC
}

// newLogger is app.NewLogger; a level it refuses is a usage error.
func newLogger(level string, w io.Writer) (*zap.Logger, error) {
	l, err := app.NewLogger(level, w)
	if err != nil {
		return nil, &usageError{msg: err.Error()}
	}
	return l, nil
}
