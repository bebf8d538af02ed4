package platform

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

// Defaults of CorastoneConfig and JMConfig.
const (
	DefaultRequestTimeout = 10 * time.Second
	DefaultMaxBodyBytes   = 1 << 20
	DefaultMaxIdleConns   = 64
)

// readScope is the Transactions API's scope, always requested.
const readScope = "readTransactionData"

// CorastoneConfig configures the Corastone client.
type CorastoneConfig struct {
	BaseURL      string // required, http(s)://host[:port][/prefix], no credentials, query or fragment
	TokenURL     string // default BaseURL + "/oauth2/token"
	ClientID     string // required
	ClientSecret string // required; never logged
	// Actions are the enabled Corastone actions; the token asks for their scopes plus
	// readTransactionData (sorted, deduplicated) and Execute refuses the others.
	Actions       []string
	Paths         map[string]string // per-action path override ("{assetId}" exactly once for reject-asset)
	OmitProcessID map[string]bool   // per-action: leave processId out of the body
	UserAgent     string            // required; sent on every request, token requests included
	RPS           float64           // request rate cap (token bucket, burst max(1, RPS)); 0 = unlimited
	// RequestTimeout bounds each request (each token fetch too); default 10s.
	RequestTimeout time.Duration
	MaxBodyBytes   int64 // response body cap; default 1 MiB
	// MaxIdleConns is how many idle connections to the platform are kept for reuse; default
	// DefaultMaxIdleConns. Set it to the most requests in flight at once: a request that finds no
	// idle connection dials a new one (a TLS handshake in production), and one that finishes
	// while the pool is full closes its connection.
	MaxIdleConns int
	// MaxRetryAfter caps Error.RetryAfter (SPEC §6 TXWORKER_MAX_RETRY_AFTER): a longer Retry-After,
	// in seconds or as an HTTP-date, is reported as MaxRetryAfter. 0 means DefaultMaxRetryAfter
	// (5m); negative values are refused.
	MaxRetryAfter time.Duration
	Transport     http.RoundTripper // optional (tests); redirects are never followed off BaseURL's host
	// TracerProvider makes a client span of every request (token fetches too); nil: none, and
	// the transport is not wrapped.
	TracerProvider trace.TracerProvider
	// Sequencer enables Sequence (TXWORKER_TRACKING_HINTS=sequencer): only then does the token
	// ask for readSequencer too.
	Sequencer bool
}

// Validate names every problem of the configuration at once (errors.Join).
func (c CorastoneConfig) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf("corastone config: "+format, a...)) }
	for _, p := range CheckURL(c.BaseURL) {
		add("base url: %s", p)
	}
	if c.TokenURL != "" {
		for _, p := range CheckURL(c.TokenURL) {
			add("token url: %s", p)
		}
	}
	if c.ClientID == "" {
		add("client id is required")
	}
	if c.ClientSecret == "" {
		add("client secret is required")
	}
	for _, name := range c.Actions {
		if a, ok := LookupAction(name); !ok || a.Platform != PlatformCorastone {
			add("actions: %q is not a Corastone action", name)
		}
	}
	for name, p := range c.Paths {
		a, ok := LookupAction(name)
		switch {
		case !ok || a.Platform != PlatformCorastone:
			add("paths: %q is not a Corastone action", name)
		case !validPathTemplate(p, strings.Contains(a.Path, "{assetId}")):
			add("paths: %s: %q is not a valid path template (absolute, [A-Za-z0-9/._~-], {assetId} exactly where the action needs it)", name, p)
		}
	}
	for name := range c.OmitProcessID {
		if a, ok := LookupAction(name); !ok || a.Platform != PlatformCorastone {
			add("omit processId: %q is not a Corastone action", name)
		}
	}
	errs = append(errs, checkCommon("corastone config", c.UserAgent, c.RPS, c.RequestTimeout, c.MaxBodyBytes, c.MaxIdleConns, c.MaxRetryAfter)...)
	return errors.Join(errs...)
}

