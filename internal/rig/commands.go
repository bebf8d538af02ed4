package rig

import (
	"fmt"
	"strconv"
	"sync/atomic"
)

// Command is one Command to publish: its commandId (also the Nats-Msg-Id),
// its action (the subject token) and its JSON body.
type Command struct {
	ID       string
	Action   string
	Resource string // the securityId, assetId or submitKey it names (the event subject)
	Body     []byte
}

// CorastoneActions are the tracked actions the generator knows, in the
// order Mixed rotates through them (a new slice each call).
func CorastoneActions() []string {
	return []string{"cancel-offering", "revert-to-active", "remove-service-provider", "reject-asset"}
}

// AllActions are CorastoneActions and cancel-txn.
func AllActions() []string { return append(CorastoneActions(), "cancel-txn") }

// CommandGen makes valid commands of every action, part of the rig
// (rig.go). Every command names fresh resources (security, asset, JM
// submitKey) so that no two commands contend for one entity; the
// simulator must run with Config.AutoCreate, which creates each unknown
// entity in the state its action needs, so every command succeeds unless
// the simulator's plan says otherwise. No processId is sent: the worker
// generates and persists one, as it would for most upstreams. Safe for
// concurrent use.
type CommandGen struct {
	run string // unique per run, so ids never collide across runs on one stream
	n   atomic.Uint64
}

// NewCommandGen returns a generator whose ids start with "load-{run}-".
func NewCommandGen(run string) *CommandGen { return &CommandGen{run: run} }

// Mixed returns the i-th command of a mix that rotates through actions
// (nil or empty: the four Corastone actions).
func (g *CommandGen) Mixed(i int, actions []string) Command {
	if len(actions) == 0 {
		actions = CorastoneActions()
	}
	return g.Next(actions[i%len(actions)])
}

// Next returns a new valid command of action. It panics on an unknown
// action (a programming error of the caller).
func (g *CommandGen) Next(action string) Command {
	n := g.n.Add(1)
	id := "load-" + g.run + "-" + strconv.FormatUint(n, 10)
	// Identifiers: upper-case letters and digits, unique per run and command.
	res := fmt.Sprintf("LD%s%08d", g.run, n)
	var body string
	resource := res
	switch action {
	case "cancel-offering":
		body = `{"commandId":"` + id + `","params":{"securityId":"` + res + `"}}`
	case "revert-to-active":
		body = `{"commandId":"` + id + `","params":{"securityId":"` + res + `",` +
			`"signer":{"email":"load@example.com","name":"Load Test"}}}`
	case "remove-service-provider":
		body = `{"commandId":"` + id + `","params":{"transactionData":{"securityId":"` + res + `",` +
			`"signer":{"email":"load@example.com","name":"Load Test"}},"orgId":"US9QIMA"}}`
	case "reject-asset":
		resource = "A" + res
		body = `{"commandId":"` + id + `","params":{"assetId":"` + resource + `","transactionData":{"securityId":"` + res + `"},` +
			`"rejectReason":{"reason":[{"message":"load test","category":"EC006"}],"extraData":{"externalId":"` + id + `"}}}}`
	case "cancel-txn":
		resource = fmt.Sprintf("%032x", n) + g.run
		body = `{"commandId":"` + id + `","params":{"submitKey":"` + resource + `","reason":"load test"}}`
	default:
		panic("commandGen: unknown action " + action)
	}
	return Command{ID: id, Action: action, Resource: resource, Body: []byte(body)}
}
