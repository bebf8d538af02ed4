package queue

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/trace"
)

// Defaults applied by Connect to the zero values of Config.
const (
	DefaultURL             = nats.DefaultURL // nats://127.0.0.1:4222
	DefaultName            = "txworker"
	DefaultPrefix          = "txworker"
	DefaultReplicas        = 1
	DefaultDuplicateWindow = 10 * time.Minute
	DefaultAckWait         = 30 * time.Second
	DefaultTrackingAckWait = 15 * time.Second
	DefaultStateTTL        = 7 * 24 * time.Hour
	DefaultStartTimeout    = 2 * time.Minute
)

// eventsMaxAge is how long the events stream keeps events; the duplicate
// window may not exceed it.
const eventsMaxAge = 7 * 24 * time.Hour

// Config says how to reach NATS and how to name and size what Provision
// creates. The zero value of every field means its default.
type Config struct {
	// URL is one server URL or a comma-separated list (nats://, tls://,
	// ws://, wss://). Default DefaultURL. It is never logged unredacted.
	URL string
	// CredsFile is a NATS user credentials file (JWT + nkey seed).
	CredsFile string
	// Token is a NATS authentication token. Mutually exclusive with CredsFile.
	Token string
	// TLSCA is a PEM file of CAs that verify the server; TLSCert and TLSKey
	// (both or neither) are the client certificate for mutual TLS.
	TLSCA, TLSCert, TLSKey string
	// Name is the connection name the server shows. Default DefaultName.
	Name string
	// Prefix is the subject prefix: {prefix}.cmd.>, {prefix}.evt.>,
	// {prefix}.track.>. Dot-separated tokens without wildcards or
	// whitespace. Default DefaultPrefix.
	Prefix string
	// Replicas is the replica count of the streams and the bucket, 1 to 5.
	// Default 1.
	Replicas int
	// Provision makes Provision create or update everything; when false it
	// only checks that everything exists.
	Provision bool
	// DuplicateWindow is the Nats-Msg-Id dedupe window of the three streams,
	// at most 7 days and at most StateTTL. Default 10 minutes.
	DuplicateWindow time.Duration
	// AckWait is the command consumer's ack wait, at least 1s. Default 30s.
	AckWait time.Duration
	// TrackingAckWait is the tracking consumer's ack wait, at least 1s.
	// Default 15s. It is how soon the orchestrations a dead replica held come
	// back to another replica; the poller keeps the messages it works on
	// alive with InProgress every third of it, so a batch held longer (a
	// pause, a slow request) is not redelivered. The 1s floor leaves the
	// poller's fetch wait (250ms) plus one keep-alive period (a third) well
	// inside it.
	TrackingAckWait time.Duration
	// StateTTL is how long a claim is kept after its last update. Default 7 days.
	StateTTL time.Duration
	// StartTimeout bounds Provision: how long it keeps retrying while
	// JetStream cannot create or find the streams, consumers and bucket yet
	// (a cluster forming, a leader being elected), at least 1s. Default
	// DefaultStartTimeout.
	StartTimeout time.Duration
	// TracerProvider makes the spans of the messages the bus publishes
	// (events and tracking messages); nil: none (a no-op provider).
	TracerProvider trace.TracerProvider
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.URL == "" {
		c.URL = DefaultURL
	}
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.Replicas == 0 {
		c.Replicas = DefaultReplicas
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = DefaultDuplicateWindow
	}
	if c.AckWait == 0 {
		c.AckWait = DefaultAckWait
	}
	if c.TrackingAckWait == 0 {
		c.TrackingAckWait = DefaultTrackingAckWait
	}
	if c.StateTTL == 0 {
		c.StateTTL = DefaultStateTTL
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = DefaultStartTimeout
	}
	return c
}

// Validate checks c, defaults applied, and names every problem in one error.
// It reads the file system only to check that the files named exist. No
// problem message contains a URL, token or file content.
func (c Config) Validate() error {
	c = c.withDefaults()
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	for i, u := range strings.Split(c.URL, ",") {
		if p := checkURL(strings.TrimSpace(u)); p != "" {
			add("nats url #%d: %s", i+1, p)
		}
	}
	if c.CredsFile != "" && c.Token != "" {
		add("nats creds file and token are mutually exclusive")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		add("nats tls cert and tls key must be given together")
	}
	for _, f := range []struct{ name, path string }{
		{"creds file", c.CredsFile}, {"tls ca", c.TLSCA}, {"tls cert", c.TLSCert}, {"tls key", c.TLSKey},
	} {
		if f.path == "" {
			continue
		}
		if st, err := os.Stat(f.path); err != nil {
			add("nats %s: cannot be read", f.name)
		} else if st.IsDir() {
			add("nats %s: is a directory", f.name)
		}
	}
	if p := checkPrefix(c.Prefix); p != "" {
		add("subject prefix: %s", p)
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		add("stream replicas must be 1 to 5, not %d", c.Replicas)
	}
	if c.DuplicateWindow < 0 || c.DuplicateWindow > eventsMaxAge {
		add("duplicate window must be between 0 and %s, not %s", eventsMaxAge, c.DuplicateWindow)
	}
	if c.AckWait < time.Second {
		add("ack wait must be at least 1s, not %s", c.AckWait)
	}
	if c.StartTimeout < time.Second {
		add("start timeout must be at least 1s, not %s", c.StartTimeout)
	}
	if c.TrackingAckWait < time.Second {
		add("tracking ack wait must be at least 1s, not %s", c.TrackingAckWait)
	}
	if c.StateTTL < c.DuplicateWindow {
		add("state ttl (%s) must not be shorter than the duplicate window (%s)", c.StateTTL, c.DuplicateWindow)
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid queue config: %s", strings.Join(problems, "; "))
	}
	return nil
}

// checkURL describes what is wrong with one server URL, or returns "".
// The URL itself is left out of the description: it may hold a password.
func checkURL(raw string) string {
	if raw == "" {
		return "empty"
	}
	if !strings.Contains(raw, "://") {
		raw = "nats://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "does not parse"
	}
	switch u.Scheme {
	case "nats", "tls", "ws", "wss":
	default:
		return fmt.Sprintf("scheme %q is not nats, tls, ws or wss", u.Scheme)
	}
	if u.Hostname() == "" {
		return "has no host"
	}
	return ""
}

// checkPrefix describes what is wrong with a subject prefix, or returns "".
func checkPrefix(p string) string {
	if len(p) > 64 {
		return "longer than 64 characters"
	}
	for _, tok := range strings.Split(p, ".") {
		if tok == "" {
			return "has an empty token"
		}
		if strings.ContainsAny(tok, "*> \t\r\n") {
			return "contains a wildcard or whitespace"
		}
	}
	return ""
}

// names are the JetStream names derived from the prefix.
type names struct {
	commands, events, tracking string // streams
	state                      string // KV bucket
}

// Consumer names; they are the same for every prefix because each stream has
// its own.
const (
	commandConsumer  = "worker"
	trackingConsumer = "poller"
)

// namesFor derives the stream and bucket names from a prefix.
func namesFor(prefix string) names {
	p := []byte(strings.ToUpper(prefix))
	for i, ch := range p {
		if (ch < 'A' || ch > 'Z') && (ch < '0' || ch > '9') {
			p[i] = '_'
		}
	}
	s := string(p)
	return names{commands: s + "_COMMANDS", events: s + "_EVENTS", tracking: s + "_TRACKING", state: s + "_STATE"}
}
