package main

import (
	"slices"
	"strings"
	"time"

	"github.com/txworker/txworker/internal/app"
	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/poller"
	"github.com/txworker/txworker/queue"
	"github.com/txworker/txworker/worker"
)

// resolve turns the settings into an app.Config, naming every problem.
func resolve(v values) (app.Config, error) {
	var p problems
	insecure := v.boolean("allow-insecure-http", &p)
	sc := app.Config{
		Queue: queue.Config{
			URL:       v.str("nats-url"),
			CredsFile: v.str("nats-creds"),
			Token:     v.secret("nats-token", &p),
			TLSCA:     v.str("nats-tls-ca"),
			TLSCert:   v.str("nats-tls-cert"),
			TLSKey:    v.str("nats-tls-key"),
			Prefix:    v.str("subject-prefix"),
			Replicas:  v.integer("stream-replicas", 1, 5, &p),
			Provision: v.boolean("provision", &p),
			AckWait:   v.duration("ack-wait", &p),
			// The poller reads the tracking consumer's ack wait from the
			// server and keeps its messages alive every third of it.
			TrackingAckWait: v.duration("tracking-ack-wait", &p),
			Name:            "txworker",
		},
		HTTPAddr:        v.hostPort("http-addr", &p),
		Pprof:           v.boolean("pprof", &p),
		LogLevel:        v.str("log-level"),
		ShutdownTimeout: v.duration("shutdown-timeout", &p),
		MaxRetryAfter:   v.duration("max-retry-after", &p),
	}
	sc.Queue.StartTimeout = v.duration("start-timeout", &p)
	if err := sc.Queue.Validate(); err != nil {
		p.add("%v", err)
	}
	switch sc.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		p.add("TXWORKER_LOG_LEVEL: %q is not debug, info, warn or error", sc.LogLevel)
	}
	base := v.httpURL("platform-url", true, insecure, &p)
	tokenURL := v.httpURL("token-url", false, insecure, &p)
	if tokenURL == "" && base != "" {
		tokenURL = base + "/oauth2/token"
	}
	ua := v.str("user-agent")
	if ua == "" {
		p.add("TXWORKER_USER_AGENT must not be empty: the platform refuses requests without one")
	}
	rps := v.number("platform-rps", &p)
	timeout := v.duration("request-timeout", &p)
	var corastoneActions []string
	for _, a := range platform.Actions() {
		if a.Platform == platform.PlatformCorastone {
			corastoneActions = append(corastoneActions, a.Name)
		}
	}
	sc.Corastone = platform.CorastoneConfig{
		BaseURL: base, TokenURL: tokenURL,
		ClientID: v.str("client-id"), ClientSecret: v.secret("client-secret", &p),
		Actions: corastoneActions, Paths: actionPaths(v.str("action-paths"), &p),
		OmitProcessID: actionSet(v.str("omit-process-id"), &p),
		UserAgent:     ua, RPS: rps, RequestTimeout: timeout, MaxRetryAfter: sc.MaxRetryAfter,
	}
	if sc.Corastone.ClientID == "" {
		p.add("TXWORKER_CLIENT_ID is required")
	}
	if sc.Corastone.ClientSecret == "" {
		p.add("TXWORKER_CLIENT_SECRET or TXWORKER_CLIENT_SECRET_FILE is required")
	}
	if jmURL := v.httpURL("jm-url", false, insecure, &p); jmURL != "" {
		jm := &platform.JMConfig{
			BaseURL: jmURL, Username: v.str("jm-username"), Password: v.secret("jm-password", &p),
			TokenURL: v.httpURL("jm-token-url", false, insecure, &p), ClientID: v.str("jm-client-id"),
			ClientSecret: v.secret("jm-client-secret", &p), UserAgent: ua, RPS: rps, RequestTimeout: timeout,
			MaxRetryAfter: sc.MaxRetryAfter,
		}
		basic := jm.Username != "" || jm.Password != ""
		bearer := jm.TokenURL != "" || jm.ClientID != "" || jm.ClientSecret != ""
		switch {
		case basic && bearer:
			p.add("Journey Manager: set either TXWORKER_JM_USERNAME/PASSWORD or TXWORKER_JM_TOKEN_URL/CLIENT_ID/CLIENT_SECRET, not both")
		case !basic && !bearer:
			p.add("Journey Manager: TXWORKER_JM_URL needs TXWORKER_JM_USERNAME/PASSWORD or TXWORKER_JM_TOKEN_URL/CLIENT_ID/CLIENT_SECRET")
		case basic && (jm.Username == "" || jm.Password == ""):
			p.add("Journey Manager: HTTP Basic needs both TXWORKER_JM_USERNAME and TXWORKER_JM_PASSWORD")
		case bearer && (jm.TokenURL == "" || jm.ClientID == "" || jm.ClientSecret == ""):
			p.add("Journey Manager: OAuth2 needs TXWORKER_JM_TOKEN_URL, TXWORKER_JM_CLIENT_ID and TXWORKER_JM_CLIENT_SECRET")
		}
		sc.JM = jm
	}
	settle := v.duration("settle-timeout", &p)
	sc.Worker = worker.Config{
		Source:        v.str("event-source"),
		Concurrency:   v.integer("concurrency", 1, 4096, &p),
		SettleTimeout: settle,
		// SPEC §3: no deadline further ahead than the state's lifetime.
		MaxDeadlineAhead:    worker.MaxDeadlineAheadFor(stateTTL(sc.Queue)),
		MaxAttempts:         v.integer("max-attempts", 1, 100, &p),
		MaxPoisonDeliveries: v.integer("max-poison-deliveries", 1, 1000, &p),
		CallTimeout:         3*timeout + 2*time.Second,
		KeepAlive:           sc.Queue.AckWait / 3,
	}
	sc.Poller = poller.Config{
		Source:       sc.Worker.Source,
		Interval:     v.duration("poll-interval", &p),
		MaxInterval:  v.duration("poll-max-interval", &p),
		BackoffAfter: v.duration("poll-backoff-after", &p),
		Naive:        v.boolean("poll-naive", &p),
		MaxPause:     sc.MaxRetryAfter,
	}
	if sc.TrackingHints = v.str("tracking-hints"); !slices.Contains(app.TrackingHintsValues(), sc.TrackingHints) {
		p.add("TXWORKER_TRACKING_HINTS: %q is not \"\" or %q", sc.TrackingHints, app.HintsSequencer)
	}
	if sc.Poller.MaxInterval < sc.Poller.Interval {
		p.add("TXWORKER_POLL_MAX_INTERVAL (%s) is shorter than TXWORKER_POLL_INTERVAL (%s)", sc.Poller.MaxInterval, sc.Poller.Interval)
	}
	// Keep an idle connection for every request that can be in flight: the
	// worker's calls, the poller's requests and a token fetch.
	idle := sc.Worker.Concurrency + sc.Poller.MaxRequests() + 1
	sc.Corastone.MaxIdleConns = idle
	if sc.JM != nil {
		sc.JM.MaxIdleConns = sc.Worker.Concurrency + 1
	}
	if err := sc.Worker.Validate(); err != nil {
		p.add("%v", err)
	}
	if err := sc.Poller.Validate(); err != nil {
		p.add("%v", err)
	}
	return sc, p.err()
}

// actionPaths parses "action=/path,action=/path".
func actionPaths(raw string, p *problems) map[string]string {
	out := map[string]string{}
	for _, item := range splitList(raw) {
		name, path, ok := strings.Cut(item, "=")
		if _, known := platform.LookupAction(name); !ok || !known || !strings.HasPrefix(path, "/") {
			p.add("TXWORKER_ACTION_PATHS: %q is not action=/path with a known action", item)
			continue
		}
		out[name] = path
	}
	return out
}

func actionSet(raw string, p *problems) map[string]bool {
	out := map[string]bool{}
	for _, name := range splitList(raw) {
		if _, known := platform.LookupAction(name); !known {
			p.add("TXWORKER_OMIT_PROCESS_ID: %q is not an action", name)
			continue
		}
		out[name] = true
	}
	return out
}

func splitList(raw string) []string {
	var out []string
	for _, s := range strings.Split(raw, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// stateTTL is the claims' key-value TTL, default applied.
func stateTTL(q queue.Config) time.Duration {
	if q.StateTTL == 0 {
		return queue.DefaultStateTTL
	}
	return q.StateTTL
}