func checkCommon(prefix, userAgent string, rps float64, timeout time.Duration, maxBody int64, idle int, maxRetryAfter time.Duration) []error {
	var errs []error
	if userAgent == "" || hasControl(userAgent) {
		errs = append(errs, errors.New(prefix+": user agent is required (printable characters)"))
	}
	if rps < 0 || math.IsNaN(rps) || math.IsInf(rps, 0) {
		errs = append(errs, errors.New(prefix+": rps must be a finite number ≥ 0"))
	}
	if timeout < 0 {
		errs = append(errs, errors.New(prefix+": request timeout must be ≥ 0"))
	}
	if maxBody < 0 {
		errs = append(errs, errors.New(prefix+": max body bytes must be ≥ 0"))
	}
	if idle < 0 {
		errs = append(errs, errors.New(prefix+": max idle connections must be ≥ 0"))
	}
	if maxRetryAfter < 0 {
		errs = append(errs, errors.New(prefix+": max retry-after must be > 0 (0: the default, 5m)"))
	}
	return errs
}

// Corastone is the Corastone Integration API client: the four actions and the Transactions API
// over one OAuth2 client-credentials token. It is safe for concurrent use.
type Corastone struct {
	core
	cfg     CorastoneConfig
	base    *url.URL
	tokens  *tokenSource
	scopes  []string
	enabled map[string]bool
	gates   map[string]*gate // by API
}

