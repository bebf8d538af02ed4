package platformtest

import (
	"time"

	"go.uber.org/zap"
)

// Scopes the simulator knows. A client may hold any of them; the token endpoint refuses others.
const (
	scopeCancel   = "cancelOffering"
	scopeRevert   = "revertCompletedToActive"
	scopeRemoveSP = "manageServiceProviders"
	scopeReject   = "rejectSubscription"
	scopeRestrict = "restrictOffering"
	scopeRead     = "readTransactionData"
)

// AllScopes returns every OAuth2 scope the simulator checks, in a fixed order: the four
// action scopes, restrictOffering, readTransactionData and readSequencer. It returns a new slice
// each call.
func AllScopes() []string {
	return []string{scopeCancel, scopeRevert, scopeRemoveSP, scopeReject, scopeRestrict, scopeRead, scopeSequencer}
}

// Outcomes of an orchestration, as Plan.Outcome and OrchestrationView.Outcome spell them.
const (
	OutcomeSuccess = "success"
	OutcomeFailed  = "failed"
	OutcomeDLQ     = "dlq"
)

// Timestamp forms the simulator writes startDate, createdDate and timestamp in (Plan.TimestampForm).
// By default the form rotates per orchestration in this order, so four consecutive orchestrations
// show every form.
const (
	FormRFC3339       = "rfc3339"         // "2024-09-12T00:00:00.000Z"
	FormDate          = "date"            // "2024-09-12"
	FormEpochMillis   = "epoch-ms"        // 1726099200000 (JSON number)
	FormEpochMillisSt = "epoch-ms-string" // "1726099200000"
)

// Config configures a Simulator. The zero value is usable: every field has a default.
type Config struct {
	// Clients maps an OAuth2 clientId to its secret, scopes and organization.
	// Default: {"txworker": {Secret: "sandbox-secret", Scopes: AllScopes(), OrgID: "US9QI"}}.
	Clients map[string]Client
	// TokenTTL is the lifetime of issued access tokens (expires_in). Default 1h.
	TokenTTL time.Duration
	// JMUsers are the Journey Manager HTTP Basic users (name → password). Default
	// {"jm-user": "jm-pass"}. JM also accepts any live bearer token from the token endpoint.
	JMUsers map[string]string

	// StepDuration is the min/max duration of one orchestration step. Default 200ms..1s.
	StepDuration [2]time.Duration
	// Steps is the min/max number of steps of an orchestration. Default 1..3, at most 64.
	Steps [2]int
	// Queued is the min/max time an orchestration stays queued before its first step starts.
	// Zero value: 0..StepDuration[0]. A negative maximum: never queued.
	Queued [2]time.Duration
	// FailRate and DLQRate are the shares of orchestrations that end failed / dlq (default 0).
	FailRate, DLQRate float64
	// Plan, when set, decides an orchestration's course; nil (or a nil result) → random per the
	// fields above. It is called with the simulator's lock held: it must not call the Simulator.
	// action is the subject token ("cancel-offering", …, or "restrict-offering"), resource the
	// securityId or, for reject-asset, the platform assetId.
	Plan func(action, processID, resource string) *Plan

	// AutoCreate creates unknown securities, assets, organizations and JM transactions on first
	// use, in the state the action needs (for load and chaos runs with fresh ids).
	AutoCreate bool
	// NoDedupe simulates a platform that does not de-duplicate processIds: a repeated processId
	// is checked against the business rules again and, if they pass, counts as one more accepted
	// action (Accepted may then exceed 1). The answer still carries the original ids and no new
	// orchestration starts. Default false: a repeated processId returns the original ids, is not
	// counted and has no effect.
	NoDedupe bool
	// Seed seeds the simulator's random choices (plans, generated ids, faults); 0 → time-based.
	Seed int64
	// SequencerDrop, SequencerDelay, SequencerDuplicate and SequencerReorder are the shares in
	// [0,1] of Sequencer entries that are never published, published SequencerLate (default 1s)
	// after their timestamp, published twice, and swapped with the next entry (sequencer.go).
	SequencerDrop, SequencerDelay, SequencerDuplicate, SequencerReorder float64
	SequencerLate                                                       time.Duration
	// Faults are the faults injected from the start; SetFaults changes them later.
	Faults Faults
	// LogSize is how many requests Requests keeps (a ring of the latest). Default 10,000 (an
	// entry keeps its query string: a 50-id poll's is about 2 KB); negative: none kept. Count and
	// the accepted counters stay exact regardless.
	LogSize int
	// Now is the clock (orchestration progress, token expiry, timestamps). Default time.Now.
	Now func() time.Time
	// Logger receives the simulator's own logs; nil → zap.NewNop().
	Logger *zap.Logger
}

