package platform_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/txworker/txworker/platform"
	"github.com/txworker/txworker/platform/platformtest"
)

// Every client call against the in-process simulator of both platforms.

const simUA = "txworker-simtest/1.0"

// simClock is the simulator's clock: tests move it on instead of sleeping.
type simClock struct {
	base time.Time
	off  atomic.Int64
}

func newSimClock() *simClock                    { return &simClock{base: time.Now()} }
func (c *simClock) now() time.Time              { return c.base.Add(time.Duration(c.off.Load())) }
func (c *simClock) advance(d time.Duration)     { c.off.Add(int64(d)) }
func (c *simClock) config() platformtest.Config { return platformtest.Config{Now: c.now, Seed: 1} }

func startSim(t testing.TB, cfg platformtest.Config) *platformtest.Simulator {
	t.Helper()
	sim, err := platformtest.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	return sim
}

func simCorastoneConfig(sim *platformtest.Simulator) platform.CorastoneConfig {
	return platform.CorastoneConfig{
		BaseURL:      sim.URL(),
		ClientID:     "txworker",
		ClientSecret: "sandbox-secret",
		Actions:      []string{"cancel-offering", "revert-to-active", "remove-service-provider", "reject-asset"},
		UserAgent:    simUA,
	}
}

func simCorastone(t testing.TB, cfg platform.CorastoneConfig) *platform.Corastone {
	t.Helper()
	c, err := platform.NewCorastone(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func parse(t testing.TB, action, params string) *platform.Request {
	t.Helper()
	a, _ := platform.LookupAction(action)
	r, problems := a.Parse([]byte(params))
	if problems != nil {
		t.Fatalf("%s: %q", action, problems)
	}
	return r
}

const simSigner = `"signer":{"email":"jdoe@example.com","name":"John Doe"}`

func TestSimActionsSucceed(t *testing.T) {
	clock := newSimClock()
	sim := startSim(t, clock.config())
	c := simCorastone(t, simCorastoneConfig(sim))
	ctx := context.Background()
	tests := []struct {
		action, params, asset string
	}{
		{"cancel-offering", `{"securityId":"USS3JKS02I00"}`, ""},
		{"revert-to-active", `{` + simSigner + `,"securityCorrelationData":{"correlationId":"USS3JKS01I00","orgId":"US9QIMA"}}`, ""},
		{"remove-service-provider", `{"transactionData":{"securityId":"USS3JKS04I00",` + simSigner + `},"orgId":"US9QIMA"}`, ""},
		{"reject-asset", `{"assetId":"US9QIMAOAS3Q","transactionData":{"securityId":"USS3JKS05I00",` + simSigner + `},"rejectReason":{"reason":[{"message":"reject reason","category":"EC006"}]},"extraData":{"externalId":"123456789"}}`, "US9QIMAOAS3Q"},
		// A correlation id with / ? # % travels as one escaped path segment.
		{"reject-asset", `{"assetId":"lot/42?a=1#b%20","isAssetCorrelationId":true,"assetCorrelationOrgId":"US9QI","transactionData":{"securityId":"USS3JKS04I00"}}`, "US9QIMAOAS2Q"},
	}
	var pids []string
	for _, tt := range tests {
		pid := uuid.NewString()
		acc, err := c.Execute(ctx, parse(t, tt.action, tt.params), pid)
		if err != nil {
			t.Fatalf("%s: %v", tt.action, err)
		}
		if acc.OrchestrationID != pid || acc.ProcessID != pid || acc.AssetID != tt.asset || sim.Accepted(pid) != 1 {
			t.Errorf("%s: %+v, accepted %d", tt.action, acc, sim.Accepted(pid))
		}
		// The same processId again is answered with the original ids and starts nothing.
		again, err := c.Execute(ctx, parse(t, tt.action, tt.params), pid)
		if err != nil || again.OrchestrationID != pid || sim.Accepted(pid) != 1 {
			t.Errorf("%s repeated: %+v %v", tt.action, again, err)
		}
		pids = append(pids, pid)
	}
	clock.advance(time.Hour)
	orchs, err := c.Orchestrations(ctx, pids)
	if err != nil || len(orchs) != len(pids) {
		t.Fatalf("%d orchestrations: %v", len(orchs), err)
	}
	for _, o := range orchs {
		if o.Status != "success" || !o.Terminal() || o.Timestamp.IsZero() || o.ProcessIDs[0] != o.OrchestrationID {
			t.Errorf("orchestration %+v", o)
		}
	}
	if sec, _ := sim.Security("USS3JKS02I00"); sec.Status != platformtest.StatusCancelled {
		t.Errorf("security after cancel: %+v", sec)
	}
	if a, _ := sim.Asset("US9QIMAOAS2Q"); a.Status != platformtest.AssetRejected {
		t.Errorf("asset after reject: %+v", a)
	}
	for _, r := range sim.Requests() {
		if r.UserAgent != simUA || r.Status == 403 {
			t.Errorf("request %+v", r)
		}
		if r.Endpoint == "reject-asset" && strings.Contains(r.Path, "lot") && r.Path != "/external/v1/primary/asset/lot%2F42%3Fa=1%23b%2520/reject" {
			t.Errorf("escaped path %s", r.Path)
		}
	}
}

func TestSimDocumentedErrors(t *testing.T) {
	sim := startSim(t, newSimClock().config())
	c := simCorastone(t, simCorastoneConfig(sim))
	tests := []struct {
		action, params string
		status         int
		code           string
	}{
		{"cancel-offering", `{"securityId":"USS3JKS01I00"}`, 409, "IS0010"},
		{"cancel-offering", `{"securityId":"USS3JKS10I00"}`, 409, "IS0012"},
		{"cancel-offering", `{"securityId":"USS3JKS11I00"}`, 403, "IS0099"},
		{"revert-to-active", `{` + simSigner + `,"securityId":"USS3JKS06I00"}`, 409, "IS0012"},
		{"revert-to-active", `{` + simSigner + `,"securityId":"USS3JKS07I00"}`, 409, "IS0013"},
		{"revert-to-active", `{` + simSigner + `,"securityId":"USS3JKS08I00"}`, 403, "IS0099"},
		{"revert-to-active", `{` + simSigner + `,"securityId":"USS3JKS09I00"}`, 409, "IS0031"},
		{"revert-to-active", `{` + simSigner + `,"securityId":"USNOPE000000"}`, 404, "IS0009"},
		{"remove-service-provider", `{"transactionData":{"securityId":"USS3JKS01I00"},"orgId":"US9QIFA"}`, 409, "SP0005"},
		{"remove-service-provider", `{"transactionData":{"securityId":"USS3JKS01I00"},"orgId":"US9QIPO"}`, 409, "SP0004"},
		{"remove-service-provider", `{"transactionData":{"securityId":"USS3JKS01I00"},"orgId":"XX000"}`, 404, "OG0001"},
		{"remove-service-provider", `{"transactionData":{"securityId":"USS3JKS03I00"},"orgId":"US9QIMA"}`, 403, "IS0099"},
		{"reject-asset", `{"assetId":"US9QIMAOAS4Q","transactionData":{"securityId":"USS3JKS04I00"}}`, 409, "AS0005"},
		{"reject-asset", `{"assetId":"US9QIMAOAS1Q","transactionData":{"securityId":"USS3JKS01I00"}}`, 409, "IS0012"},
		{"reject-asset", `{"assetId":"US9QIMAOAS5Q","transactionData":{"securityId":"USS3JKS02I00"}}`, 409, "IS0013"},
		{"reject-asset", `{"assetId":"US9QIMAOAS9Z","transactionData":{"securityId":"USS3JKS04I00"}}`, 404, "IS0009"},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			_, err := c.Execute(context.Background(), parse(t, tt.action, tt.params), uuid.NewString())
			var e *platform.Error
			if !errors.As(err, &e) || e.HTTPStatus != tt.status || e.Code != tt.code || e.Verdict != platform.Permanent || e.Message == "" {
				t.Errorf("%s %s: %v", tt.action, tt.params, err)
			}
		})
	}
	if sim.AcceptedTotal() != 0 {
		t.Errorf("%d accepted", sim.AcceptedTotal())
	}
}

