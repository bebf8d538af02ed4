// Package sandbox runs `txworker sandbox`: an embedded NATS with
// JetStream, the platform simulator and one replica, all on loopback, with
// no set-up; with Demo it publishes the documentation's example commands
// and checks that each ends as expected.
package sandbox

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/txworker/txworker/internal/app"
	"github.com/txworker/txworker/internal/natstest"
	"github.com/txworker/txworker/internal/telemetry"
	"github.com/txworker/txworker/platform/platformtest"
)

// Credentials of the simulator's default clients (platformtest.Config's
// defaults), which the sandbox and the rig give their replicas.
const (
	ClientID     = "txworker"
	ClientSecret = "sandbox-secret"
	JMUser       = "jm-user"
	JMPassword   = "jm-pass"
)

// Options are the flags of `txworker sandbox`.
type Options struct {
	Demo        bool          // publish the examples, exit when all ended
	NATSPort    int           // -1: any free port; a busy port falls back to a free one
	HTTPAddr    string        // the ops server's address; port 0: any free port
	LogFile     string        // the worker's JSON logs; "": a file in the temporary directory
	DemoTimeout time.Duration // how long Demo waits for every example to end
	Traces      bool          // record every span in process and print each command's trace as a tree
}

// RegisterFlags adds the sandbox's flags to fs, with their defaults.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	fs.BoolVar(&o.Demo, "demo", false, "publish the documentation's example commands, print each event, exit 0 when all ended as expected")
	fs.IntVar(&o.NATSPort, "nats-port", 4222, "NATS port (-1: any free port; a busy port falls back to a free one)")
	fs.StringVar(&o.HTTPAddr, "http-addr", "127.0.0.1:8080", "address of /metrics, /healthz, /readyz (port 0: any free port)")
	fs.StringVar(&o.LogFile, "log-file", "", "write the worker's JSON logs here (default: a file in the temporary directory)")
	fs.DurationVar(&o.DemoTimeout, "demo-timeout", 2*time.Minute, "how long -demo waits for every example to end")
	fs.BoolVar(&o.Traces, "traces", false, "record the OpenTelemetry spans in process and print the trace of each command as a tree (with -demo: after the demo; else at exit)")
}

// Resolve turns a replica's environment (TXWORKER_* variables) into its
// configuration, naming every problem; cmd/txworker supplies it.
type Resolve func(getenv func(string) string) (app.Config, error)

