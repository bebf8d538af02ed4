package chaos

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/txworker/txworker/internal/rig"
)

// chaosKind is what should become of a chaos command.
type chaosKind int

const (
	kindFresh    chaosKind = iota // fresh resources (AutoCreate): succeeded
	kindRefused                   // the platform refuses it: failed with wantCode
	kindRejected                  // invalid: rejected, never sent
)

// chaosCommand is one command of the chaos run and what it should end as.
type chaosCommand struct {
	rig.Command
	kind     chaosKind
	wantCode string // refused: the platform's code
}

// chaosRefusals are commands the simulator's seeded fixtures refuse every
// time, whatever else happens in the run.
var chaosRefusals = []struct{ action, params, code string }{
	{"revert-to-active", `{"securityId":"USS3JKS06I00","signer":{"email":"chaos@example.com","name":"Chaos"}}`, "IS0012"},
	{"cancel-offering", `{"securityId":"USS3JKS06I00"}`, "IS0010"},
	{"revert-to-active", `{"securityId":"USS3JKS09I00","signer":{"email":"chaos@example.com","name":"Chaos"}}`, "IS0031"},
	{"revert-to-active", `{"securityId":"USS3JKS08I00","signer":{"email":"chaos@example.com","name":"Chaos"}}`, "IS0099"},
	{"remove-service-provider", `{"transactionData":{"securityId":"USS3JKS01I00"},"orgId":"US9QIPO"}`, "SP0004"},
	{"reject-asset", `{"assetId":"US9QIMAOAS4Q","transactionData":{"securityId":"USS3JKS04I00"}}`, "AS0005"},
	{"cancel-txn", `{"submitKey":"25d071280b92c867f86975b9cd2e8765"}`, "txnAlreadyFinished"},
}

// chaosInvalid are invalid commands (%[1]q is the commandId where the body
// has one; the others are named by their Nats-Msg-Id).
var chaosInvalid = []struct{ action, body string }{
	{"cancel-offering", `{"commandId":%[1]q,"params":{"securityId":"USS3JKS02I00","force":true}}`},
	{"revert-to-active", `{"commandId":%[1]q,"processId":"c232ab00-9414-11ec-b3c8-9f6bdeced846","params":{"securityId":"USS3JKS01I00"}}`},
	{"reject-asset", `{"commandId":%[1]q,"params":{"assetId":"..","transactionData":{"securityId":"USS3JKS04I00"}}}`},
	{"cancel-txn", `{"commandId":%[1]q,"params":{"submitKey":"15d0\r\nX-Injected: 1"}}`},
	{"remove-service-provider", `{"params":{"transactionData":{"securityId":"USS3JKS01I00",`},
}

// feeder publishes the chaos commands at a steady rate and remembers what
// it published. Publishing retries through NATS restarts with the same
// Nats-Msg-Id, so a retry of a message the stream had stored is dropped
// as a duplicate (counted in dupAcks).
type feeder struct {
	r     *rig.Rig
	col   *rig.Collector
	gen   *rig.CommandGen
	runID string

	mu        sync.Mutex
	cmds      map[string]chaosCommand
	ids       []string
	messages  int // publish calls acknowledged (copies and duplicates included)
	dupAcks   int // acknowledgements with Duplicate set: dropped by Nats-Msg-Id
	sameID    int // deliberate re-publishes with the same Nats-Msg-Id
	copies    int // deliberate copies under another Nats-Msg-Id (same commandId)
	retries   int // publish attempts that failed and were retried
	intakeEnd time.Time
}

func newFeeder(r *rig.Rig, col *rig.Collector, run string) *feeder {
	return &feeder{r: r, col: col, gen: rig.NewCommandGen(run), runID: run, cmds: map[string]chaosCommand{}}
}

// next makes the i-th command: every 20th one the platform refuses, every
// 50th is invalid, the others name fresh resources of every action.
func (f *feeder) next(i int) chaosCommand {
	switch {
	case i%20 == 10:
		ref := chaosRefusals[(i/20)%len(chaosRefusals)]
		id := fmt.Sprintf("chaos-%s-ref-%d", f.runID, i)
		body := fmt.Sprintf(`{"commandId":%q,"params":%s}`, id, ref.params)
		return chaosCommand{Command: rig.Command{ID: id, Action: ref.action, Body: []byte(body)}, kind: kindRefused, wantCode: ref.code}
	case i%50 == 25:
		inv := chaosInvalid[(i/50)%len(chaosInvalid)]
		id := fmt.Sprintf("chaos-%s-inv-%d", f.runID, i)
		body := inv.body
		if len(body) > 0 && body[len(body)-1] == '}' {
			body = fmt.Sprintf(inv.body, id)
		}
		return chaosCommand{Command: rig.Command{ID: id, Action: inv.action, Body: []byte(body)}, kind: kindRejected}
	}
	return chaosCommand{Command: f.gen.Mixed(i, rig.AllActions()), kind: kindFresh}
}

// run publishes count commands, rate per second, until done or ctx ends.
func (f *feeder) run(ctx context.Context, count int, rate float64) error {
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	for i := range count {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		c := f.next(i)
		f.mu.Lock()
		f.cmds[c.ID] = c
		f.ids = append(f.ids, c.ID)
		f.mu.Unlock()
		f.col.Expect(c.ID, c.Action, time.Now())
		if err := f.publish(ctx, f.r.CommandMsg(c.Command)); err != nil {
			return err
		}
		if c.kind != kindFresh {
			continue
		}
		switch {
		case i%25 == 3: // the same message again: the stream drops it
			if err := f.publish(ctx, f.r.CommandMsg(c.Command)); err != nil {
				return err
			}
			f.mu.Lock()
			f.sameID++
			f.mu.Unlock()
		case i%40 == 7: // the same command under another Nats-Msg-Id: the worker drops it
			m := f.r.CommandMsg(c.Command)
			m.Header.Set(nats.MsgIdHdr, c.ID+"~copy")
			if err := f.publish(ctx, m); err != nil {
				return err
			}
			f.mu.Lock()
			f.copies++
			f.mu.Unlock()
		}
	}
	f.mu.Lock()
	f.intakeEnd = time.Now()
	f.mu.Unlock()
	return nil
}

// publish publishes m until the stream acknowledges it (NATS may be down
// for a while); a Duplicate acknowledgement is counted.
func (f *feeder) publish(ctx context.Context, m *nats.Msg) error {
	wait := 100 * time.Millisecond
	for {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ack, err := f.r.JS.PublishMsg(pctx, m)
		cancel()
		if err == nil {
			f.mu.Lock()
			f.messages++
			if ack.Duplicate {
				f.dupAcks++
			}
			f.mu.Unlock()
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("publish %s: %w", m.Header.Get(nats.MsgIdHdr), ctx.Err())
		}
		f.mu.Lock()
		f.retries++
		f.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// sent returns how many commands have been published.
func (f *feeder) sent() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.ids)
}