func TestSimScopeRefusal(t *testing.T) {
	cfg := newSimClock().config()
	cfg.Clients = map[string]platformtest.Client{
		"narrow": {Secret: "narrow-secret", Scopes: []string{"readTransactionData", "cancelOffering"}},
	}
	sim := startSim(t, cfg)
	ccfg := simCorastoneConfig(sim)
	ccfg.ClientID, ccfg.ClientSecret = "narrow", "narrow-secret"
	// The token asks for every enabled action's scope: the platform refuses the request.
	err := simCorastone(t, ccfg).Token(context.Background())
	var e *platform.Error
	if !errors.As(err, &e) || e.Endpoint != "token" || e.Code != "invalid_scope" || e.Verdict != platform.Permanent {
		t.Errorf("token: %v", err)
	}
	// A token without an endpoint's scope: 403 AU0002 (restrict needs restrictOffering).
	ccfg.Actions = []string{"cancel-offering"}
	ccfg.Paths = map[string]string{"cancel-offering": "/external/v1/security-admin/restrict"}
	c := simCorastone(t, ccfg)
	_, err = c.Execute(context.Background(), parse(t, "cancel-offering", `{"securityId":"USS3JKS04I00"}`), uuid.NewString())
	if !errors.As(err, &e) || e.HTTPStatus != 403 || e.Code != "AU0002" || e.Verdict != platform.Permanent {
		t.Errorf("AU0002: %v", err)
	}
	if got := strings.Join(c.Scopes(), " "); got != "cancelOffering readTransactionData" {
		t.Errorf("scopes %q", got)
	}
}

