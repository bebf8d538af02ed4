package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/txworker/txworker/platform"
)

// setting is one configuration value: environment variable TXWORKER_X and
// flag -x. Secret settings have no flag of their own (flags show in process
// listings): they come from the environment or from the file named by
// TXWORKER_X_FILE / -x-file.
type setting struct {
	name   string // flag name
	def    string
	help   string
	secret bool
}

// settings is SPEC §6 plus the few knobs an operator needs beyond it.
var settings = []setting{
	{name: "nats-url", def: "nats://127.0.0.1:4222", help: "NATS server URL(s), comma-separated"},
	{name: "nats-creds", help: "NATS credentials file"},
	{name: "nats-token", help: "NATS token", secret: true},
	{name: "nats-tls-ca", help: "CA certificate file for TLS to NATS"},
	{name: "nats-tls-cert", help: "client certificate file for TLS to NATS"},
	{name: "nats-tls-key", help: "client key file for TLS to NATS"},
	{name: "subject-prefix", def: "txworker", help: "subject prefix of commands and events"},
	{name: "stream-replicas", def: "1", help: "JetStream replicas of the streams and bucket"},
	{name: "ack-wait", def: "30s", help: "how long a delivered command is owned before redelivery (kept alive while worked on)"},
	{name: "tracking-ack-wait", def: "15s", help: "how long a delivered tracking message is owned before redelivery, so how soon another replica resumes a dead one's orchestrations (at least 1s; kept alive every third of it while worked on)"},
	{name: "provision", def: "true", help: "create streams, consumers and bucket at start-up (false: only check they exist)"},
	{name: "start-timeout", def: "2m", help: "how long start-up keeps retrying while JetStream cannot provision or find the streams, consumers and bucket (readiness 503 meanwhile), then exits naming what it waited for"},
	{name: "platform-url", help: "Corastone Integration API base URL (required by run)"},
	{name: "token-url", help: "OAuth2 token URL (default {platform-url}/oauth2/token)"},
	{name: "client-id", help: "OAuth2 client id (required by run)"},
	{name: "client-secret", help: "OAuth2 client secret (required by run)", secret: true},
	{name: "jm-url", help: "Journey Manager base URL (unset: cancel-txn disabled)"},
	{name: "jm-username", help: "Journey Manager HTTP Basic user"},
	{name: "jm-password", help: "Journey Manager HTTP Basic password", secret: true},
	{name: "jm-token-url", help: "Journey Manager OAuth2 token URL (bearer instead of Basic)"},
	{name: "jm-client-id", help: "Journey Manager OAuth2 client id"},
	{name: "jm-client-secret", help: "Journey Manager OAuth2 client secret", secret: true},
	{name: "user-agent", def: "txworker/" + version, help: "User-Agent of every platform request"},
	{name: "allow-insecure-http", def: "false", help: "allow http:// platform and JM URLs"},
	{name: "action-paths", help: "per-action path overrides: action=/path,… (e.g. reject-asset=/external/v1/primary/{assetId}/reject)"},
	{name: "omit-process-id", help: "actions whose body leaves processId out, comma-separated"},
	{name: "http-addr", def: ":8080", help: "address of /metrics, /healthz, /readyz"},
	{name: "pprof", def: "false", help: "also serve /debug/pprof/ (CPU and heap profiles, execution traces) on the ops address"},
	{name: "concurrency", def: "16", help: "commands handled at once per replica"},
	{name: "platform-rps", def: "50", help: "request rate cap per replica and platform (0: none)"},
	{name: "request-timeout", def: "10s", help: "timeout of one platform request"},
	{name: "max-attempts", def: "8", help: "retry budget of a command's platform call on transient faults"},
	{name: "max-poison-deliveries", def: "5", help: "deliveries after which a command that keeps failing inside the worker (not a NATS outage) ends failed INTERNAL_ERROR"},
	{name: "max-retry-after", def: "5m", help: "the longest Retry-After honoured; a longer one is capped to this"},
	{name: "poll-interval", def: "2s", help: "first wait between polls of an orchestration"},
	{name: "poll-max-interval", def: "30s", help: "longest wait between polls"},
	{name: "poll-backoff-after", def: "20s", help: "orchestrations younger than this are polled every poll interval; then the wait doubles per further period, up to the maximum"},
	{name: "poll-naive", def: "false", help: "baseline for benchmarks: one orchestration per poll, fixed interval"},
	{name: "tracking-hints", help: `tracking hints: "" (off: the id poller alone) or "sequencer" (tail Corastone's Sequencer; adds the readSequencer scope)`},
	{name: "settle-timeout", def: "30m", help: "how long an orchestration is tracked without a deadline"},
	{name: "event-source", def: "txworker", help: "CloudEvents source of the events"},
	{name: "shutdown-timeout", def: "30s", help: "drain budget after SIGTERM"},
	{name: "log-level", def: "info", help: "debug, info, warn or error"},
}

