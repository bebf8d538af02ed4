package queue_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/txworker/txworker/internal/natstest"
	"github.com/txworker/txworker/queue"
)

var (
	received = time.Date(2026, 11, 21, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	accepted = time.Date(2026, 11, 21, 9, 0, 1, 500_000_000, time.UTC)
	settled  = time.Date(2026, 11, 21, 9, 3, 0, 0, time.UTC)
)

// failedClaim is a terminal claim with every field of a failed tracked action.
func failedClaim() *queue.Claim {
	return &queue.Claim{
		CommandID: "ord-7781-cancel", Action: "cancel-offering", Resource: "USS3JKS01I00",
		ProcessID: "2159457f-0167-4e93-a969-9cf0db05e0bf", OrchestrationID: "orch-1",
		State: queue.StateTerminal, Attempts: 1, Polls: 4,
		ReceivedAt: received, AcceptedAt: accepted, SettledAt: settled,
		Outcome: queue.OutcomeFailed, PlatformStatus: "failed",
		FailedProcessID: "p-2", FailedStatus: "failed",
		Error: &queue.ErrorInfo{Code: "IS0012", Message: "security not in state", HTTPStatus: 409},
		Trace: queue.Trace{Parent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", State: "k=v"},
	}
}

// TestEventJSONShape checks the CloudEvents fields of SPEC §4 by name.
func TestEventJSONShape(t *testing.T) {
	ev := queue.EventFromClaim("txworker-test", failedClaim())
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"specversion": "1.0", "id": "ord-7781-cancel:failed", "source": "txworker-test",
		"type": "txworker.cancel-offering.failed", "subject": "USS3JKS01I00",
		"time": "2026-11-21T09:03:00Z", "datacontenttype": "application/json",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	data := m["data"].(map[string]any)
	wantData := map[string]any{
		"commandId": "ord-7781-cancel", "action": "cancel-offering",
		"processId": "2159457f-0167-4e93-a969-9cf0db05e0bf", "orchestrationId": "orch-1",
		"outcome": "failed", "platformStatus": "failed", "failedProcessId": "p-2", "failedStatus": "failed",
		"attempts": 1.0, "polls": 4.0, "receivedAt": "2026-11-21T09:00:00Z",
		"acceptedAt": "2026-11-21T09:00:01.5Z", "settledAt": "2026-11-21T09:03:00Z",
		"error": map[string]any{"code": "IS0012", "message": "security not in state", "httpStatus": 409.0},
	}
	if !reflect.DeepEqual(data, wantData) {
		t.Errorf("data = %v\nwant   %v", data, wantData)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"data", "datacontenttype", "id", "source", "specversion", "subject", "time", "type"}; !slices.Equal(keys, want) {
		t.Errorf("keys = %v, want %v", keys, want)
	}
}

func TestEventFromClaimAccepted(t *testing.T) {
	cl := failedClaim()
	cl.State, cl.Outcome, cl.SettledAt, cl.PlatformStatus, cl.Error = queue.StateAccepted, "", time.Time{}, "", nil
	cl.FailedProcessID, cl.FailedStatus, cl.Polls = "", "", 0
	ev := queue.EventFromClaim("txworker", cl)
	if ev.ID != "ord-7781-cancel:accepted" || ev.Type != "txworker.cancel-offering.accepted" ||
		!ev.Time.Equal(accepted) || ev.Data.SettledAt != nil || ev.Data.Outcome != "accepted" {
		t.Errorf("accepted event = %+v", ev)
	}
	// Minimal rejected event: no times, attempts and polls still present.
	ev = queue.NewEvent("txworker", "", queue.EventData{CommandID: "c", Action: "x", Outcome: "rejected",
		Problems: []string{"params: unknown field"}}, received)
	raw, _ := json.Marshal(ev)
	const want = `{"specversion":"1.0","id":"c:rejected","source":"txworker","type":"txworker.x.rejected",` +
		`"time":"2026-11-21T09:00:00Z","datacontenttype":"application/json","data":{"commandId":"c",` +
		`"action":"x","outcome":"rejected","attempts":0,"polls":0,"problems":["params: unknown field"]}}`
	if string(raw) != want {
		t.Errorf("rejected event\n got %s\nwant %s", raw, want)
	}
}

func TestTraceCaseExact(t *testing.T) {
	h := nats.Header{}
	h["Traceparent"] = []string{"wrong-case"}
	h["TRACESTATE"] = []string{"wrong-case"}
	if got := queue.TraceFrom(h); got != (queue.Trace{}) {
		t.Errorf("TraceFrom(other case) = %+v, want empty", got)
	}
	h["traceparent"] = []string{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	h["tracestate"] = []string{"a=1,b=2"}
	tr := queue.TraceFrom(h)
	out := nats.Header{}
	tr.Apply(out)
	if len(out) != 2 || out["traceparent"][0] != h["traceparent"][0] || out["tracestate"][0] != "a=1,b=2" {
		t.Errorf("Apply wrote %v", out)
	}
	if got := queue.TraceFrom(nats.Header{"traceparent": {string(make([]byte, 4096))}}); got.Parent != "" {
		t.Error("an oversized traceparent was kept")
	}
}

// TestPublishEvent checks subject, headers as they arrive over NATS, body and
// dedupe.
func TestPublishEvent(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	b := provisioned(t, url, nil)
	ctx := testCtx(t)
	cl := failedClaim()
	ev := queue.EventFromClaim("txworker", cl)
	for i, wantDup := range []bool{false, true} {
		dup, err := b.PublishEvent(ctx, ev, cl.Trace)
		if err != nil || dup != wantDup {
			t.Fatalf("publish #%d: dup %v err %v, want dup %v", i+1, dup, err, wantDup)
		}
	}
	msgs := streamMsgs(t, b, "TXWORKER_EVENTS", "")
	if len(msgs) != 1 {
		t.Fatalf("%d events stored, want 1", len(msgs))
	}
	m := msgs[0]
	if m.Subject != "txworker.evt.cancel-offering.failed" {
		t.Errorf("subject %q", m.Subject)
	}
	h := m.Header
	for k, v := range map[string]string{
		"Nats-Msg-Id": "ord-7781-cancel:failed", "Content-Type": "application/cloudevents+json",
		"traceparent": cl.Trace.Parent, "tracestate": "k=v",
	} {
		if got := h[k]; len(got) != 1 || got[0] != v {
			t.Errorf("header %s = %v, want %q", k, got, v)
		}
	}
	var got queue.Event
	if err := json.Unmarshal(m.Data, &got); err != nil {
		t.Fatal(err)
	}
	if got.ID != ev.ID || !got.Time.Equal(ev.Time) || got.Data.Error.Code != "IS0012" {
		t.Errorf("stored event %+v", got)
	}
	if _, err := b.PublishEvent(ctx, queue.NewEvent("s", "", queue.EventData{CommandID: "c", Action: "a*", Outcome: "failed"}, time.Now()), queue.Trace{}); err == nil {
		t.Error("PublishEvent with a wildcard action: nil error")
	}
}

func TestPublishTrackDedupe(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	b := provisioned(t, url, nil)
	ctx := testCtx(t)
	tr := queue.Track{CommandID: "c-1", Action: "reject-asset", OrchestrationID: "o-1", AcceptedAt: accepted,
		Trace: queue.Trace{Parent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}
	for range 2 {
		if err := b.PublishTrack(ctx, tr); err != nil {
			t.Fatal(err)
		}
	}
	msgs := streamMsgs(t, b, "TXWORKER_TRACKING", "")
	if len(msgs) != 1 || msgs[0].Subject != "txworker.track.reject-asset" ||
		msgs[0].Header.Get("Nats-Msg-Id") != "c-1:track" || msgs[0].Header.Get("traceparent") != tr.Trace.Parent {
		t.Fatalf("tracking stream holds %d messages", len(msgs))
	}
	var got queue.Track
	if err := json.Unmarshal(msgs[0].Data, &got); err != nil || got.OrchestrationID != "o-1" || !got.AcceptedAt.Equal(accepted) {
		t.Errorf("track %+v, err %v", got, err)
	}
	if n, err := b.TrackingPending(ctx); err != nil || n != 1 {
		t.Errorf("TrackingPending = %d, %v", n, err)
	}
}

// TestPublishExpectsItsStream: events and tracking messages are published
// with the stream they belong to as the expected stream, so a stream of
// another name that has taken their subjects refuses them (API error 10060)
// instead of storing them.
func TestPublishExpectsItsStream(t *testing.T) {
	url := natstest.Start(t, natstest.Options{}).URL()
	b := provisioned(t, url, nil)
	ctx := testCtx(t)
	js := b.JetStream()
	for _, s := range []string{"TXWORKER_EVENTS", "TXWORKER_TRACKING"} {
		if err := js.DeleteStream(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	impostor, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "IMPOSTOR", Subjects: []string{"txworker.evt.>", "txworker.track.>"}})
	if err != nil {
		t.Fatal(err)
	}
	notMatch := func(what string, err error) {
		t.Helper()
		var apiErr *jetstream.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode != 10060 {
			t.Errorf("%s into another stream: %v, want API error 10060 (expected stream does not match)", what, err)
		}
	}
	_, err = b.PublishEvent(ctx, queue.EventFromClaim("txworker", failedClaim()), queue.Trace{})
	notMatch("PublishEvent", err)
	notMatch("PublishTrack", b.PublishTrack(ctx, queue.Track{CommandID: "c-1", Action: "reject-asset"}))
	info, err := impostor.Info(ctx)
	if err != nil || info.State.Msgs != 0 {
		t.Errorf("the other stream holds %d messages (%v), want 0", info.State.Msgs, err)
	}
}