func TestSimTokenRefresh(t *testing.T) {
	clock := newSimClock()
	cfg := clock.config()
	cfg.TokenTTL = time.Hour
	sim := startSim(t, cfg)
	c := simCorastone(t, simCorastoneConfig(sim))
	ctx := context.Background()
	tokens := func() int { return sim.Count("POST", "/oauth2/token") }
	for range 3 {
		if _, err := c.Orchestrations(ctx, []string{uuid.NewString()}); err != nil {
			t.Fatal(err)
		}
	}
	if tokens() != 1 {
		t.Fatalf("%d token requests, want 1", tokens())
	}
	sim.RevokeTokens() // → AU0001, a new token, one retry
	if _, err := c.Orchestrations(ctx, []string{uuid.NewString()}); err != nil || tokens() != 2 {
		t.Fatalf("after revocation: %v, %d token requests", err, tokens())
	}
	clock.advance(2 * time.Hour) // expired by the platform's clock
	if _, err := c.Transactions(ctx, platform.TransactionFilter{ProcessIDs: []string{uuid.NewString()}}); err != nil || tokens() != 3 {
		t.Fatalf("after expiry: %v, %d token requests", err, tokens())
	}
	// Every token refused: one retry, then Permanent.
	sim.SetFaults(platformtest.Faults{RevokeRate: 1, Only: "transactions"})
	_, err := c.Orchestrations(ctx, []string{uuid.NewString()})
	var e *platform.Error
	if !errors.As(err, &e) || e.Code != "AU0001" || e.Verdict != platform.Permanent {
		t.Errorf("second 401: %v", err)
	}
}

