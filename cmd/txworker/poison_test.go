package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/txworker/txworker/platform/platformtest"
	"github.com/txworker/txworker/queue"
)

// poisonCommand is one command of the interleaved poison test.
type poisonCommand struct {
	subject string // after "txworker.cmd."
	body    string
	msgID   string // Nats-Msg-Id header, "" for none
	id      string // the commandId its events carry; derivedName: the derived one
	outcome string // the terminal outcome it must end in
	action  string // the event subject's action token
}

// poisonClasses builds the i-th poison command of each class (SPEC §3, §4,
// §8): values the worker cannot store, subjects it cannot answer on, bodies
// it cannot decode, and invalid ids.
func poisonClasses(i int) []poisonCommand {
	id := fmt.Sprintf("poison-%d", i)
	sec := `{"securityId":"USPOISON0001"}`
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	rej := func(subject, body, msgID, named, action string) poisonCommand {
		return poisonCommand{subject: subject, body: body, msgID: msgID, id: named, outcome: "rejected", action: action}
	}
	co := "cancel-offering"
	return []poisonCommand{
		rej(co, fmt.Sprintf(`{"commandId":%q,"deadline":"9999-12-31T23:59:59-23:59","params":%s}`, id+"-after9999", sec), "", id+"-after9999", co),
		rej(co, fmt.Sprintf(`{"commandId":%q,"deadline":"0001-01-01T00:00:00+23:59","params":%s}`, id+"-before0001", sec), "", id+"-before0001", co),
		rej(co, fmt.Sprintf(`{"commandId":%q,"deadline":"2100-01-01T00:00:00Z","params":%s}`, id+"-lifetime", sec), "", id+"-lifetime", co),
		rej("*", fmt.Sprintf(`{"commandId":%q,"params":%s}`, id+"-star", sec), "", id+"-star", "unknown"),
		rej(">", fmt.Sprintf(`{"commandId":%q,"params":%s}`, id+"-gt", sec), "", id+"-gt", "unknown"),
		rej(co+".succeeded", fmt.Sprintf(`{"commandId":%q,"params":%s}`, id+"-tokens", sec), "", id+"-tokens", "unknown"),
		rej("Cancel-Offering", fmt.Sprintf(`{"commandId":%q,"params":%s}`, id+"-case", sec), "", id+"-case", "unknown"),
		rej("delete-everything", fmt.Sprintf(`{"commandId":%q,"params":{}}`, id+"-action"), "", id+"-action", "unknown"),
		rej(co, fmt.Sprintf(`{"commandId":%q,"params":{"securityId":`, id+"-malformed"), "", id+"-malformed", co),
		rej(co, fmt.Sprintf(`{"commandId":%q,"params":%s}`, id+"-deep", deep), "", id+"-deep", co),
		rej(co, fmt.Sprintf(`{"commandId":%q,"params":{"securityId":"%s"}}`, id+"-large", strings.Repeat("L", 70<<10)), "", id+"-large", co),
		rej(co, fmt.Sprintf(`{"commandId":%q,"params":%s}`, "_"+id, sec), id+"-reserved", id+"-reserved", co),
		rej(co, fmt.Sprintf(`{"params":%s}`, sec), "_"+id, derivedName, co),
		rej(co, fmt.Sprintf(`{"commandId":%q,"params":{"securityId":"A","securityCorrelationData":{"correlationId":"B","orgId":"C"}}}`, id+"-params"), "", id+"-params", co),
	}
}