// envName maps a flag name to its environment variable.
func envName(flagName string) string {
	return "TXWORKER_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// values holds the resolved settings by flag name.
type values map[string]string

// register adds the flags of settings to fs; each default is the
// environment's value, else the built-in default. Parse then lets flags win.
func register(fs *flag.FlagSet, getenv func(string) string, only ...string) values {
	v := values{}
	for _, s := range settings {
		if len(only) > 0 && !slices.Contains(only, s.name) {
			continue
		}
		def := s.def
		if e := getenv(envName(s.name)); e != "" {
			def = e
		}
		v[s.name] = def
		if s.secret {
			fileDef := getenv(envName(s.name) + "_FILE")
			v[s.name+"-file"] = fileDef
			fs.Func(s.name+"-file", "file holding the "+s.help+" (or "+envName(s.name)+")", func(x string) error {
				v[s.name+"-file"] = x
				return nil
			})
			continue
		}
		name := s.name
		fs.Func(name, s.help+" ("+envName(name)+")", func(x string) error {
			v[name] = x
			return nil
		})
	}
	return v
}

// problems collects every configuration problem, to report them at once.
type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return &usageError{msg: "configuration:\n  - " + strings.Join(p, "\n  - ")}
}

func (v values) str(name string) string { return strings.TrimSpace(v[name]) }

// secret returns a secret's value from the environment or from its file.
func (v values) secret(name string, p *problems) string {
	if f := v.str(name + "-file"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			p.add("%s_FILE: cannot read %s: %v", envName(name), f, errors.Unwrap(err))
			return ""
		}
		return strings.TrimRight(string(b), "\r\n")
	}
	return v[name]
}

func (v values) boolean(name string, p *problems) bool {
	b, err := strconv.ParseBool(v.str(name))
	if err != nil {
		p.add("%s: %q is not true or false", envName(name), v[name])
	}
	return b
}

func (v values) integer(name string, lo, hi int, p *problems) int {
	n, err := strconv.Atoi(v.str(name))
	if err != nil || n < lo || n > hi {
		p.add("%s: %q is not a whole number from %d to %d", envName(name), v[name], lo, hi)
	}
	return n
}

func (v values) number(name string, p *problems) float64 {
	f, err := strconv.ParseFloat(v.str(name), 64)
	if err != nil || f < 0 {
		p.add("%s: %q is not a number >= 0", envName(name), v[name])
	}
	return f
}

func (v values) duration(name string, p *problems) time.Duration {
	d, err := time.ParseDuration(v.str(name))
	if err != nil || d <= 0 {
		p.add("%s: %q is not a positive duration such as 2s or 5m", envName(name), v[name])
	}
	return d
}

// httpURL checks a platform URL: absolute, http(s), https unless allowed,
// no credentials, query or fragment (SPEC §6: refused as a configuration
// problem before anything is connected).
func (v values) httpURL(name string, required, insecureOK bool, p *problems) string {
	raw := v.str(name)
	if raw == "" {
		if required {
			p.add("%s is required", envName(name))
		}
		return ""
	}
	problems := platform.CheckURL(raw)
	for _, q := range problems {
		if strings.Contains(q, "credentials") {
			q += "; use the client id and secret settings"
		}
		p.add("%s: %s", envName(name), q)
	}
	if u, err := url.Parse(raw); err == nil && u.Scheme == "http" && !insecureOK {
		p.add("%s is plaintext http; set TXWORKER_ALLOW_INSECURE_HTTP=true to allow it", envName(name))
	}
	if len(problems) > 0 {
		return ""
	}
	return strings.TrimRight(raw, "/")
}

func (v values) hostPort(name string, p *problems) string {
	addr := v.str(name)
	if _, _, err := net.SplitHostPort(addr); err != nil {
		p.add("%s: %q is not host:port", envName(name), addr)
	}
	return addr
}