func TestSimTransientFaults(t *testing.T) {
	sim := startSim(t, newSimClock().config())
	c := simCorastone(t, simCorastoneConfig(sim))
	ctx := context.Background()
	if err := c.Token(ctx); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		faults platformtest.Faults
		status int
		code   string
		retry  time.Duration
	}{
		{"429 Retry-After", platformtest.Faults{RateLimitRate: 1, RetryAfter: 3 * time.Second, Only: "transactions"}, 429, "", 3 * time.Second},
		{"429 Retry-After rounded up", platformtest.Faults{RateLimitRate: 1, RetryAfter: 1500 * time.Millisecond, Only: "transactions"}, 429, "", 2 * time.Second},
		{"malformed", platformtest.Faults{MalformedRate: 1, Only: "transactions"}, 200, platform.CodeMalformedResponse, 0},
		{"dropped", platformtest.Faults{DropRate: 1, Only: "transactions"}, 0, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim.SetFaults(tt.faults)
			_, err := c.Orchestrations(ctx, []string{uuid.NewString()})
			var e *platform.Error
			if !errors.As(err, &e) || e.Verdict != platform.Transient || e.HTTPStatus != tt.status || e.Code != tt.code || e.RetryAfter != tt.retry {
				t.Errorf("got %#v", err)
			}
		})
	}
	sim.SetFaults(platformtest.Faults{ErrorRate: 1, Only: "transactions"})
	for range 8 {
		_, err := c.Transactions(ctx, platform.TransactionFilter{ProcessIDs: []string{uuid.NewString()}})
		var e *platform.Error
		if !errors.As(err, &e) || e.Verdict != platform.Transient || e.HTTPStatus < 500 || e.HTTPStatus > 504 || e.HTTPStatus == 501 {
			t.Errorf("5xx: %v", err)
		}
	}

	// The action took effect but the answer was lost: the processId is found.
	sim.SetFaults(platformtest.Faults{DropAfterAcceptRate: 1, Only: "actions"})
	pid := uuid.NewString()
	_, err := c.Execute(ctx, parse(t, "cancel-offering", `{"securityId":"USS3JKS02I00"}`), pid)
	var e *platform.Error
	if !errors.As(err, &e) || e.Verdict != platform.Transient || e.HTTPStatus != 0 {
		t.Fatalf("dropped after accept: %v", err)
	}
	sim.SetFaults(platformtest.Faults{})
	orch, found, err := c.FindProcess(ctx, pid)
	if err != nil || !found || orch != pid {
		t.Errorf("FindProcess = %q %v %v", orch, found, err)
	}
	if _, found, err := c.FindProcess(ctx, uuid.NewString()); err != nil || found {
		t.Errorf("unknown processId found: %v %v", found, err)
	}
}

func TestSimBatching(t *testing.T) {
	cfg := newSimClock().config()
	cfg.AutoCreate = true
	sim := startSim(t, cfg)
	c := simCorastone(t, simCorastoneConfig(sim))
	ctx := context.Background()
	var pids []string
	for i := range 120 {
		pid := uuid.NewString()
		if _, err := c.Execute(ctx, parse(t, "cancel-offering", fmt.Sprintf(`{"securityId":"USAUTO%06d"}`, i)), pid); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	count := func(path string) int { return sim.Count("GET", path) }
	before := count("/external/v1/transactions/orchestrations")
	orchs, err := c.Orchestrations(ctx, pids)
	if err != nil || len(orchs) != 120 {
		t.Fatalf("%d orchestrations: %v", len(orchs), err)
	}
	if n := count("/external/v1/transactions/orchestrations") - before; n != 3 {
		t.Errorf("%d requests for 120 ids, want 3", n)
	}
	before = count("/external/v1/transactions")
	txs, err := c.Transactions(ctx, platform.TransactionFilter{ProcessIDs: pids})
	if err != nil || len(txs) != 120 {
		t.Fatalf("%d transactions: %v", len(txs), err)
	}
	if n := count("/external/v1/transactions") - before; n != 3 {
		t.Errorf("%d transactions requests for 120 process ids, want 3", n)
	}
	before = count("/external/v1/transactions")
	if _, err := c.Transactions(ctx, platform.TransactionFilter{OrchestrationIDs: pids[:25]}); err != nil {
		t.Fatal(err)
	}
	if n := count("/external/v1/transactions") - before; n < 3 {
		t.Errorf("%d transactions requests for 25 orchestration ids, want ≥ 3", n)
	}
}