// NewCorastone validates cfg, applies its defaults and builds the client. It sends nothing: call
// Token to check the credentials. A nil logger logs nothing; a nil obs observes nothing.
func NewCorastone(cfg CorastoneConfig, logger *zap.Logger, obs Observer) (*Corastone, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.TokenURL == "" {
		cfg.TokenURL = strings.TrimSuffix(cfg.BaseURL, "/") + "/oauth2/token"
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	logger = logger.Named("corastone")
	obs = observerOrNop(obs)
	base, _ := url.Parse(cfg.BaseURL)
	tokenURL, _ := url.Parse(cfg.TokenURL)
	c := &Corastone{cfg: cfg, base: base, enabled: map[string]bool{}}
	scopes := []string{readScope}
	for _, name := range cfg.Actions {
		a, _ := LookupAction(name)
		c.enabled[name] = true
		scopes = append(scopes, a.Scope)
	}
	if cfg.Sequencer {
		scopes = append(scopes, SequencerScope)
	}
	slices.Sort(scopes)
	c.scopes = slices.Compact(scopes)

	transport := cfg.Transport
	if transport == nil {
		transport = defaultTransport(cfg.MaxIdleConns)
	}
	rt := &instrumented{base: traced(transport, cfg.TracerProvider), platform: PlatformCorastone, userAgent: cfg.UserAgent, obs: obs}
	tokenClient := &http.Client{Transport: rt, Timeout: cfg.RequestTimeout, CheckRedirect: redirectPolicy(tokenURL)}
	c.tokens = newTokenSource(PlatformCorastone, cfg.TokenURL, cfg.ClientID, cfg.ClientSecret, c.scopes, tokenClient,
		cfg.RequestTimeout, obs, logger)
	scrub := newScrubber(cfg.ClientID, cfg.ClientSecret, c.tokens.held, cfg.MaxRetryAfter)
	c.tokens.scrub = scrub
	c.gates = newGates(PlatformCorastone, cfg.MaxRetryAfter, obs)
	c.tokens.gate = c.gates[APIToken]
	c.core = core{
		platform: PlatformCorastone,
		http:     &http.Client{Transport: rt, CheckRedirect: redirectPolicy(base)},
		limiter:  newLimiter(cfg.RPS),
		timeout:  cfg.RequestTimeout,
		maxBody:  cfg.MaxBodyBytes,
		auth:     c.tokens,
		scrub:    scrub,
		gates:    c.gateOf,
		obs:      obs,
		log:      logger,
	}
	return c, nil
}

// gateOf is the gate of an endpoint's API: the Transactions API's for orchestrations and
// transactions, the actions' for every other endpoint.
func (c *Corastone) gateOf(endpoint string) *gate {
	switch endpoint {
	case endpointOrchestrations, endpointTransactions:
		return c.gates[APITransactions]
	case endpointSequencer:
		return c.gates[APISequencer]
	}
	return c.gates[APIActions]
}

// Held reports how much longer this client holds every request to api (APIActions,
// APITransactions, APIToken, APISequencer) after a Retry-After, or the back-off after a 429 or 503 without one,
// and the *Error of the answer that started the hold; (0, nil) when requests go out (and for an
// unknown api). A request made meanwhile waits the hold out when its deadline allows, else fails
// at once without being sent (see ErrHeld).
func (c *Corastone) Held(api string) (time.Duration, *Error) {
	return c.gates[api].remaining()
}

// Scopes returns the scopes the token request asks for: the enabled actions' scopes and
// readTransactionData, sorted.
func (c *Corastone) Scopes() []string { return slices.Clone(c.scopes) }

// Token obtains a token (or reuses the cached one); a readiness check of the credentials and
// scopes. It fails with an *Error (endpoint "token").
func (c *Corastone) Token(ctx context.Context) error {
	_, err := c.tokens.get(ctx)
	return err
}

// Accepted is a Corastone action's 200 answer.
type Accepted struct {
	ProcessID       string // the platform's processId (the one sent, normally)
	OrchestrationID string // what the Transactions API tracks
	AssetID         string // reject-asset only
}

// Execute sends an action request with processID at the top level of its body (unless the
// action's OmitProcessID is set) and returns the platform's answer. Every failure is an *Error; a
// 401 AU0001 is retried once with a new token inside. A 200 is believed only when its
// orchestrationId passes ValidID and its processId, when present, is the one sent (passes ValidID
// when none was sent); otherwise it is a Transient MALFORMED_RESPONSE. A Transient error (no
// answer, malformed 2xx answer) leaves open whether the platform took the action: look processID
// up (FindProcess) before calling again. Requests for Journey Manager or for actions not enabled in the
// configuration are refused (Permanent) without sending anything.
func (c *Corastone) Execute(ctx context.Context, req *Request, processID string) (Accepted, error) {
	if req == nil || req.Action.spec == nil || req.Action.Platform != PlatformCorastone {
		return Accepted{}, &Error{Platform: PlatformCorastone, Endpoint: actionName(req), Message: "not a Corastone request", Verdict: Permanent}
	}
	name := req.Action.Name
	if !c.enabled[name] {
		return Accepted{}, &Error{Platform: PlatformCorastone, Endpoint: name, Message: "action not enabled in the configuration", Verdict: Permanent}
	}
	if c.cfg.OmitProcessID[name] {
		processID = ""
	} else if processID == "" || hasControl(processID) {
		return Accepted{}, &Error{Platform: PlatformCorastone, Endpoint: name, Message: "processId required", Verdict: Permanent}
	}
	path := req.Action.Path
	if p, ok := c.cfg.Paths[name]; ok {
		path = p
	}
	ans, err := c.call(ctx, name, req.Action.Method, req.target(c.base, path), req.bodyWith(processID))
	if err != nil {
		return Accepted{}, err
	}
	b, err := c.jsonBody(name, ans, '{')
	if err != nil {
		return Accepted{}, err
	}
	out, err := decodeActionReply(b)
	if err != nil {
		return Accepted{}, c.malformed(name, ans, err)
	}
	if err := believeReply(out, processID); err != nil {
		return Accepted{}, c.malformed(name, ans, err)
	}
	if out.ProcessID == "" {
		out.ProcessID = processID
	}
	return Accepted{ProcessID: out.ProcessID, OrchestrationID: out.OrchestrationID, AssetID: out.AssetID}, nil
}

func actionName(r *Request) string {
	if r == nil {
		return ""
	}
	return r.Action.Name
}

// believeReply says why an action's 200 answer cannot be believed, or nil: its orchestrationId must
// pass ValidID; its processId, when present, must be sent (exactly, not case-folded) or, when none
// was sent, pass ValidID.
func believeReply(r actionReply, sent string) error {
	if r.OrchestrationID == "" {
		return errors.New("orchestrationId missing")
	}
	if err := ValidID(r.OrchestrationID); err != nil {
		return errors.New("orchestrationId unusable: " + err.Error())
	}
	switch {
	case r.ProcessID == "":
	case sent != "" && r.ProcessID != sent:
		return errors.New("processId is not the one sent")
	case sent == "":
		if err := ValidID(r.ProcessID); err != nil {
			return errors.New("processId unusable: " + err.Error())
		}
	}
	return nil
}