// Client is one OAuth2 client of the token endpoint.
type Client struct {
	Secret string
	// Scopes the client may request; nil → none. A request for any other scope gets 400 invalid_scope.
	Scopes []string
	// OrgID is the organization the client acts for: the orgId of its transactions and the default
	// assetCorrelationOrgId. Default "US9QI".
	OrgID string
}

// Plan fixes the course of one orchestration.
type Plan struct {
	// Queued is how long the orchestration stays queued before its first step starts.
	Queued time.Duration
	// Steps are the durations of the steps, run one after another. Empty → one step of zero length.
	Steps []time.Duration
	// Outcome is OutcomeSuccess (also ""), OutcomeFailed or OutcomeDLQ.
	Outcome string
	// FailStep is the 0-based index of the step that fails (failed/dlq only; clamped to the last step).
	FailStep int
	// TimestampForm is one of the Form… constants; "" → rotate per orchestration.
	TimestampForm string
}

// Faults are injected into requests. Rates are shares in [0,1]; they are exclusive (one draw per
// request decides at most one of them) so their sum should not exceed 1. Faults never corrupt
// state: a request answered with an error, a 429 or a pre-dropped connection had no effect.
type Faults struct {
	// Latency delays each request by Latency plus a uniform random share of LatencyJitter.
	Latency, LatencyJitter time.Duration
	// ErrorRate: share answered 500, 502, 503 or 504 (equally often) without effect.
	ErrorRate float64
	// RateLimitRate: share answered 429 with Retry-After (whole seconds, rounded up, at least 1)
	// of RetryAfter (default 1s), without effect.
	RateLimitRate float64
	RetryAfter    time.Duration
	// DropRate: share whose connection is closed without an answer before any effect.
	DropRate float64
	// DropAfterAcceptRate: share that is executed and then, if the answer would have been 2xx,
	// has its connection closed without an answer (the action took effect; look it up).
	DropAfterAcceptRate float64
	// MalformedRate: share that is executed and, if the answer would have been 2xx, answered
	// 200 with a body that is not the documented JSON (the request took effect).
	MalformedRate float64
	// RevokeRate: share of bearer-authenticated requests whose token is revoked first (→ AU0001,
	// or 401 on Journey Manager).
	RevokeRate float64
	// Only limits the faults (latency included) to some endpoints: "" → all; otherwise a
	// comma-separated list of groups — "actions" (the Corastone actions and restrict),
	// "transactions" (both Transactions API endpoints), "jm", "token" — or endpoint labels:
	// "cancel-offering", "revert-to-active", "remove-service-provider", "reject-asset",
	// "restrict-offering", "orchestrations", "cancel-txn", "jm-query". Unknown names match nothing.
	Only string
}

// withDefaults returns cfg with every default applied.
func (cfg Config) withDefaults() Config {
	if cfg.Clients == nil {
		cfg.Clients = map[string]Client{"txworker": {Secret: "sandbox-secret", Scopes: AllScopes(), OrgID: defaultOrg}}
	}
	clients := make(map[string]Client, len(cfg.Clients))
	for id, c := range cfg.Clients {
		if c.OrgID == "" {
			c.OrgID = defaultOrg
		}
		clients[id] = c
	}
	cfg.Clients = clients
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = time.Hour
	}
	if cfg.JMUsers == nil {
		cfg.JMUsers = map[string]string{"jm-user": "jm-pass"}
	}
	if cfg.StepDuration == [2]time.Duration{} {
		cfg.StepDuration = [2]time.Duration{200 * time.Millisecond, time.Second}
	}
	cfg.StepDuration[0] = max(cfg.StepDuration[0], 0)
	cfg.StepDuration[1] = max(cfg.StepDuration[1], cfg.StepDuration[0])
	if cfg.Steps == [2]int{} {
		cfg.Steps = [2]int{1, 3}
	}
	cfg.Steps[0] = min(max(cfg.Steps[0], 1), maxSteps)
	cfg.Steps[1] = min(max(cfg.Steps[1], cfg.Steps[0]), maxSteps)
	switch {
	case cfg.Queued[1] < 0:
		cfg.Queued = [2]time.Duration{}
	case cfg.Queued == [2]time.Duration{}:
		cfg.Queued = [2]time.Duration{0, cfg.StepDuration[0]}
	default:
		cfg.Queued[0] = max(cfg.Queued[0], 0)
		cfg.Queued[1] = max(cfg.Queued[1], cfg.Queued[0])
	}
	if cfg.LogSize == 0 {
		cfg.LogSize = 10_000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return cfg
}

const (
	maxSteps   = 64
	defaultOrg = "US9QI"
)
