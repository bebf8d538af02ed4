package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/txworker/txworker/platform/platformtest"
)

const waitLong = 30 * time.Second

func TestE2EJourneyManagerCancel(t *testing.T) {
	e := newTestEnv(t, platformtest.Config{})
	e.startWorker(nil)
	e.watch()
	tests := []struct {
		name, submitKey, outcome, code, status string
	}{
		{"saved transaction is abandoned", "15d071280b92c867f86975b9cd2e8765", "succeeded", "", "Abandoned"},
		{"already abandoned counts as done", "35d071280b92c867f86975b9cd2e8765", "succeeded", "", "Abandoned"},
		{"completed cannot be cancelled", "25d071280b92c867f86975b9cd2e8765", "failed", "txnAlreadyFinished", "Completed"},
		{"unknown transaction", "f5d071280b92c867f86975b9cd2e8765", "failed", "txnNotFound", ""},
	}
	for i, tc := range tests {
		id := fmt.Sprintf("jm-%d", i)
		e.publish("cancel-txn", fmt.Sprintf(`{"commandId":%q,"params":{"submitKey":%q,"reason":"test"}}`, id, tc.submitKey), "")
		t.Run(tc.name, func(t *testing.T) {
			ev := e.terminal(id, waitLong)
			if ev.Data.Outcome != tc.outcome {
				t.Fatalf("outcome %s, want %s (error %+v)", ev.Data.Outcome, tc.outcome, ev.Data.Error)
			}
			if tc.code != "" && (ev.Data.Error == nil || ev.Data.Error.Code != tc.code) {
				t.Errorf("error %+v, want code %s", ev.Data.Error, tc.code)
			}
			if tc.status != "" && !strings.EqualFold(ev.Data.PlatformStatus, tc.status) {
				t.Errorf("platformStatus %q, want %q", ev.Data.PlatformStatus, tc.status)
			}
			if ev.Subject != tc.submitKey || ev.Type != "txworker.cancel-txn."+tc.outcome {
				t.Errorf("subject %q type %q", ev.Subject, ev.Type)
			}
			if got := e.terminalCount(id); got != 1 {
				t.Errorf("%d terminal events, want 1", got)
			}
		})
	}
}

// corastoneCase is one Corastone action with params valid on the simulator.
type corastoneCase struct {
	action, params string
	seed           func(sim *platformtest.Simulator, id string)
}

func corastoneCases() []corastoneCase {
	issuer := []string{"issuer"}
	return []corastoneCase{
		{action: "cancel-offering", params: `{"securityId":%q}`, seed: func(sim *platformtest.Simulator, id string) {
			sim.AddSecurity(platformtest.Security{ID: id, Status: "active", Restricted: true, Owner: "US9QI", Roles: issuer})
		}},
		{action: "revert-to-active", params: `{"securityId":%q,"signer":{"email":"jane@example.com","name":"Jane"}}`,
			seed: func(sim *platformtest.Simulator, id string) {
				sim.AddSecurity(platformtest.Security{ID: id, Status: "approved_revert_to_active", Owner: "US9QI", Roles: issuer})
			}},
		{action: "remove-service-provider", params: `{"transactionData":{"securityId":%q},"orgId":"US9QIMA"}`,
			seed: func(sim *platformtest.Simulator, id string) {
				sim.AddSecurity(platformtest.Security{ID: id, Status: "active", Owner: "US9QI", Roles: issuer, ServiceProviders: []string{"US9QIMA"}})
			}},
		{action: "reject-asset", params: `{"assetId":"A%s","transactionData":{"securityId":%[1]q},"rejectReason":{"reason":[{"message":"bad","category":"EC006"}]}}`,
			seed: func(sim *platformtest.Simulator, id string) {
				sim.AddSecurity(platformtest.Security{ID: id, Status: "active", Owner: "US9QI", Roles: issuer})
				sim.AddAsset(platformtest.Asset{ID: "A" + id, SecurityID: id, Status: "created"})
			}},
	}
}