// SPEC §8 against poison: 5,000 poison commands of mixed classes
// interleaved with 500 valid ones all end in exactly one terminal event
// each, the poison ones "rejected" on a subject of checked tokens, every
// message delivered once, each rejection counted once, and the valid ones
// end as the platform decides within their normal time.
func TestPoisonInterleaved(t *testing.T) {
	const poisonN, validN = 5000, 500
	e := newTestEnv(t, platformtest.Config{})
	addr, logs, stop := e.startWorker(map[string]string{"TXWORKER_CONCURRENCY": "64", "TXWORKER_LOG_LEVEL": "info"})
	e.watch()

	var cmds []poisonCommand
	valid := map[string]bool{}
	for i := 0; len(cmds) < poisonN+validN; i++ {
		for _, p := range poisonClasses(i) {
			if countPoison(cmds) == poisonN {
				break
			}
			cmds = append(cmds, p)
			if countPoison(cmds)%10 == 0 && len(valid) < validN {
				v := validCommand(e, len(valid))
				valid[v.id] = true
				cmds = append(cmds, v)
			}
		}
	}
	if countPoison(cmds) != poisonN || len(valid) != validN {
		t.Fatalf("built %d poison and %d valid commands", countPoison(cmds), len(valid))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	futures := make([]jetstream.PubAckFuture, len(cmds))
	for i, c := range cmds {
		m := nats.NewMsg("txworker.cmd." + c.subject)
		m.Data = []byte(c.body)
		if c.msgID != "" {
			m.Header.Set(nats.MsgIdHdr, c.msgID)
		}
		f, err := e.js.PublishMsgAsync(m, jetstream.WithExpectStream("TXWORKER_COMMANDS"))
		if err != nil {
			t.Fatalf("publish #%d: %v", i, err)
		}
		futures[i] = f
	}
	select {
	case <-e.js.PublishAsyncComplete():
	case <-ctx.Done():
		t.Fatal("publishes not acknowledged")
	}
	created := streamCreated(t, e)
	for i, f := range futures {
		select {
		case ack := <-f.Ok():
			if cmds[i].id == derivedName {
				cmds[i].id = fmt.Sprintf("_seq.%d.%d", created.UnixNano(), ack.Sequence)
			}
		case err := <-f.Err():
			t.Fatalf("publish #%d: %v", i, err)
		}
	}

	e.waitFor(2*time.Minute, "a terminal event for every command", func() bool {
		for _, c := range cmds {
			if _, ok := e.terminalLocked(c.id); !ok {
				return false
			}
		}
		return true
	})
	accepted := validN / 2 // the cancel-offering half
	waitQueueIdle(t, e, len(cmds)+accepted)
	subjects := eventSubjects(t, e)

	bad := 0
	for _, c := range cmds {
		n := e.terminalCount(c.id)
		ev, _ := e.terminalLocked(c.id)
		wantSubject := "txworker.evt." + c.action + "." + c.outcome
		got := subjects[c.id+":"+c.outcome]
		ok := n == 1 && ev.Data.Outcome == c.outcome && len(got) == 1 && got[0] == wantSubject
		if ok && valid[c.id] {
			// Within their normal time: the simulator's steps take well
			// under a second; a valid command held up behind poison would
			// take far longer.
			if took := ev.Data.SettledAt.Sub(*ev.Data.ReceivedAt); took > 40*time.Second {
				t.Errorf("valid %s took %s from receipt to its end", c.id, took)
			}
		}
		if !ok {
			if bad++; bad <= 10 {
				t.Errorf("%s (subject %s): %d terminal events, outcome %q (error %+v), subjects %q; want one %s on %s",
					c.id, c.subject, n, ev.Data.Outcome, ev.Data.Error, got, c.outcome, wantSubject)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d commands did not end as they must", bad, len(cmds))
	}
	metrics := httpText(t, "http://"+addr+"/metrics")
	stop()
	if got := metricSum(metrics, "txworker_commands_rejected_total"); got != poisonN {
		t.Errorf("txworker_commands_rejected_total sums to %v, want %d: one per command", got, poisonN)
	}
	if strings.Contains(logs.String(), "panic") {
		t.Errorf("the worker logged a panic")
	}
}

func countPoison(cmds []poisonCommand) int {
	n := 0
	for _, c := range cmds {
		if c.outcome == "rejected" {
			n++
		}
	}
	return n
}

// validCommand returns the i-th valid command: even ones cancel a seeded
// offering (tracked, succeeded), odd ones cancel an unknown Journey Manager
// transaction (failed txnNotFound).
func validCommand(e *testEnv, i int) poisonCommand {
	id := fmt.Sprintf("valid-%d", i)
	if i%2 == 0 {
		sec := fmt.Sprintf("USVALID%05d", i)
		corastoneCases()[0].seed(e.sim, sec)
		return poisonCommand{subject: "cancel-offering", body: fmt.Sprintf(`{"commandId":%q,"params":{"securityId":%q}}`, id, sec),
			id: id, outcome: "succeeded", action: "cancel-offering"}
	}
	return poisonCommand{subject: "cancel-txn", body: fmt.Sprintf(`{"commandId":%q,"params":{"submitKey":"f%031d"}}`, id, i),
		id: id, outcome: "failed", action: "cancel-txn"}
}

func streamCreated(t *testing.T, e *testEnv) time.Time {
	t.Helper()
	s, err := e.js.Stream(context.Background(), "TXWORKER_COMMANDS")
	if err != nil {
		t.Fatal(err)
	}
	return s.CachedInfo().Created
}

// SPEC §3: id-less commands take _seq.{created unix ns}.{sequence}, which
// no producer id can equal (a producer's commandId "2" and the id-less
// command at sequence 2 both end) and which stays unique when the commands
// stream is deleted and re-created (sequences restart at 1, the claims of
// the old stream's commands are still in the state bucket): every id-less
// command on the new stream still ends in exactly one terminal event.
func TestDerivedIDsAcrossStreamRecreate(t *testing.T) {
	e := newTestEnv(t, platformtest.Config{})
	e.startWorker(nil)
	e.watch()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	idless := func(n int) []string {
		var ids []string
		created := streamCreated(t, e)
		for i := range n {
			ack, err := e.js.Publish(ctx, "txworker.cmd.cancel-txn",
				fmt.Appendf(nil, `{"params":{"submitKey":"e%031d"}}`, len(ids)+i))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, fmt.Sprintf("_seq.%d.%d", created.UnixNano(), ack.Sequence))
		}
		return ids
	}
	before := idless(4)
	// A producer's own id that equals an id-less command's sequence.
	e.publish("cancel-txn", `{"commandId":"2","params":{"submitKey":"f0000000000000000000000000000002"}}`, "")
	all := append(append([]string(nil), before...), "2")
	for _, id := range all {
		e.terminal(id, waitLong)
	}

	if err := e.js.DeleteStream(ctx, "TXWORKER_COMMANDS"); err != nil {
		t.Fatal(err)
	}
	// Re-create it as provisioning does (another replica, or the operator
	// re-applying deploy/): a new stream, sequences from 1.
	b, err := queue.Connect(ctx, queue.Config{URL: e.natsURL, Provision: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Drain() }()
	if err := b.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	after := idless(4)
	for i, id := range after {
		if id == before[i] {
			t.Fatalf("derived id %s repeats across the re-creation", id)
		}
	}
	all = append(all, after...)
	for _, id := range all {
		ev := e.terminal(id, waitLong)
		if ev.Data.Outcome != "failed" || ev.Data.Error == nil || ev.Data.Error.Code != "txnNotFound" {
			t.Errorf("%s: outcome %s error %+v, want failed txnNotFound", id, ev.Data.Outcome, ev.Data.Error)
		}
	}
	for _, id := range all {
		if n := e.terminalCount(id); n != 1 {
			t.Errorf("%s: %d terminal events, want 1", id, n)
		}
	}
}