// Run starts NATS, the simulator and a replica configured by resolve from
// the sandbox's own connection settings plus the tuning settings
// TXWORKER_LOG_LEVEL, _CONCURRENCY, _SETTLE_TIMEOUT and _PLATFORM_RPS from
// getenv. It prints a banner to stdout and runs until ctx ends or, with
// Demo, until the examples have ended; then it shuts everything down.
func Run(ctx context.Context, o Options, resolve Resolve, getenv func(string) string, stdout io.Writer) error {
	port := o.NATSPort
	if port == 0 { // nats-server's meaning of 0: its default port
		port = 4222
	}
	nopts := natstest.Options{Name: "txworker-sandbox", Port: port, MaxPayload: 1 << 20, ReadyTimeout: 10 * time.Second}
	ns, err := natstest.New(nopts)
	if err != nil && port != natstest.RandomPort {
		nopts.Port = natstest.RandomPort
		ns, err = natstest.New(nopts)
	}
	if err != nil {
		return err
	}
	defer ns.Shutdown()
	sim, err := platformtest.Start(platformtest.Config{
		StepDuration: [2]time.Duration{300 * time.Millisecond, 1500 * time.Millisecond},
		Steps:        [2]int{1, 3},
	})
	if err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	defer sim.Close()

	env := map[string]string{
		"TXWORKER_NATS_URL":            ns.URL(),
		"TXWORKER_PLATFORM_URL":        sim.URL(),
		"TXWORKER_CLIENT_ID":           ClientID,
		"TXWORKER_CLIENT_SECRET":       ClientSecret,
		"TXWORKER_JM_URL":              sim.URL(),
		"TXWORKER_JM_USERNAME":         JMUser,
		"TXWORKER_JM_PASSWORD":         JMPassword,
		"TXWORKER_ALLOW_INSECURE_HTTP": "true",
		"TXWORKER_HTTP_ADDR":           o.HTTPAddr,
		"TXWORKER_POLL_INTERVAL":       "500ms",
		"TXWORKER_POLL_MAX_INTERVAL":   "2s",
		"TXWORKER_SHUTDOWN_TIMEOUT":    "10s",
	}
	// The sandbox owns its connections and credentials; only tuning
	// settings pass through from the environment.
	sandboxEnv := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		switch k {
		case "TXWORKER_LOG_LEVEL", "TXWORKER_CONCURRENCY", "TXWORKER_SETTLE_TIMEOUT", "TXWORKER_PLATFORM_RPS":
			return getenv(k)
		}
		return ""
	}
	cfg, err := resolve(sandboxEnv)
	if err != nil {
		return err
	}
	logPath := o.LogFile
	if logPath == "" {
		logPath = ns.StoreDir() + ".log"
	}
	lf, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	defer lf.Close()
	logger, err := app.NewLogger(cfg.LogLevel, lf)
	if err != nil {
		return err
	}
	aopts := app.Options{Logger: logger, Getenv: func(string) string { return "" }} // no OTEL_* export from the sandbox
	var rec *telemetry.Recorder
	if o.Traces {
		var prov *telemetry.Provider
		if prov, rec, err = telemetry.NewRecorder(ctx); err != nil {
			return err
		}
		defer prov.Shutdown(context.WithoutCancel(ctx))
		aopts.Tracing = prov
	}
	s, err := app.Start(ctx, cfg, aopts)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, banner(ns.URL(), sim.URL(), s.Addr(), logPath))
	if o.Demo {
		traces, derr := runDemo(ctx, ns.URL(), cfg.Queue.Prefix, sim, s, o.DemoTimeout, stdout)
		serr := s.Shutdown(cfg.ShutdownTimeout) // every span has ended once it returns
		if rec != nil {
			printTraces(stdout, rec, traces)
		}
		return errors.Join(derr, serr)
	}
	fmt.Fprintln(stdout, "\nready; Ctrl-C stops the sandbox")
	<-ctx.Done()
	logger.Info("sandbox stopping", zap.String("reason", "signal"))
	err = s.Shutdown(cfg.ShutdownTimeout)
	if rec != nil {
		printTraces(stdout, rec, nil)
	}
	return err
}

// banner is what the sandbox prints once it runs. Its publishing
// examples wait for JetStream's acknowledgement: a plain `nats pub` is core
// NATS and says "Published" even when no stream stores the message.
func banner(natsURL, simURL, httpAddr, logPath string) string {
	return fmt.Sprintf(`txworker sandbox
  NATS (JetStream)   %s
  platform simulator %s   (Corastone and Journey Manager)
  metrics & health   http://%s/metrics  /healthz  /readyz
  worker logs        %s

publish a command, for example:
  go run ./cmd/txworker submit -nats-url %s -wait cancel-txn - <<'EOF'
  {"commandId":"try-1","params":{"submitKey":"15d071280b92c867f86975b9cd2e8765","reason":"Job application will be completed in branch"}}
  EOF
or with the nats CLI (nats pub --jetstream or nats req: both wait for the stream's acknowledgement):
  nats pub --jetstream -s %s txworker.cmd.cancel-txn '{"commandId":"try-2","params":{"submitKey":"…"}}'
  not a plain nats pub: it says "Published" even when no stream stored the command
events arrive on txworker.evt.{action}.{outcome}
`, natsURL, simURL, httpAddr, logPath, natsURL, natsURL)
}