func TestE2ECorastoneActionsAccepted(t *testing.T) {
	e := newTestEnv(t, platformtest.Config{})
	e.startWorker(nil)
	e.watch()
	for i, c := range corastoneCases() {
		for _, given := range []bool{true, false} {
			name := fmt.Sprintf("%s/processId given=%t", c.action, given)
			t.Run(name, func(t *testing.T) {
				sec := fmt.Sprintf("USE2E%02d%s", i, map[bool]string{true: "TTTT", false: "FFFF"}[given])
				c.seed(e.sim, sec)
				id := "acc-" + name
				pid := ""
				envelope := fmt.Sprintf(`{"commandId":%q,"params":%s}`, id, fmt.Sprintf(c.params, sec))
				if given {
					pid = uuid.NewString()
					envelope = fmt.Sprintf(`{"commandId":%q,"processId":%q,"params":%s}`, id, pid, fmt.Sprintf(c.params, sec))
				}
				e.publish(c.action, envelope, "")
				ev := e.terminal(id, waitLong)
				if ev.Data.Outcome != "succeeded" {
					t.Fatalf("outcome %s (error %+v)", ev.Data.Outcome, ev.Data.Error)
				}
				acc := e.eventsOf(id + ":accepted")
				if len(acc) != 1 {
					t.Fatalf("%d accepted events, want 1", len(acc))
				}
				got := acc[0].Data.ProcessID
				if given && got != pid {
					t.Errorf("processId %s, want the command's %s", got, pid)
				}
				if u, err := uuid.Parse(got); err != nil || u.Version() != 4 {
					t.Errorf("processId %q is not a v4 UUID", got)
				}
				if acc[0].Data.OrchestrationID == "" || ev.Data.OrchestrationID != acc[0].Data.OrchestrationID {
					t.Errorf("orchestrationId accepted %q, terminal %q", acc[0].Data.OrchestrationID, ev.Data.OrchestrationID)
				}
				if n := e.sim.Accepted(got); n != 1 {
					t.Errorf("simulator accepted processId %d times, want 1", n)
				}
				if ev.Data.SettledAt == nil || ev.Data.AcceptedAt == nil || ev.Data.ReceivedAt == nil || ev.Data.Polls < 1 {
					t.Errorf("event lacks times or polls: %+v", ev.Data)
				}
			})
		}
	}
}

func TestE2EPlatformRefusals(t *testing.T) {
	e := newTestEnv(t, platformtest.Config{})
	e.startWorker(nil)
	e.watch()
	signer := `"signer":{"email":"jane@example.com","name":"Jane"}`
	tests := []struct {
		name, action, params, code string
		status                     int
	}{
		{"revert from the wrong status", "revert-to-active", `{"securityId":"USS3JKS06I00",` + signer + `}`, "IS0012", 409},
		{"revert without the role", "revert-to-active", `{"securityId":"USS3JKS08I00",` + signer + `}`, "IS0099", 403},
		{"revert of a restricted security", "revert-to-active", `{"securityId":"USS3JKS07I00",` + signer + `}`, "IS0013", 409},
		{"revert of a contingent offering", "revert-to-active", `{"securityId":"USS3JKS09I00",` + signer + `}`, "IS0031", 409},
		{"revert of an unknown security", "revert-to-active", `{"securityId":"USNOSUCH0000",` + signer + `}`, "IS0009", 404},
		{"cancel of an unrestricted offering", "cancel-offering", `{"securityId":"USS3JKS06I00"}`, "IS0010", 409},
		{"remove a provider never assigned", "remove-service-provider", `{"transactionData":{"securityId":"USS3JKS01I00"},"orgId":"US9QIPO"}`, "SP0004", 409},
		{"remove a provider already removed", "remove-service-provider", `{"transactionData":{"securityId":"USS3JKS01I00"},"orgId":"US9QIFA"}`, "SP0005", 409},
		{"remove an unknown organization", "remove-service-provider", `{"transactionData":{"securityId":"USS3JKS01I00"},"orgId":"ZZ9ZZ"}`, "OG0001", 404},
		{"reject a settled asset", "reject-asset", `{"assetId":"US9QIMAOAS4Q","transactionData":{"securityId":"USS3JKS04I00"}}`, "AS0005", 409},
	}
	for i, tc := range tests {
		id := fmt.Sprintf("refusal-%d", i)
		e.publish(tc.action, fmt.Sprintf(`{"commandId":%q,"params":%s}`, id, tc.params), "")
		t.Run(tc.name, func(t *testing.T) {
			ev := e.terminal(id, waitLong)
			if ev.Data.Outcome != "failed" || ev.Data.Error == nil {
				t.Fatalf("outcome %s error %+v, want failed", ev.Data.Outcome, ev.Data.Error)
			}
			if ev.Data.Error.Code != tc.code || ev.Data.Error.HTTPStatus != tc.status {
				t.Errorf("error %+v, want code %s status %d", ev.Data.Error, tc.code, tc.status)
			}
			if ev.Data.Attempts != 1 {
				t.Errorf("attempts %d: a permanent refusal is not retried", ev.Data.Attempts)
			}
			if e.count(id+":accepted") != 0 {
				t.Errorf("a refused action was reported accepted")
			}
		})
	}
}

func TestE2ERejectedCommands(t *testing.T) {
	e := newTestEnv(t, platformtest.Config{})
	e.startWorker(nil)
	e.watch()
	huge := `{"commandId":"rej-huge","params":{"submitKey":"` + strings.Repeat("x", 1<<20-2048) + `"}}`
	v1 := "8a1c3b2e-2f3a-11ef-9a5d-0242ac120002"
	tests := []struct {
		name, action, body, msgID, id, mention string
	}{
		{"not JSON", "cancel-txn", `{"commandId": "rej-malformed", params: nope`, "rej-malformed", "rej-malformed", "JSON"},
		{"unknown action", "explode-offering", `{"commandId":"rej-unknown","params":{}}`, "", "rej-unknown", "explode-offering"},
		{"v1 processId", "cancel-offering", `{"commandId":"rej-v1","processId":"` + v1 + `","params":{"securityId":"USS3JKS02I00"}}`, "", "rej-v1", "v4"},
		{"both identifiers", "cancel-offering", `{"commandId":"rej-both","params":{"securityId":"USS3JKS02I00","securityCorrelationData":{"correlationId":"x","orgId":"US9QI"}}}`, "", "rej-both", "securityCorrelationData"},
		{"1 MiB body", "cancel-txn", huge, "", "rej-huge", "limit"},
	}
	for _, tc := range tests {
		e.publish(tc.action, tc.body, tc.msgID)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := e.terminal(tc.id, waitLong)
			if ev.Data.Outcome != "rejected" {
				t.Fatalf("outcome %s, want rejected", ev.Data.Outcome)
			}
			if ev.Data.Error == nil || ev.Data.Error.Code != "INVALID_COMMAND" || !strings.Contains(ev.Data.Error.Message, tc.mention) {
				t.Errorf("error %+v, want INVALID_COMMAND mentioning %q", ev.Data.Error, tc.mention)
			}
			if len(ev.Data.RawCommand) == 0 || len(ev.Data.RawCommand) > 4096 {
				t.Errorf("raw command kept: %d bytes, want 1..4096", len(ev.Data.RawCommand))
			}
		})
	}
	if n := e.sim.Count("PUT", "/external/v1/") + e.sim.Count("POST", "/workspaces/"); n != 0 {
		t.Errorf("%d platform action requests for invalid commands, want 0", n)
	}
	// No redelivery loop: every message has left the work queue.
	e.waitFor(waitLong, "an empty command stream", func() bool {
		s, err := e.js.Stream(context.Background(), "TXWORKER_COMMANDS")
		if err != nil {
			return false
		}
		info, err := s.Info(context.Background())
		return err == nil && info.State.Msgs == 0
	})
	for _, tc := range tests {
		if n := e.terminalCount(tc.id); n != 1 {
			t.Errorf("%s: %d terminal events, want 1", tc.id, n)
		}
	}
}

func TestE2ESameCommandThreeTimes(t *testing.T) {
	e := newTestEnv(t, platformtest.Config{})
	e.startWorker(nil)
	e.watch()
	body := `{"commandId":"dup-1","params":{"securityId":"USS3JKS02I00"}}`
	for i := 0; i < 3; i++ {
		e.publish("cancel-offering", body, fmt.Sprintf("distinct-%d", i)) // distinct ids: the stream keeps all three
	}
	ev := e.terminal("dup-1", waitLong)
	if ev.Data.Outcome != "succeeded" {
		t.Fatalf("outcome %s (%+v)", ev.Data.Outcome, ev.Data.Error)
	}
	e.waitFor(waitLong, "the duplicates to leave the stream", func() bool {
		s, err := e.js.Stream(context.Background(), "TXWORKER_COMMANDS")
		if err != nil {
			return false
		}
		info, err := s.Info(context.Background())
		return err == nil && info.State.Msgs == 0
	})
	if n := e.sim.Count("PUT", "/external/v1/security-admin/cancel"); n != 1 {
		t.Errorf("%d platform calls, want 1", n)
	}
	for _, o := range []string{"accepted", "succeeded"} {
		if n := e.count("dup-1:" + o); n != 1 {
			t.Errorf("%d %s events, want 1", n, o)
		}
	}
}

// The platform takes the action but the answer never arrives: the worker
// must find it through the Transactions API instead of sending it again.
func TestE2EAnswerLostAfterAccept(t *testing.T) {
	e := newTestEnv(t, platformtest.Config{Faults: platformtest.Faults{DropAfterAcceptRate: 1, Only: "actions"}})
	e.startWorker(map[string]string{"TXWORKER_REQUEST_TIMEOUT": "2s"})
	e.watch()
	pid := uuid.NewString()
	e.publish("cancel-offering", `{"commandId":"lost-1","processId":"`+pid+`","params":{"securityId":"USS3JKS02I00"}}`, "")
	ev := e.terminal("lost-1", waitLong)
	if ev.Data.Outcome != "succeeded" {
		t.Fatalf("outcome %s (%+v)", ev.Data.Outcome, ev.Data.Error)
	}
	if n := e.sim.Accepted(pid); n != 1 {
		t.Errorf("accepted %d times, want 1", n)
	}
	if n := e.sim.Count("PUT", "/external/v1/security-admin/cancel"); n != 1 {
		t.Errorf("%d action calls, want 1: the look-up should have found it", n)
	}
}
